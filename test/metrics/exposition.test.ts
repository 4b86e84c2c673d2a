// The text exposition format 0.0.4 as src/metrics/exposition.ts renders it, read back by a parser written here
// from the format's rules (https://prometheus.io/docs/instrumenting/exposition_formats/), not from the renderer:
// HELP and TYPE once per family and before its samples, label values escaped (\\, \", \n) and read back equal,
// histogram buckets cumulative with `+Inf` equal to `_count`, and NaN/±Inf spelled as Prometheus reads them.
// promtool (Prometheus's own parser and linter, from Debian's `prometheus`) checks the same text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { AgentMetrics } from '../../src/metrics/index.ts';
import { CONTENT_TYPE, Registry, escapeLabelValue, formatValue } from '../../src/metrics/exposition.ts';

const PROMTOOL = '/usr/bin/promtool';

function promtoolCheck(text: string): void {
  const version = spawnSync(PROMTOOL, ['--version'], { encoding: 'utf8' });
  assert.ok(!version.error && version.status === 0, `${PROMTOOL} is missing: run \`apt-get install -y prometheus\``);
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}\n${text}`);
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  help?: string;
  type?: string;
  samples: Sample[];
}

/** The value of a sample as Prometheus reads it (Go's ParseFloat: NaN, +Inf, -Inf, decimal or exponent). */
function parseValue(s: string): number {
  if (s === 'NaN') return Number.NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  assert.match(s, /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, `a number: ${s}`);
  return Number(s);
}

/** The families of an exposition text, checked against the format's rules as it is read. */
function parse(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the text ends with a line feed');
  const families = new Map<string, Family>();
  const familyOf = (sampleName: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = sampleName.slice(0, -suffix.length);
      if (sampleName.endsWith(suffix) && families.get(base)?.type === 'histogram') return base;
    }
    return sampleName;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      const f = families.get(name) ?? { samples: [] };
      families.set(name, f);
      assert.equal(f.samples.length, 0, `${kind} of ${name} comes before its samples`);
      if (kind === 'HELP') {
        assert.equal(f.help, undefined, `one HELP for ${name}`);
        f.help = rest.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      } else {
        assert.equal(f.type, undefined, `one TYPE for ${name}`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/);
        f.type = rest;
      }
      continue;
    }
    assert.ok(!line.startsWith('#'), `no other comment: ${line}`);
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    assert.ok(head?.[1], `a sample starts with a metric name: ${line}`);
    const name = head[1];
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const ln = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
        assert.ok(ln?.[1], `a label name and =" at ${i}: ${line}`);
        assert.ok(!(ln[1] in labels), `label ${ln[1]} once: ${line}`);
        i += ln[0].length;
        let value = '';
        for (;;) {
          const c = line[i++];
          assert.ok(c !== undefined, `the label value is closed: ${line}`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i++];
            assert.ok(e === '\\' || e === '"' || e === 'n', `only \\\\, \\" and \\n are escapes: ${line}`);
            value += e === 'n' ? '\n' : e;
          } else value += c;
        }
        labels[ln[1]] = value;
        if (line[i] === ',') i++;
        else assert.equal(line[i], '}', `a comma or } after a label: ${line}`);
      }
      i++;
    }
    assert.equal(line[i], ' ', `a space before the value: ${line}`);
    const value = parseValue(line.slice(i + 1));
    const f = families.get(familyOf(name));
    assert.ok(f?.type, `${name} has a TYPE line before it`);
    f.samples.push({ name, labels, value });
  }
  return families;
}

/** A histogram's series, by their labels without `le`, checked: cumulative buckets, +Inf last and equal to _count. */
function histogram(f: Family, name: string): Map<string, { buckets: Array<[number, number]>; sum: number; count: number }> {
  const out = new Map<string, { buckets: Array<[number, number]>; sum: number; count: number }>();
  const at = (labels: Record<string, string>) => {
    const key = JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
    const s = out.get(key) ?? { buckets: [], sum: Number.NaN, count: Number.NaN };
    out.set(key, s);
    return s;
  };
  for (const s of f.samples) {
    if (s.name === `${name}_bucket`) {
      assert.ok(s.labels.le !== undefined, 'a bucket has le');
      at(s.labels).buckets.push([parseValue(s.labels.le), s.value]);
    } else if (s.name === `${name}_sum`) at(s.labels).sum = s.value;
    else if (s.name === `${name}_count`) at(s.labels).count = s.value;
    else assert.fail(`a histogram's sample: ${s.name}`);
  }
  for (const s of out.values()) {
    for (let i = 1; i < s.buckets.length; i++) {
      const [lePrev = 0, prev = 0] = s.buckets[i - 1] ?? [];
      const [le = 0, v = 0] = s.buckets[i] ?? [];
      assert.ok(le > lePrev, 'buckets in increasing le');
      assert.ok(v >= prev, 'buckets are cumulative');
    }
    assert.deepEqual(s.buckets.at(-1), [Infinity, s.count], 'the last bucket is +Inf and holds _count');
    assert.ok(!Number.isNaN(s.sum), '_sum is there');
  }
  return out;
}

test('counters and gauges: HELP and TYPE, labels in order, escaped values read back equal', async () => {
  const r = new Registry();
  const plain = r.counter('t_plain_total', 'A counter; its help has a backslash \\ and a\nline feed.');
  const labeled = r.labeledCounter('t_labeled_total', 'By path and code.', ['path', 'code']);
  r.gauge('t_ratio', 'A ratio.', () => 2.5);
  r.gauge('t_failing', 'A gauge whose source throws.', () => {
    throw new Error('down');
  });
  r.gauge('t_unknown', 'A gauge whose source does not know.', () => Promise.resolve(undefined));
  r.gauge('t_inf', 'An infinite gauge.', () => -Infinity);

  // Before anything moves: an unlabeled counter is 0, a labeled one has no series yet.
  const fresh = parse(await r.text());
  assert.deepEqual(fresh.get('t_plain_total')?.samples, [{ name: 't_plain_total', labels: {}, value: 0 }]);
  assert.deepEqual(fresh.get('t_labeled_total')?.samples, []);

  const awkward = 'a\\b"c\nd}e,f=g';
  plain.inc();
  plain.inc(41);
  labeled.inc({ path: '/x', code: '200' });
  labeled.inc({ code: '200', path: '/x' }, 2);
  labeled.inc({ path: awkward, code: '500' });
  const text = await r.text();
  promtoolCheck(text);
  const f = parse(text);
  assert.equal(f.get('t_plain_total')?.help, 'A counter; its help has a backslash \\ and a\nline feed.');
  assert.equal(f.get('t_plain_total')?.type, 'counter');
  assert.deepEqual(f.get('t_plain_total')?.samples, [{ name: 't_plain_total', labels: {}, value: 42 }]);
  assert.deepEqual(f.get('t_labeled_total')?.samples, [
    { name: 't_labeled_total', labels: { path: '/x', code: '200' }, value: 3 },
    { name: 't_labeled_total', labels: { path: awkward, code: '500' }, value: 1 },
  ]);
  assert.equal(f.get('t_ratio')?.type, 'gauge');
  assert.deepEqual(f.get('t_ratio')?.samples.map((s) => s.value), [2.5]);
  assert.ok(Number.isNaN(f.get('t_failing')?.samples[0]?.value), 'a source that throws gives NaN');
  assert.ok(Number.isNaN(f.get('t_unknown')?.samples[0]?.value), 'a source without a value gives NaN');
  assert.deepEqual(f.get('t_inf')?.samples.map((s) => s.value), [-Infinity]);

  // The exact text: families in the order made, a blank line between them, labels in the order declared.
  assert.equal(
    text,
    [
      '# HELP t_plain_total A counter; its help has a backslash \\\\ and a\\nline feed.',
      '# TYPE t_plain_total counter',
      't_plain_total 42',
      '',
      '# HELP t_labeled_total By path and code.',
      '# TYPE t_labeled_total counter',
      't_labeled_total{path="/x",code="200"} 3',
      't_labeled_total{path="a\\\\b\\"c\\nd}e,f=g",code="500"} 1',
      '',
      '# HELP t_ratio A ratio.',
      '# TYPE t_ratio gauge',
      't_ratio 2.5',
      '',
      '# HELP t_failing A gauge whose source throws.',
      '# TYPE t_failing gauge',
      't_failing NaN',
      '',
      '# HELP t_unknown A gauge whose source does not know.',
      '# TYPE t_unknown gauge',
      't_unknown NaN',
      '',
      '# HELP t_inf An infinite gauge.',
      '# TYPE t_inf gauge',
      't_inf -Inf',
      '',
    ].join('\n'),
  );
});

test('histograms: cumulative buckets, an observation on a bound counts in it, +Inf is _count, per label set', async () => {
  const r = new Registry();
  const h = r.histogram('t_seconds', 'Durations.', [0.1, 1, 10], ['name']);
  const bare = r.histogram('t_bare', 'No labels.', [5], []);
  for (const v of [0.05, 0.1, 0.5, 1, 3, 100]) h.observe({ name: 'a' }, v);
  h.observe({ name: 'b"\n' }, 0);
  const text = await r.text();
  promtoolCheck(text);
  const f = parse(text);
  assert.equal(f.get('t_seconds')?.type, 'histogram');
  const series = histogram(f.get('t_seconds') ?? { samples: [] }, 't_seconds');
  assert.deepEqual([...series.values()], [
    { buckets: [[0.1, 2], [1, 4], [10, 5], [Infinity, 6]], sum: 0.05 + 0.1 + 0.5 + 1 + 3 + 100, count: 6 },
    { buckets: [[0.1, 1], [1, 1], [10, 1], [Infinity, 1]], sum: 0, count: 1 },
  ]);
  assert.deepEqual([...series.keys()], [JSON.stringify([['name', 'a']]), JSON.stringify([['name', 'b"\n']])]);
  assert.deepEqual(f.get('t_bare')?.samples, [], 'no series before the first observation');
  assert.match(text, /^t_seconds_bucket\{le="0\.1",name="a"\} 2$/m);
  assert.match(text, /^t_seconds_bucket\{le="\+Inf",name="b\\"\\n"\} 1$/m);
  assert.match(text, /^t_seconds_count\{name="a"\} 6$/m);

  bare.observe({}, 7);
  const series2 = histogram(parse(await r.text()).get('t_bare') ?? { samples: [] }, 't_bare');
  assert.deepEqual([...series2.values()], [{ buckets: [[5, 0], [Infinity, 1]], sum: 7, count: 1 }]);
  assert.match(await r.text(), /^t_bare_bucket\{le="5"\} 0\nt_bare_bucket\{le="\+Inf"\} 1\nt_bare_sum 7\nt_bare_count 1$/m);
});

test('numbers as Prometheus reads them, and escaping by the format', () => {
  assert.equal(formatValue(Number.NaN), 'NaN');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  for (const v of [0, 1, -2, 0.005, 1.5e-7, 2 ** 53, 1e21, 0.1 + 0.2]) assert.equal(parseValue(formatValue(v)), v, String(v));
  assert.equal(escapeLabelValue('plain'), 'plain');
  assert.equal(escapeLabelValue('\\'), '\\\\');
  assert.equal(escapeLabelValue('"'), '\\"');
  assert.equal(escapeLabelValue('\n'), '\\n');
  assert.equal(escapeLabelValue('\t\r'), '\t\r', 'only \\, " and the line feed are escaped');
});

test('what the format cannot hold is refused when it is made or moved', () => {
  const r = new Registry();
  const c = r.labeledCounter('t_total', 'x', ['a']);
  assert.throws(() => c.inc({ a: 'x' }, -1), TypeError, 'a counter never goes down');
  assert.throws(() => c.inc({ a: 'x' }, Number.NaN), TypeError);
  assert.throws(() => c.inc({ a: 'x' }, Infinity), TypeError);
  assert.throws(() => c.inc({} as { a: string }), TypeError, 'a missing label');
  assert.throws(() => c.inc({ a: 'x', b: 'y' } as { a: string }), TypeError, 'an undeclared label');
  assert.throws(() => r.counter('t_total', 'again'), TypeError, 'a name taken');
  assert.throws(() => r.counter('9bad', 'x'), TypeError, 'not a metric name');
  assert.throws(() => r.labeledCounter('t2', 'x', ['a-b']), TypeError, 'not a label name');
  assert.throws(() => r.labeledCounter('t3', 'x', ['__a']), TypeError, 'a reserved label name');
  assert.throws(() => r.labeledCounter('t4', 'x', ['a', 'a']), TypeError, 'a label twice');
  assert.throws(() => r.histogram('t5', 'x', [1, 1], []), TypeError, 'buckets not strictly increasing');
  assert.throws(() => r.histogram('t6', 'x', [1, Infinity], []), TypeError, '+Inf is implied, never given');
  assert.throws(() => r.histogram('t7', 'x', [], []), TypeError, 'no buckets');
  assert.throws(() => r.histogram('t8', 'x', [1], ['le']), TypeError, 'le is the buckets');
  const h = r.histogram('t9', 'x', [1], []);
  assert.throws(() => h.observe({}, Number.NaN), TypeError);
  c.inc({ a: 'x' }, 0);
  h.observe({}, -5);
});

test("the agent's metrics: every family, its content type, NaN for a source that fails, money as numbers", async () => {
  const m = new AgentMetrics({
    balanceSumMsat: () => 123_456_789n,
    openQuotes: () => 2,
    unconfirmedExposureSat: () => {
      throw new Error('the watcher is down');
    },
    watcherLagBlocks: () => Promise.resolve(undefined),
    diskFreeBytes: () => Promise.resolve(2n ** 40n),
  });
  assert.equal(m.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(CONTENT_TYPE, m.contentType);
  m.request('/f/:fileId', 'GET', 200);
  m.hostEvents.ingress(1000);
  m.hostEvents.egress(10);
  m.hostEvents.credited(5000n);
  m.hostEvents.reversed(7n);
  m.jobRun('watcher', 'ok', 0.02);
  m.jobRun('watcher', 'skipped', undefined);
  const text = await m.text();
  promtoolCheck(text);
  const f = parse(text);
  const types = Object.fromEntries([...f].map(([name, fam]) => [name, fam.type]));
  assert.deepEqual(types, {
    storj_http_requests_total: 'counter',
    storj_ingress_bytes_total: 'counter',
    storj_egress_bytes_total: 'counter',
    storj_payments_credited_total: 'counter',
    storj_payments_credited_sat_total: 'counter',
    storj_payments_reversed_total: 'counter',
    storj_payments_reversed_sat_total: 'counter',
    storj_job_runs_total: 'counter',
    storj_job_duration_seconds: 'histogram',
    storj_balance_msat: 'gauge',
    storj_open_quotes: 'gauge',
    storj_unconfirmed_exposure_sat: 'gauge',
    storj_watcher_lag_blocks: 'gauge',
    storj_disk_free_bytes: 'gauge',
  });
  const one = (name: string) => f.get(name)?.samples.map((s) => [s.labels, s.value]);
  assert.deepEqual(one('storj_http_requests_total'), [[{ route: '/f/:fileId', method: 'GET', status: '200' }, 1]]);
  assert.deepEqual(one('storj_ingress_bytes_total'), [[{}, 1000]]);
  assert.deepEqual(one('storj_payments_credited_sat_total'), [[{}, 5000]]);
  assert.deepEqual(one('storj_payments_reversed_total'), [[{}, 1]]);
  assert.deepEqual(one('storj_payments_reversed_sat_total'), [[{}, 7]]);
  assert.deepEqual(one('storj_job_runs_total'), [[{ name: 'watcher', outcome: 'ok' }, 1], [{ name: 'watcher', outcome: 'skipped' }, 1]]);
  const jobs = histogram(f.get('storj_job_duration_seconds') ?? { samples: [] }, 'storj_job_duration_seconds');
  assert.deepEqual([...jobs.values()].map((s) => [s.count, s.sum, s.buckets.map(([le]) => le)]), [[1, 0.02, [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120, 600, Infinity]]]);
  assert.deepEqual(one('storj_balance_msat'), [[{}, 123_456_789]]);
  assert.deepEqual(one('storj_open_quotes'), [[{}, 2]]);
  assert.deepEqual(one('storj_disk_free_bytes'), [[{}, 2 ** 40]]);
  assert.ok(Number.isNaN(one('storj_unconfirmed_exposure_sat')?.[0]?.[1]), 'a source that throws');
  assert.ok(Number.isNaN(one('storj_watcher_lag_blocks')?.[0]?.[1]), 'a source that does not know');
});

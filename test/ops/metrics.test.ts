// Prometheus metrics, read by a real Prometheus (Debian's `prometheus`) that the test starts with a generated
// config and a temp storage dir. It scrapes the agent every second twice over: on the separate listener
// (`metricsListen`, no token) and on the main listener with the admin token. `promtool check metrics` passes
// on the scraped text, and the counters Prometheus stores move with a paid upload and a download. Without
// the token the main listener answers 401.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawnCaptured, startTestAgent, tempDir, type Ctx } from '../helpers/agent.ts';
import { payAndConfirm, upload, type Quote } from '../helpers/paid.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const INSTALL = 'apt-get install -y prometheus';

function requireTool(path: string): void {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
  assert.ok(!r.error && r.status === 0, `${path} is missing or broken (${r.error?.message ?? `exit ${r.status}`}): run \`${INSTALL}\``);
}

/** Bounded polling: `check` is asked up to `attempts` times, 200 ms apart, until it returns a value. */
async function until<T>(what: string, check: () => Promise<T | undefined>, attempts = 300): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gave up waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const addr = s.address();
  await new Promise((r) => s.close(r));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

interface Prometheus {
  /** The value of an instant query that yields one sample (wrap it in sum()), undefined when it yields none. */
  value(query: string): Promise<number | undefined>;
  output(): string;
}

async function startPrometheus(t: Ctx, targets: { separate: string; main: string; token: string }): Promise<Prometheus> {
  const dir = tempDir(t, 'storj-ops-prom-');
  const port = await freePort();
  const config = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: storj
    static_configs:
      - targets: ['${targets.separate}']
  - job_name: storj-main
    authorization:
      type: Bearer
      credentials: '${targets.token}'
    static_configs:
      - targets: ['${targets.main}']
`;
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const { child, output } = spawnCaptured(t, PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {}, 'SIGTERM');
  const base = `http://127.0.0.1:${port}`;
  await until(`Prometheus to be ready:\n${output()}`, async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}:\n${output()}`);
    return (await fetch(`${base}/-/ready`)).status === 200 ? true : undefined;
  });
  return {
    output,
    async value(query) {
      const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await r.json()) as { status: string; data: { result: Array<{ value: [number, string] }> } };
      assert.equal(body.status, 'success', `query ${query}`);
      const sample = body.data.result[0];
      return sample ? Number(sample.value[1]) : undefined;
    },
  };
}

function promtoolCheck(text: string, where: string): void {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool check metrics on ${where}: ${r.stdout}${r.stderr}`);
}

test('a real Prometheus scrapes /metrics; promtool passes; the counters move with a paid upload and a download', async (t) => {
  requireTool(PROMETHEUS);
  requireTool(PROMTOOL);
  const a = await startTestAgent(t, { env: { STORJ_METRICS_LISTEN: '127.0.0.1:0' } });
  const token = a.config.adminToken;
  assert.ok(a.agent.metricsUrl, 'the separate metrics listener is up');
  const metricsUrl = a.agent.metricsUrl;

  // The main listener: the admin token or nothing.
  const none = await a.api<{ error: { code: string } }>('GET', '/metrics');
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'UNAUTHORIZED');
  assert.equal((await a.api('GET', '/metrics', undefined, { authorization: `Bearer ${token}x` })).status, 401);
  const main = await a.api('GET', '/metrics', undefined, { authorization: `Bearer ${token}` });
  assert.equal(main.status, 200);
  assert.match(main.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  // The separate listener: /metrics without a token, nothing else.
  const separate = await fetch(`${metricsUrl}/metrics`);
  assert.equal(separate.status, 200);
  const other = await fetch(`${metricsUrl}/v1/info`);
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');

  const prom = await startPrometheus(t, { separate: new URL(metricsUrl).host, main: new URL(a.agent.url).host, token });
  const value = (q: string) => prom.value(q);
  const both = ['storj', 'storj-main'];
  for (const job of both) await until(`job ${job} to be up (${prom.output()})`, async () => ((await value(`up{job="${job}"}`)) === 1 ? true : undefined));
  const before = {
    ingress: await until('a first scrape', () => value('sum(storj_ingress_bytes_total{job="storj"})')),
    egress: (await value('sum(storj_egress_bytes_total{job="storj"})')) ?? Number.NaN,
    credited: (await value('sum(storj_payments_credited_total{job="storj"})')) ?? Number.NaN,
    creditedSat: (await value('sum(storj_payments_credited_sat_total{job="storj"})')) ?? Number.NaN,
  };
  assert.deepEqual(before, { ingress: 0, egress: 0, credited: 0, creditedSat: 0 }, 'a fresh agent starts at zero');

  // A customer's paid upload and download.
  const bytes = randomBytes(150_000);
  const q = await a.api<Quote>('POST', '/v1/uploads', { size: bytes.length });
  assert.equal(q.status, 201, q.text);
  const openQuotes = (text: string) => Number(/^storj_open_quotes (\S+)$/m.exec(text)?.[1]);
  assert.equal(openQuotes(await a.agent.metrics.text()), 1, 'the quote is open');
  await payAndConfirm(a.api, [q.body]);
  const { fileId } = await upload(a.api, q.body, bytes);
  const get = await fetch(`${a.agent.url}/f/${fileId}`);
  assert.equal(get.status, 200);
  assert.equal((await get.arrayBuffer()).byteLength, bytes.length);

  // What Prometheus stored moves by exactly what happened, on both scrape jobs.
  for (const job of both) {
    const expect = async (query: string, want: number) => {
      const got = await until(`${query} == ${want} (last scrape)`, async () => {
        const v = await value(query);
        return v === want ? v : undefined;
      });
      assert.equal(got, want, query);
    };
    await expect(`sum(storj_ingress_bytes_total{job="${job}"})`, before.ingress + bytes.length);
    await expect(`sum(storj_egress_bytes_total{job="${job}"})`, before.egress + bytes.length);
    await expect(`sum(storj_payments_credited_total{job="${job}"})`, before.credited + 1);
    await expect(`sum(storj_payments_credited_sat_total{job="${job}"})`, before.creditedSat + q.body.amountSat);
    await expect(`sum(storj_http_requests_total{job="${job}",route="/f/:fileId",method="GET",status="200"})`, 1);
    await expect(`sum(storj_http_requests_total{job="${job}",route="/v1/uploads/:id",method="PUT",status="201"})`, 1);
    await expect(`sum(storj_open_quotes{job="${job}"})`, 0);
    await expect(`sum(storj_watcher_lag_blocks{job="${job}"})`, 0);
    // The watcher ran at start-up and once more above; its durations are observed as it runs.
    await until(`watcher runs in ${job}`, async () => ((await value(`sum(storj_job_runs_total{job="${job}",name="watcher",outcome="ok"})`)) ?? 0) >= 2 ? true : undefined);
    await until(`watcher durations in ${job}`, async () => ((await value(`sum(storj_job_duration_seconds_count{job="${job}",name="watcher"})`)) ?? 0) >= 2 ? true : undefined);
  }

  // The gauges read at scrape time, and the scraped text as promtool sees it, from both listeners.
  const mainText = (await a.api('GET', '/metrics', undefined, { authorization: `Bearer ${token}` })).text;
  const separateText = await (await fetch(`${metricsUrl}/metrics`)).text();
  promtoolCheck(mainText, 'the main listener');
  promtoolCheck(separateText, 'the separate listener');
  const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(separateText)?.[1]);
  assert.ok(sample('storj_balance_msat') > 0, 'the paid file has a balance');
  assert.ok(sample('storj_disk_free_bytes') > 0, 'free disk');
  assert.equal(sample('storj_unconfirmed_exposure_sat'), 0, 'the payment confirmed: nothing is exposed');
  assert.match(separateText, /^storj_job_runs_total\{name="watcher",outcome="ok"\} [1-9]/m);
  assert.match(separateText, /^storj_job_duration_seconds_count\{name="watcher"\} [1-9]/m);
  for (const secret of [fileId, q.body.id, q.body.uploadToken, token]) assert.ok(!separateText.includes(secret) && !mainText.includes(secret), 'no id or token in the metrics');
});

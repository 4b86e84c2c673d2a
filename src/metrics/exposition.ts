/**
 * Counters, gauges and histograms, and their rendering in Prometheus's text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). The agent needs only these three kinds, with
 * labels and fixed buckets; a library for them (prom-client, with @opentelemetry/api) cost about 10 MiB of an
 * idle agent's memory (docs/memory.md). Recording a value is an addition in a Map; the text is built only when
 * it is scraped.
 *
 * The text is the one prom-client gave for the same values, byte for byte, but for NaN, which prom-client wrote
 * `Nan` and this writes `NaN` as the format spells it: families in the order they were made, each with its HELP
 * and TYPE lines and separated by a blank line; series in the order they first moved; labels in the order of
 * their names, and a bucket's `le` first.
 */

/** The Content-Type of the text (the format's version 0.0.4). */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A metric's name ([a-zA-Z_:][a-zA-Z0-9_:]*) and a label's ([a-zA-Z_][a-zA-Z0-9_]*, `__` reserved). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A sample's value: a Go float as Prometheus parses it (`NaN`, `+Inf`, `-Inf`, or a JavaScript number's text). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** HELP text: a backslash and a line feed are escaped (`\\`, `\n`). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label's value: a backslash, a double quote and a line feed are escaped (`\\`, `\"`, `\n`). */
export function escapeLabelValue(value: string): string {
  return escapeHelp(value).replace(/"/g, '\\"');
}

/** `{a="1",b="2"}` for the pairs given, or nothing when there are none. */
function labelSet(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** A label set by name: one value per label name the metric declared. */
export type Labels<L extends string> = Readonly<Record<L, string>>;

/** The series of one metric, one per set of label values, in the order they were first seen. */
class Series<L extends string, V> {
  readonly #byKey = new Map<string, { values: readonly string[]; state: V }>();

  constructor(
    private readonly metric: string,
    readonly labelNames: readonly L[],
    private readonly fresh: () => V,
  ) {}

  /** The state of the series `labels` names, made on its first use. @throws TypeError when a label is missing, extra or not a string. */
  get(labels: Labels<L>): V {
    // Every HTTP response is counted through here, so the key is built by concatenation, each value prefixed with
    // its length (which keeps two label sets from sharing a key), not by JSON.
    let key = '';
    let strings = true;
    for (const n of this.labelNames) {
      const v = labels[n];
      if (typeof v !== 'string') strings = false;
      key += `${String(v).length}:${v}`;
    }
    if (!strings || Object.keys(labels).length !== this.labelNames.length)
      throw new TypeError(`${this.metric}: labels ${JSON.stringify(Object.keys(labels))}, expected ${JSON.stringify(this.labelNames)}`);
    let s = this.#byKey.get(key);
    if (!s) {
      s = { values: this.labelNames.map((n) => labels[n]), state: this.fresh() };
      this.#byKey.set(key, s);
    }
    return s.state;
  }

  /** Each series' label pairs (in the order of the names) and its state. */
  *entries(): Generator<[Array<[string, string]>, V]> {
    for (const { values, state } of this.#byKey.values()) yield [this.labelNames.map((n, i) => [n, values[i] ?? '']), state];
  }
}

interface Family {
  /** The family's lines, HELP and TYPE first. */
  lines(): string[] | Promise<string[]>;
}

function header(name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

/** @throws TypeError when the increment is negative or not finite (a counter only goes up). */
function checkIncrement(name: string, by: number): void {
  if (!Number.isFinite(by) || by < 0) throw new TypeError(`${name}: a counter cannot move by ${by}`);
}

/** A counter without labels. */
export class Counter implements Family {
  #value = 0;
  constructor(
    private readonly name: string,
    private readonly help: string,
  ) {}

  /** @throws TypeError when `by` is negative or not finite. */
  inc(by = 1): void {
    checkIncrement(this.name, by);
    this.#value += by;
  }

  lines(): string[] {
    return [...header(this.name, this.help, 'counter'), `${this.name} ${formatValue(this.#value)}`];
  }
}

/** A counter with labels: a series appears at its first increment. */
export class LabeledCounter<L extends string> implements Family {
  readonly #series: Series<L, { value: number }>;
  constructor(
    private readonly name: string,
    private readonly help: string,
    labelNames: readonly L[],
  ) {
    this.#series = new Series(name, labelNames, () => ({ value: 0 }));
  }

  /** @throws TypeError when `by` is negative or not finite, or the labels are not the declared ones. */
  inc(labels: Labels<L>, by = 1): void {
    checkIncrement(this.name, by);
    this.#series.get(labels).value += by;
  }

  lines(): string[] {
    const out = header(this.name, this.help, 'counter');
    for (const [pairs, s] of this.#series.entries()) out.push(`${this.name}${labelSet(pairs)} ${formatValue(s.value)}`);
    return out;
  }
}

/** A gauge without labels, read when it is scraped; a read that fails or gives undefined is NaN. */
class Gauge implements Family {
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly read: () => Promise<number | undefined> | number | undefined,
  ) {}

  async lines(): Promise<string[]> {
    let value: number | undefined;
    try {
      value = await this.read();
    } catch {
      value = undefined;
    }
    return [...header(this.name, this.help, 'gauge'), `${this.name} ${formatValue(value ?? Number.NaN)}`];
  }
}

interface HistogramState {
  /** Observations in each bucket alone (not cumulative), one per upper bound. */
  counts: number[];
  sum: number;
  count: number;
}

/** A histogram with fixed buckets: `_bucket{le}` (cumulative, `+Inf` last), `_sum` and `_count` per label set. */
export class Histogram<L extends string> implements Family {
  readonly #series: Series<L, HistogramState>;
  readonly #bounds: readonly number[];

  /** @throws TypeError when the buckets are not finite and strictly increasing, or a label is named `le`. */
  constructor(
    private readonly name: string,
    private readonly help: string,
    buckets: readonly number[],
    labelNames: readonly L[],
  ) {
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] ?? b))))
      throw new TypeError(`${name}: buckets must be finite and strictly increasing: ${JSON.stringify(buckets)}`);
    if (labelNames.some((n) => n === 'le')) throw new TypeError(`${name}: le is the buckets' label`);
    this.#bounds = [...buckets];
    this.#series = new Series(name, labelNames, () => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }

  /** @throws TypeError when `value` is not finite, or the labels are not the declared ones. */
  observe(labels: Labels<L>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: cannot observe ${value}`);
    const s = this.#series.get(labels);
    const i = this.#bounds.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count += 1;
  }

  lines(): string[] {
    const out = header(this.name, this.help, 'histogram');
    for (const [pairs, s] of this.#series.entries()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += s.counts[i] ?? 0;
        out.push(`${this.name}_bucket${labelSet([['le', formatValue(bound)], ...pairs])} ${formatValue(cumulative)}`);
      });
      out.push(`${this.name}_bucket${labelSet([['le', '+Inf'], ...pairs])} ${formatValue(s.count)}`);
      out.push(`${this.name}_sum${labelSet(pairs)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${labelSet(pairs)} ${formatValue(s.count)}`);
    }
    return out;
  }
}

/** The metrics of one agent, rendered together. Each name may be made once. */
export class Registry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();

  /** @throws TypeError when a name is not a metric name or is taken, or a label name is not a label name. */
  #add<F extends Family>(name: string, labelNames: readonly string[], family: F): F {
    if (!METRIC_NAME.test(name)) throw new TypeError(`not a metric name: ${JSON.stringify(name)}`);
    if (this.#names.has(name)) throw new TypeError(`a metric named ${name} exists`);
    for (const l of labelNames) if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new TypeError(`${name}: not a label name: ${JSON.stringify(l)}`);
    if (new Set(labelNames).size !== labelNames.length) throw new TypeError(`${name}: a label is named twice`);
    this.#names.add(name);
    this.#families.push(family);
    return family;
  }

  counter(name: string, help: string): Counter {
    return this.#add(name, [], new Counter(name, help));
  }

  labeledCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): LabeledCounter<L> {
    return this.#add(name, labelNames, new LabeledCounter(name, help, labelNames));
  }

  /** A gauge read by `read` at each scrape (all of a scrape's gauges at once). */
  gauge(name: string, help: string, read: () => Promise<number | undefined> | number | undefined): void {
    this.#add(name, [], new Gauge(name, help, read));
  }

  histogram<L extends string>(name: string, help: string, buckets: readonly number[], labelNames: readonly L[]): Histogram<L> {
    return this.#add(name, labelNames, new Histogram(name, help, buckets, labelNames));
  }

  /** The exposition text of every metric, in the order they were made. */
  async text(): Promise<string> {
    const families = await Promise.all(this.#families.map(async (f) => f.lines()));
    return `${families.map((lines) => lines.join('\n')).join('\n\n')}\n`;
  }
}

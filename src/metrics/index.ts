/**
 * The agent's Prometheus metrics. The registry is the agent's own (src/metrics/exposition.ts, which renders the
 * text format), so two agents in one process (the tests) never share a counter.
 *
 * Counters move as things happen: the HTTP server reports each response, the host reports bytes and
 * payments (HostEvents), the scheduler reports each job run. Gauges are read at scrape time from `sources`,
 * each one cheap (one SQL aggregate, one statfs, one request for the chain's tip), so a scrape costs the
 * same whether it comes every second or every minute. A source that fails gives NaN for its gauge rather
 * than failing the whole scrape.
 *
 * Names follow Prometheus's conventions (https://prometheus.io/docs/practices/naming/): a `storj_` prefix,
 * base units (bytes, seconds), `_total` on counters. Amounts of money are in sat or msat as in the API;
 * they are floats here (the exposition format has no other number), exact up to 2^53 (90 million BTC in sat).
 * Only these metrics are exposed: no process_* or nodejs_* ones.
 */
import { CONTENT_TYPE, Registry, type Counter, type Histogram, type LabeledCounter } from './exposition.ts';

/** What the gauges read at scrape time. */
export interface MetricSources {
  /** The sum of every file's balance that is not deleted (msat). */
  balanceSumMsat(): bigint;
  /** Quotes still waiting for their bytes and not expired. */
  openQuotes(): number;
  /** Unconfirmed payments the confirmation policy counts now: what a double spend could take back (sat). */
  unconfirmedExposureSat(): bigint;
  /** The chain's tip minus the last block the payment watcher applied; undefined when either is unknown. */
  watcherLagBlocks(): Promise<number | undefined>;
  /** Bytes the agent can still write where it keeps the files. */
  diskFreeBytes(): Promise<bigint>;
}

/** Buckets for job durations: the watcher takes milliseconds, a sweep over a million files seconds. */
const JOB_SECONDS_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120, 600];

export class AgentMetrics {
  readonly #registry = new Registry();
  readonly #requests: LabeledCounter<'route' | 'method' | 'status'>;
  readonly #ingress: Counter;
  readonly #egress: Counter;
  readonly #credited: Counter;
  readonly #creditedSat: Counter;
  readonly #reversed: Counter;
  readonly #reversedSat: Counter;
  readonly #jobRuns: LabeledCounter<'name' | 'outcome'>;
  readonly #jobSeconds: Histogram<'name'>;

  constructor(sources: MetricSources) {
    const r = this.#registry;
    this.#requests = r.labeledCounter('storj_http_requests_total', 'HTTP responses by route pattern (never a raw URL), method and status.', ['route', 'method', 'status']);
    this.#ingress = r.counter('storj_ingress_bytes_total', 'Bytes of upload bodies stored (completed uploads).');
    this.#egress = r.counter('storj_egress_bytes_total', 'Bytes of files sent to downloaders (what they are charged for).');
    this.#credited = r.counter('storj_payments_credited_total', "Payments credited to files' balances.");
    this.#creditedSat = r.counter('storj_payments_credited_sat_total', "Satoshis credited to files' balances.");
    this.#reversed = r.counter('storj_payments_reversed_total', 'Credited payments reversed (double spent or reorganised away).');
    this.#reversedSat = r.counter('storj_payments_reversed_sat_total', 'Satoshis of credited payments reversed.');
    // The job's label is `name`: Prometheus sets `job` on every series itself (the scrape job).
    this.#jobRuns = r.labeledCounter('storj_job_runs_total', 'Scheduled job runs by job name and outcome (ok, failed, skipped).', ['name', 'outcome']);
    this.#jobSeconds = r.histogram('storj_job_duration_seconds', 'Duration of scheduled job runs that started (ok or failed).', JOB_SECONDS_BUCKETS, ['name']);

    r.gauge('storj_balance_msat', "The sum of every file's prepaid balance, deleted files excepted (msat).", () => Number(sources.balanceSumMsat()));
    r.gauge('storj_open_quotes', 'Quotes waiting for their bytes and not expired.', () => sources.openQuotes());
    r.gauge('storj_unconfirmed_exposure_sat', 'Unconfirmed payments counted now: the most a double spend could take back (sat).', () => Number(sources.unconfirmedExposureSat()));
    r.gauge('storj_watcher_lag_blocks', "The chain's tip minus the last block the payment watcher applied (NaN when the chain does not answer).", () => sources.watcherLagBlocks());
    r.gauge('storj_disk_free_bytes', 'Bytes the agent can still write on the filesystem that holds the files.', async () => Number(await sources.diskFreeBytes()));
  }

  /** The Content-Type of `text()`. */
  get contentType(): string {
    return CONTENT_TYPE;
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.#registry.text();
  }

  /** One HTTP response. `route` is the route's pattern (`/f/:fileId`), or `unmatched`. */
  request(route: string, method: string, status: number): void {
    this.#requests.inc({ route, method, status: String(status) });
  }

  /** Counters for the host (HostEvents). */
  readonly hostEvents = {
    ingress: (bytes: number) => this.#ingress.inc(bytes),
    egress: (bytes: number) => this.#egress.inc(bytes),
    credited: (sat: bigint) => {
      this.#credited.inc();
      this.#creditedSat.inc(Number(sat));
    },
    reversed: (sat: bigint) => {
      this.#reversed.inc();
      this.#reversedSat.inc(Number(sat));
    },
  };

  /** One job run (the scheduler's onRun hook); `seconds` is undefined for a skipped run. */
  jobRun(job: string, outcome: string, seconds: number | undefined): void {
    this.#jobRuns.inc({ name: job, outcome });
    if (seconds !== undefined) this.#jobSeconds.observe({ name: job }, seconds);
  }
}

/**
 * The limits every run of a provider script is held to, each with a default and a range. The defaults are
 * generous for a script that makes a handful of API calls and small for anything else: a provider's API
 * answers in kilobytes, and a call that needs more than two seconds of its own CPU time is broken or hostile.
 */

export interface SandboxLimits {
  /** QuickJS's allocation limit (runtime.setMemoryLimit), and, with 16 MiB more, the cap of the WASM memory. */
  memoryBytes: number;
  /** QuickJS's stack limit (runtime.setMaxStackSize). */
  stackBytes: number;
  /**
   * The CPU time one call may spend running the script's own code (not waiting for HTTP or sleep). Past it the
   * interrupt handler stops the script: an endless loop ends here.
   */
  cpuMs: number;
  /**
   * How long one call may take, from its start to its result, waits included. Past it a running script is
   * interrupted and a waiting one is ended.
   */
  callMs: number;
  /** How long one call may take before the whole worker process gets SIGKILL: the last resort. Above callMs. */
  killMs: number;
  /** The bytes of log kept per call; the rest is dropped, and a marker says so. */
  maxLogBytes: number;
  /** The bytes of one HTTP answer's body; a longer one is cut off and the script gets an error instead. */
  maxResponseBytes: number;
  /** How long one HTTP request may take, connect to last byte. */
  httpTimeoutMs: number;
  /** HTTP requests per call; more are refused. */
  maxRequests: number;
  /** The bytes of a call's result, as JSON. */
  maxResultBytes: number;
  /** The bytes of the script's source. */
  maxSourceBytes: number;
}

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  memoryBytes: 64 * 1024 * 1024,
  stackBytes: 512 * 1024,
  cpuMs: 2_000,
  callMs: 60_000,
  killMs: 90_000,
  maxLogBytes: 64 * 1024,
  maxResponseBytes: 1024 * 1024,
  httpTimeoutMs: 15_000,
  maxRequests: 100,
  maxResultBytes: 256 * 1024,
  maxSourceBytes: 256 * 1024,
});

/** The range each limit may be set in: a wider one is a mistake, not a policy. */
const RANGES: { readonly [K in keyof SandboxLimits]: readonly [number, number] } = {
  memoryBytes: [4 * 1024 * 1024, 1024 * 1024 * 1024],
  stackBytes: [64 * 1024, 8 * 1024 * 1024],
  cpuMs: [10, 600_000],
  callMs: [10, 600_000],
  killMs: [100, 1_200_000],
  maxLogBytes: [256, 16 * 1024 * 1024],
  maxResponseBytes: [1024, 64 * 1024 * 1024],
  httpTimeoutMs: [10, 600_000],
  maxRequests: [1, 10_000],
  maxResultBytes: [1024, 16 * 1024 * 1024],
  maxSourceBytes: [1024, 16 * 1024 * 1024],
};

/**
 * The defaults with `given` over them, checked.
 * @throws RangeError naming the limit when one is not an integer in its range, or killMs is not above callMs
 */
export function resolveLimits(given: Partial<SandboxLimits> = {}): SandboxLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(RANGES) as (keyof SandboxLimits)[]) {
    const v = given[key];
    if (v === undefined) continue;
    const [min, max] = RANGES[key];
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`sandbox limit ${key} must be an integer in ${min}..${max}`);
    out[key] = v;
  }
  if (out.killMs <= out.callMs) throw new RangeError('sandbox limit killMs must be above callMs');
  return out;
}

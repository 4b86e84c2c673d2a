/**
 * The agent's side of the sandbox. A session is one worker process (./worker.ts, started through src/process)
 * for one script: it loads the script's meta once, then runs calls one at a time, each in a fresh QuickJS
 * instance in that process. One process per session rather than per call because starting Node (and tsx,
 * from source) costs far more than a fresh WASM instance, and an evaluation makes dozens of calls; nothing of
 * one call survives into the next (./guest.ts). A call that hits the wall-clock limit gets the process
 * killed (SIGKILL), and the next call starts a new one.
 *
 * The session carries out the script's HTTP requests itself (./gate.ts, then the call's transport), so the
 * credentials stay in this process, and answers its sleeps with the injected `sleep` and its clock with the
 * injected `now`.
 */
import type { ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker, type Worker } from '../process/index.ts';
import { failure, SANDBOX_ERRORS, type SandboxErrorCode, type SandboxFailure } from './errors.ts';
import { gateRequest, redactResponse } from './gate.ts';
import { resolveLimits, type SandboxLimits } from './limits.ts';
import { isFromWorker, type FromWorker, type ScriptRequest, type ToWorker } from './protocol.ts';
import { argsJsonMisfit, argsToJson, parseMeta, parseResult, REQUIRED_CALLS, type CallArgs, type CallName, type CallResults, type ScriptMeta } from './schemas.ts';
import { TransportError, type Transport } from './transport.ts';

/**
 * The worker's entry beside this file: worker.ts from source (run under tsx), worker.js in the build, as the
 * devnet's process does (src/devnet/process.ts).
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = fileURLToPath(new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url));
/** The worker's own JavaScript heap: small, since the script's memory is the WASM instance's, outside it. */
const WORKER_NODE_ARGS = ['--expose-gc', '--max-old-space-size=64', ...permissionArgs()];
/** How long a worker may take to start (Node, tsx from source, QuickJS's WASM): generous on a loaded machine. */
const START_MS = 60_000;

/**
 * One HTTP request a script made, as the agent saw it: never its headers, which may hold the credentials.
 * @public (for src/family; see ./index.ts)
 */
export interface RequestRecord {
  method: string;
  url: string;
  /** The answer's status, when there was one. */
  status?: number;
  /** Why there was no answer: refused by the gate, or the transport's error. */
  error?: string;
}

interface Trace {
  log: string[];
  requests: RequestRecord[];
}
export type CallOutcome<T> = ({ ok: true; value: T } | SandboxFailure) & Trace;
export type LoadOutcome = ({ ok: true; meta: ScriptMeta; calls: CallName[] } | SandboxFailure) & { log: string[] };

export interface SandboxOptions {
  source: string;
  /** Where the script's requests go unless a call says otherwise. Without one, every request fails. */
  transport?: Transport;
  /** The provider credentials, attached to requests as `meta.auth` says; they never reach the worker. */
  credentials?: string;
  limits?: Partial<SandboxLimits>;
  /** The agent's clock, ms since the epoch: what `ctx.now()` returns. Default Date.now. */
  now?: () => number;
  /** How `ctx.sleep` waits. Default a timer; an evaluation passes one that advances a simulated clock. */
  sleep?: (ms: number) => Promise<void>;
}

const NO_TRANSPORT: Transport = { send: () => Promise.reject(new TransportError('no transport: this run makes no HTTP requests')) };

/**
 * From the build, Node's permission model is one more wall around the worker: it may read only its own code
 * (dist/src) and the packages (node_modules, where QuickJS's WASM file is), and may write no file, start no
 * process and open no worker thread. A script that escaped QuickJS would still not read the agent's data dir.
 * From source it is left off: tsx's loader needs worker threads and reads beyond those folders.
 */
function permissionArgs(): string[] {
  if (FROM_SOURCE) return [];
  const code = fileURLToPath(new URL('..', import.meta.url));
  // The package's own node_modules as the resolver walks it (it may be a link) and where the packages really are.
  const local = fileURLToPath(new URL('../../../node_modules', import.meta.url));
  const quickjs = fileURLToPath(import.meta.resolve('quickjs-emscripten'));
  const modules = realpathSync(quickjs.slice(0, quickjs.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules`.length));
  return ['--experimental-permission', '--disable-warning=ExperimentalWarning', `--allow-fs-read=${code}`, `--allow-fs-read=${local}`, `--allow-fs-read=${modules}`];
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isCode(code: string): code is SandboxErrorCode {
  return Object.hasOwn(SANDBOX_ERRORS, code);
}

/** A session: `SandboxSession.open`, then `call` as often as needed, then `close`. */
export class SandboxSession {
  private worker: Worker | null = null;
  private nextId = 0;
  /** The end of the last call queued: calls run one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  /** The script's checked meta and exports: null only while `open` loads them, when no request is let through. */
  private loaded: { meta: ScriptMeta; calls: readonly CallName[] } | null = null;

  private constructor(
    private readonly opts: SandboxOptions,
    readonly limits: SandboxLimits,
  ) {}

  /** The script's meta, checked. */
  get meta(): ScriptMeta {
    if (!this.loaded) throw new Error('the session has not loaded its script');
    return this.loaded.meta;
  }

  /** The calls the script exports. */
  get calls(): readonly CallName[] {
    return this.loaded?.calls ?? [];
  }

  /**
   * Starts a worker and loads the script: its meta checked (./schemas.ts), its exports checked against it.
   * On a failure the worker is already stopped.
   * @throws RangeError for limits out of range (a caller's mistake, not the script's)
   */
  static async open(opts: SandboxOptions): Promise<({ ok: true; session: SandboxSession } | SandboxFailure) & { log: string[] }> {
    const limits = resolveLimits(opts.limits);
    if (Buffer.byteLength(opts.source) > limits.maxSourceBytes) {
      return { ...failure('SANDBOX_BAD_SCRIPT', `the script is larger than ${limits.maxSourceBytes} bytes`), log: [] };
    }
    const session = new SandboxSession(opts, limits);
    const out = await session.run('meta', {}, NO_TRANSPORT);
    const checked = out.ok ? checkLoaded(out.value) : out;
    if (!checked.ok) {
      session.close();
      return { ...checked, log: out.log };
    }
    session.loaded = { meta: checked.meta, calls: checked.calls };
    return { ok: true, session, log: out.log };
  }

  /**
   * Runs `call` with `args` in a fresh QuickJS instance and checks what it returns. Never throws for anything
   * the script does; calls do not overlap (a second one waits for the first).
   * @throws RangeError for args that do not fit the call (a caller's mistake)
   */
  async call<C extends CallName>(call: C, args: CallArgs[C], opts: { transport?: Transport } = {}): Promise<CallOutcome<CallResults[C]>> {
    return this.callJson(call, argsToJson(call, args), opts);
  }

  /** `call` with the arguments as JSON, as a transcript holds them. @throws RangeError for args that do not fit */
  async callJson<C extends CallName>(call: C, args: Record<string, unknown>, opts: { transport?: Transport } = {}): Promise<CallOutcome<CallResults[C]>> {
    const bad = argsJsonMisfit(call, args);
    if (bad !== null) throw new RangeError(`${call} arguments: ${bad}`);
    if (!this.calls.includes(call)) return { ...failure('SANDBOX_NO_SUCH_CALL', `the script does not export ${call}`), log: [], requests: [] };
    const out = await this.run(call, args, opts.transport ?? this.opts.transport ?? NO_TRANSPORT);
    if (!out.ok) return out;
    const parsed = parseResult(call, out.value);
    return parsed.ok ? { ...out, value: parsed.value } : { ...failure('SANDBOX_BAD_RESULT', parsed.reason), log: out.log, requests: out.requests };
  }

  /** The worker's pid while one runs (for the agent's process accounting, and tests). */
  get pid(): number | undefined {
    const child = this.worker?.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** Stops the worker (SIGKILL: it holds nothing worth a clean exit). */
  close(): void {
    this.worker?.child.kill('SIGKILL');
    this.worker = null;
  }

  /** The running worker, or a new one once it says it is ready; null when one does not start in time. */
  private async ensureWorker(): Promise<ChildProcess | null> {
    if (this.worker && this.worker.child.exitCode === null && this.worker.child.signalCode === null) return this.worker.child;
    const worker = startWorker(WORKER_ENTRY, [], { nodeArgs: WORKER_NODE_ARGS });
    this.worker = worker;
    const { child } = worker;
    const ready = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(ok);
      };
      const onMessage = (m: unknown): void => {
        if (isFromWorker(m) && m.t === 'ready') done(true);
      };
      const onExit = (): void => done(false);
      const timer = setTimeout(() => done(false), START_MS);
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    if (ready) return child;
    child.kill('SIGKILL');
    return null;
  }

  /** One call in the worker: its messages served until it is done, it dies, or the wall clock kills it. */
  private async run(call: string, args: unknown, transport: Transport): Promise<CallOutcome<unknown>> {
    const turn = this.queue.then(() => this.runOnce(call, args, transport));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async runOnce(call: string, args: unknown, transport: Transport): Promise<CallOutcome<unknown>> {
    const { limits, opts } = this;
    const now = opts.now ?? Date.now;
    const sleep = opts.sleep ?? realSleep;
    const child = await this.ensureWorker();
    // The channel holds this process open only while a call is under way (see startWorker).
    child?.channel?.ref();
    if (!child) {
      const tail = (this.worker?.stderrTail() ?? '').trim().split('\n').slice(-3).join(' | ').slice(0, 300);
      return { ...failure('SANDBOX_KILLED', `the sandbox process did not start within ${START_MS} ms${tail ? `: ${tail}` : ''}`), log: [], requests: [] };
    }
    const id = this.nextId++;
    const trace: Trace = { log: [], requests: [] };
    let logBytes = 0;
    let logCut = false;
    const aborter = new AbortController();

    return new Promise<CallOutcome<unknown>>((resolve) => {
      let ended = false;
      const end = (o: ({ ok: true; value: unknown } | SandboxFailure)): void => {
        if (ended) return;
        ended = true;
        child.channel?.unref();
        clearTimeout(killer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        aborter.abort();
        let out = o;
        const verdict = transport.verdict?.(o.ok) ?? null;
        if (verdict !== null) out = failure('SANDBOX_REPLAY_MISMATCH', verdict);
        resolve({ ...out, ...trace });
      };
      const killer = setTimeout(() => {
        child.kill('SIGKILL');
        end(failure('SANDBOX_KILLED', `${call} did not end within ${limits.killMs} ms: the sandbox process was killed`));
      }, limits.killMs);
      const onExit = (code: number | null, signal: string | null): void => {
        const tail = (this.worker?.stderrTail() ?? '').trim().split('\n').slice(-3).join(' | ').slice(0, 300);
        end(failure('SANDBOX_KILLED', `the sandbox process ended during ${call} (${code === null ? `signal ${signal}` : `code ${code}`})${tail ? `: ${tail}` : ''}`));
      };
      const reply = (m: ToWorker): void => {
        if (!ended && child.connected) child.send(m);
      };
      const onMessage = (raw: unknown): void => {
        if (ended) return;
        if (!isFromWorker(raw)) {
          child.kill('SIGKILL');
          end(failure('SANDBOX_KILLED', 'the sandbox process sent a malformed message and was killed'));
          return;
        }
        const m: FromWorker = raw;
        if (m.t === 'ready' || m.id !== id) return;
        switch (m.t) {
          case 'log': {
            if (logCut) return;
            const bytes = Buffer.byteLength(m.line) + 1;
            if (logBytes + bytes > limits.maxLogBytes + 256) {
              logCut = true;
              trace.log.push(`[log truncated: over ${limits.maxLogBytes} bytes]`);
            } else {
              logBytes += bytes;
              trace.log.push(m.line);
            }
            return;
          }
          case 'sleep':
            // A sleep that fails still ends: the script's wait is over either way.
            void sleep(Math.min(m.ms, limits.callMs)).then(
              () => reply({ t: 'slept', id, req: m.req, now: now() }),
              () => reply({ t: 'slept', id, req: m.req, now: now() }),
            );
            return;
          case 'http':
            void this.http(m.request, transport, trace, aborter.signal).then((r) => reply({ t: 'http', id, req: m.req, now: now(), ...r }));
            return;
          case 'done':
            if (m.ok) {
              try {
                end({ ok: true, value: JSON.parse(m.json) as unknown });
              } catch {
                end(failure('SANDBOX_BAD_RESULT', `${call} returned something that is not JSON`));
              }
            } else end(failure(isCode(m.code) ? m.code : 'SANDBOX_SCRIPT_ERROR', m.reason));
        }
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ t: 'run', id, source: opts.source, call, args, limits, now: now() } satisfies ToWorker);
    });
  }

  /** A script's request: gated, sent, its answer capped and scrubbed of the credentials. */
  private async http(raw: ScriptRequest, transport: Transport, trace: Trace, signal: AbortSignal): Promise<{ ok: true; res: { status: number; headers: Record<string, string>; body: string } } | { ok: false; error: string }> {
    const { limits } = this;
    const record: RequestRecord = { method: raw.method, url: raw.url.slice(0, 2048) };
    trace.requests.push(record);
    if (trace.requests.length > limits.maxRequests) {
      record.error = `more than ${limits.maxRequests} requests in one call`;
      return { ok: false, error: record.error };
    }
    if (!this.loaded) {
      record.error = 'no request is made while the script loads';
      return { ok: false, error: record.error };
    }
    const gated = gateRequest(raw, this.loaded.meta, this.opts.credentials);
    if (!gated.ok) {
      record.error = gated.reason;
      return { ok: false, error: gated.reason };
    }
    try {
      const res = await transport.send(gated.request, { maxBytes: limits.maxResponseBytes, timeoutMs: limits.httpTimeoutMs, signal });
      if (Buffer.byteLength(res.body) > limits.maxResponseBytes) throw new TransportError(`the answer is larger than ${limits.maxResponseBytes} bytes and was cut off`);
      record.status = res.status;
      return { ok: true, res: redactResponse(res, this.opts.credentials) };
    } catch (e) {
      const message = e instanceof TransportError ? e.message : 'the request failed';
      record.error = redactResponse({ status: 0, headers: {}, body: message }, this.opts.credentials).body;
      return { ok: false, error: record.error };
    }
  }
}

/** The meta run's value checked: a valid meta, the required calls exported, `destroy` exactly when canDestroy. */
function checkLoaded(value: unknown): { ok: true; meta: ScriptMeta; calls: CallName[] } | SandboxFailure {
  const v = value as { meta?: unknown; calls?: unknown };
  const meta = parseMeta(v.meta);
  if (!meta.ok) return failure('SANDBOX_BAD_META', meta.reason);
  const calls = (Array.isArray(v.calls) ? v.calls : []) as CallName[];
  const missing = REQUIRED_CALLS.filter((c) => !calls.includes(c));
  if (missing.length > 0) return failure('SANDBOX_BAD_SCRIPT', `the script does not export ${missing.join(', ')}`);
  if (meta.meta.canDestroy !== calls.includes('destroy')) {
    return failure('SANDBOX_BAD_SCRIPT', meta.meta.canDestroy ? 'meta.canDestroy is true but the script does not export destroy' : 'the script exports destroy but meta.canDestroy is false');
  }
  if (meta.meta.billing === 'account' && !calls.includes('fund')) return failure('SANDBOX_BAD_SCRIPT', 'meta.billing is account but the script does not export fund');
  return { ok: true, meta: meta.meta, calls };
}

/**
 * One call of a provider script inside QuickJS (quickjs-emscripten, the WASM sync build), in the worker
 * process. Each call gets a fresh WASM instance: a fresh heap, a fresh runtime, a fresh global object, the
 * module evaluated anew. Nothing a script did in an earlier call, or a limit it hit, survives. The instance is
 * dropped, not disposed, when the call ends: disposing a runtime that a script left mid-flight (promises
 * pending, an out-of-memory) can trip QuickJS's own assertions, and the garbage collector frees the whole WASM
 * memory at once anyway.
 *
 * The script sees the ECMAScript built-ins of QuickJS and, as the second argument of its call, `ctx`: four
 * functions implemented here, each of which checks its arguments and goes through `GuestHost` (the worker,
 * which forwards http and sleep to the agent). No module can be imported, and QuickJS's std/os modules are
 * not part of this build.
 */
import { newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC, type QuickJSContext, type QuickJSHandle } from 'quickjs-emscripten';
import { failure, type SandboxErrorCode, type SandboxFailure } from './errors.ts';
import type { SandboxLimits } from './limits.ts';
import type { ScriptRequest, ScriptResponse } from './protocol.ts';
import { CALLS } from './schemas.ts';

/** What `ctx` reaches on the worker's side. */
export interface GuestHost {
  /** Rejects with an Error whose message the script sees. */
  http(request: ScriptRequest): Promise<ScriptResponse>;
  sleep(ms: number): Promise<void>;
  now(): number;
  log(line: string): void;
}

export type GuestOutcome = { ok: true; json: string } | SandboxFailure;

/** Node's WebAssembly global; this project's TypeScript lib (ES2022, no DOM) does not declare it. */
const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => object } }).WebAssembly;
const WASM_PAGE = 64 * 1024;
/** Room in the WASM memory beyond QuickJS's own limit: the C stack, static data and allocator overhead. */
const WASM_HEADROOM = 16 * 1024 * 1024;
const INITIAL_PAGES = 256;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_HEADERS = 50;

/** The file name QuickJS gives the script in its stack traces. */
const SCRIPT_NAME = 'provider.js';

/**
 * Evaluates `source` as an ES module and runs `call` with `args` (JSON) and `ctx`; 'meta' instead reports
 * `{ meta, calls }`: the `meta` export and which exports are functions. Never throws.
 */
export async function runGuest(source: string, call: string, args: unknown, limits: SandboxLimits, host: GuestHost): Promise<GuestOutcome> {
  try {
    return await new Guest(limits, host).run(source, call, args);
  } catch (e) {
    return engineFailure(e);
  }
}

/** A failure of the engine itself, not a value the script threw: in practice WASM memory that could not grow. */
function engineFailure(e: unknown): SandboxFailure {
  const message = e instanceof Error ? e.message : String(e);
  // Node's own stack can run out before QuickJS's limit does: the WASM frames of a deep recursion live there.
  if (/call stack size/i.test(message)) return failure('SANDBOX_STACK_OVERFLOW', 'the call went over the stack limit');
  if (/memory|unreachable/i.test(message)) return failure('SANDBOX_OUT_OF_MEMORY', `the call ran out of memory (${message.slice(0, 200)})`);
  return failure('SANDBOX_SCRIPT_ERROR', `the sandbox failed: ${message.slice(0, 500)}`);
}

class Guest {
  private vm!: QuickJSContext;
  private parse!: QuickJSHandle;
  private stringify!: QuickJSHandle;
  /** When the call's time began: once its QuickJS instance is ready, so that the engine's set-up is not charged to the script. */
  private startedAt = Date.now();
  private cpuUsed = 0;
  private sliceStart: number | null = null;
  private interrupted: 'cpu' | 'call' | null = null;
  private requests = 0;
  private done = false;
  private pump: () => void = () => undefined;
  private finish: (o: GuestOutcome) => void = () => undefined;

  constructor(
    private readonly limits: SandboxLimits,
    private readonly host: GuestHost,
  ) {}

  async run(source: string, call: string, args: unknown): Promise<GuestOutcome> {
    const { limits } = this;
    const maximum = Math.ceil((limits.memoryBytes + WASM_HEADROOM) / WASM_PAGE);
    // The WASM memory's own maximum is the hard cap: QuickJS's malloc limit is approximate (a script filling
    // arrays can go far past it), a WebAssembly.Memory cannot grow past its maximum.
    const wasmMemory = new Wasm.Memory({ initial: Math.min(INITIAL_PAGES, maximum), maximum });
    const wasm = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory: wasmMemory as never }));
    const rt = wasm.newRuntime();
    rt.setMemoryLimit(limits.memoryBytes);
    rt.setMaxStackSize(limits.stackBytes);
    rt.setModuleLoader(() => ({ error: new Error('imports are not available in the sandbox') }));
    rt.setInterruptHandler(() => {
      if (this.cpuNow() > limits.cpuMs) this.interrupted ??= 'cpu';
      else if (Date.now() - this.startedAt > limits.callMs) this.interrupted ??= 'call';
      return this.interrupted !== null;
    });
    const vm = rt.newContext();
    this.vm = vm;
    this.startedAt = Date.now();
    // Taken before the script runs, which may replace the globals.
    const json = vm.getProp(vm.global, 'JSON');
    this.parse = vm.getProp(json, 'parse');
    this.stringify = vm.getProp(json, 'stringify');

    const evaluated = this.inGuest(() => vm.evalCode(source, SCRIPT_NAME, { type: 'module' }));
    if (evaluated.error) return this.fail(evaluated.error, 'SANDBOX_BAD_SCRIPT', 'the script does not load');
    const jobs = this.inGuest(() => rt.executePendingJobs());
    if (jobs.error) return this.fail(jobs.error, 'SANDBOX_BAD_SCRIPT', 'the script does not load');
    const loaded = vm.getPromiseState(evaluated.value);
    if (loaded.type === 'pending') return failure('SANDBOX_BAD_SCRIPT', 'the script does not load: its top-level await never settles');
    if (loaded.type === 'rejected') return this.fail(loaded.error, 'SANDBOX_BAD_SCRIPT', 'the script does not load');
    const ns = loaded.value;

    if (call === 'meta') return this.describe(ns);

    const fn = vm.getProp(ns, call);
    if (vm.typeof(fn) !== 'function') return failure('SANDBOX_NO_SUCH_CALL', `the script does not export a function ${call}`);
    const argsHandle = this.toGuest(args);
    const ctx = this.makeCtx();
    const called = this.inGuest(() => vm.callFunction(fn, vm.undefined, argsHandle, ctx));
    if (called.error) return this.fail(called.error, 'SANDBOX_SCRIPT_ERROR', `${call} threw`);
    const result = called.value;

    return new Promise<GuestOutcome>((resolve) => {
      const finish = (o: GuestOutcome): void => {
        if (this.done) return;
        this.done = true;
        clearTimeout(timer);
        resolve(o);
      };
      this.finish = finish;
      // A call waiting on http or sleep runs no code, so the interrupt handler cannot end it: this timer does.
      const timer = setTimeout(
        () => finish(failure('SANDBOX_TIMEOUT', `${call} did not end within ${limits.callMs} ms`)),
        Math.max(0, limits.callMs - (Date.now() - this.startedAt)),
      );
      this.pump = () => this.safely(() => {
        const ran = this.inGuest(() => rt.executePendingJobs());
        if (ran.error) return finish(this.fail(ran.error, 'SANDBOX_SCRIPT_ERROR', `${call} failed`));
        const state = vm.getPromiseState(result);
        if (state.type === 'pending') return;
        if (state.type === 'rejected') return finish(this.fail(state.error, 'SANDBOX_SCRIPT_ERROR', `${call} rejected`));
        const out = this.fromGuest(state.value);
        // A value JSON cannot hold (a cycle, a bigint, a throwing toJSON) is a malformed result, unless a limit ended it.
        if (!out.ok) return finish(out.code === 'SANDBOX_SCRIPT_ERROR' ? failure('SANDBOX_BAD_RESULT', `${call} returned ${out.reason}`) : out);
        if (out.json.length > limits.maxResultBytes) return finish(failure('SANDBOX_BAD_RESULT', `${call} returned more than ${limits.maxResultBytes} bytes of JSON`));
        finish(out);
      });
      this.pump();
    });
  }

  /** Runs `fn` unless the call has ended; an engine failure in it ends the call (see runGuest). */
  private safely(fn: () => void): void {
    if (this.done) return;
    try {
      fn();
    } catch (e) {
      this.finish(engineFailure(e));
    }
  }

  /** The meta export as JSON and the names of the exports that are functions. */
  private describe(ns: QuickJSHandle): GuestOutcome {
    const { vm } = this;
    const meta = this.fromGuest(vm.getProp(ns, 'meta'));
    if (!meta.ok) return meta.code === 'SANDBOX_SCRIPT_ERROR' ? failure('SANDBOX_BAD_META', `meta: ${meta.reason}`) : meta;
    const calls = CALLS.filter((name) => vm.typeof(vm.getProp(ns, name)) === 'function');
    return { ok: true, json: `{"meta":${meta.json},"calls":${JSON.stringify(calls)}}` };
  }

  /**
   * Runs guest code, counting the CPU time it takes against cpuMs: this process's CPU time, not the wall clock,
   * so that a machine under load does not cut a script short. The worker runs one call and nothing else.
   */
  private inGuest<T>(fn: () => T): T {
    // Re-entered when a host function the script calls runs guest code (JSON.stringify of its argument): only
    // the outermost slice counts, or its time would be counted twice.
    if (this.sliceStart !== null) return fn();
    const start = cpuMs();
    this.sliceStart = start;
    try {
      return fn();
    } finally {
      this.cpuUsed += cpuMs() - start;
      this.sliceStart = null;
    }
  }

  private cpuNow(): number {
    return this.cpuUsed + (this.sliceStart === null ? 0 : cpuMs() - this.sliceStart);
  }

  private toGuest(value: unknown): QuickJSHandle {
    const text = this.vm.newString(JSON.stringify(value) ?? 'null');
    return this.vm.unwrapResult(this.vm.callFunction(this.parse, this.vm.undefined, text));
  }

  /** A guest value as JSON text, by the guest's original JSON.stringify (which may run its toJSON and getters). */
  private fromGuest(handle: QuickJSHandle): GuestOutcome {
    const r = this.inGuest(() => this.vm.callFunction(this.stringify, this.vm.undefined, handle));
    if (r.error) return this.fail(r.error, 'SANDBOX_SCRIPT_ERROR', 'a value that cannot be turned into JSON');
    return { ok: true, json: this.vm.typeof(r.value) === 'string' ? this.vm.getString(r.value) : 'null' };
  }

  /** A thrown guest value as a failure: a limit it hit under its own code, anything else under `code`. */
  private fail(error: QuickJSHandle, code: SandboxErrorCode, what: string): SandboxFailure {
    if (this.interrupted === 'cpu') return failure('SANDBOX_TIMEOUT', `${what}: it ran for more than ${this.limits.cpuMs} ms and was interrupted`);
    if (this.interrupted === 'call') return failure('SANDBOX_TIMEOUT', `${what}: it did not end within ${this.limits.callMs} ms and was interrupted`);
    const text = describeError(this.vm, error);
    if (/out of memory/i.test(text)) return failure('SANDBOX_OUT_OF_MEMORY', `${what}: it went over ${this.limits.memoryBytes} bytes of memory`);
    if (/stack overflow|call stack size/i.test(text)) return failure('SANDBOX_STACK_OVERFLOW', `${what}: it went over ${this.limits.stackBytes} bytes of stack`);
    return failure(code, `${what}: ${text}`);
  }

  /**
   * A host function for `ctx`. Once the call is interrupted it only throws: QuickJS polls its interrupt handler
   * every so many operations, and when that poll falls inside guest code a host function runs (JSON.stringify
   * of its argument), the interruption ends only that nested run. Without this a loop of host calls, which
   * spends nearly all its time there, would never be stopped.
   */
  private hostFunction(name: string, impl: (...args: QuickJSHandle[]) => QuickJSHandle): QuickJSHandle {
    const { vm } = this;
    const interrupted = () => ({ error: vm.newError({ name: 'InternalError', message: 'interrupted' }) });
    return vm.newFunction(name, (...args) => {
      if (this.interrupted !== null) return interrupted();
      const out = impl(...args);
      return this.interrupted === null ? out : interrupted();
    });
  }

  /** The `ctx` of one call: http, sleep, now and log, nothing else. */
  private makeCtx(): QuickJSHandle {
    const { vm, host, limits } = this;
    const ctx = vm.newObject();
    vm.setProp(ctx, 'http', this.hostFunction('http', (req) => {
      const deferred = vm.newPromise();
      const settle = (fn: () => void): void => {
        this.safely(fn);
        this.pump();
      };
      const request = this.requestOf(req);
      if (typeof request === 'string') {
        deferred.reject(vm.newError({ name: 'TypeError', message: `ctx.http: ${request}` }));
      } else if (++this.requests > limits.maxRequests) {
        deferred.reject(vm.newError({ name: 'Error', message: `ctx.http: more than ${limits.maxRequests} requests in one call` }));
      } else {
        host.http(request).then(
          (res) => settle(() => deferred.resolve(this.toGuest(res))),
          (e: unknown) => settle(() => deferred.reject(vm.newError({ name: 'HttpError', message: e instanceof Error ? e.message : String(e) }))),
        );
      }
      return deferred.handle;
    }));
    vm.setProp(ctx, 'sleep', this.hostFunction('sleep', (msHandle) => {
      const deferred = vm.newPromise();
      const ms = msHandle === undefined ? NaN : vm.getNumber(msHandle);
      if (vm.typeof(msHandle ?? vm.undefined) !== 'number' || !Number.isFinite(ms) || ms < 0) {
        deferred.reject(vm.newError({ name: 'TypeError', message: 'ctx.sleep: ms must be a non-negative finite number' }));
      } else {
        void host.sleep(Math.min(ms, limits.callMs)).then(() => {
          this.safely(() => deferred.resolve(vm.undefined));
          this.pump();
        });
      }
      return deferred.handle;
    }));
    vm.setProp(ctx, 'now', this.hostFunction('now', () => vm.newNumber(host.now())));
    vm.setProp(ctx, 'log', this.hostFunction('log', (...values) => {
      host.log(values.map((v) => (vm.typeof(v) === 'string' ? vm.getString(v) : this.logText(v))).join(' '));
      return vm.undefined;
    }));
    return ctx;
  }

  private logText(v: QuickJSHandle): string {
    const out = this.fromGuest(v);
    return out.ok ? out.json : '[a value that cannot be turned into JSON]';
  }

  /** The script's request checked and normalised, or why not: a body that is not a string is sent as JSON. */
  private requestOf(handle: QuickJSHandle | undefined): ScriptRequest | string {
    if (handle === undefined) return 'a request object is required';
    const out = this.fromGuest(handle);
    if (!out.ok) return out.reason;
    let raw: unknown;
    try {
      raw = JSON.parse(out.json);
    } catch {
      return 'the request is not JSON';
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the request must be an object';
    const r = raw as Record<string, unknown>;
    if (typeof r.method !== 'string' || !METHODS.has(r.method)) return `method must be one of ${[...METHODS].join(', ')}`;
    if (typeof r.url !== 'string' || r.url.length === 0 || r.url.length > 8192) return 'url must be a string of 1 to 8192 characters';
    const headers: Record<string, string> = {};
    if (r.headers !== undefined && r.headers !== null) {
      if (typeof r.headers !== 'object' || Array.isArray(r.headers)) return 'headers must be an object of strings';
      const entries = Object.entries(r.headers);
      if (entries.length > MAX_HEADERS) return `at most ${MAX_HEADERS} headers`;
      for (const [name, value] of entries) {
        if (typeof value !== 'string' || name.length > 256 || value.length > 8192) return `header ${JSON.stringify(name.slice(0, 64))} must be a string`;
        headers[name.toLowerCase()] = value;
      }
    }
    let body: string | null = null;
    if (typeof r.body === 'string') body = r.body;
    else if (r.body !== undefined && r.body !== null) {
      body = JSON.stringify(r.body);
      headers['content-type'] ??= 'application/json';
    }
    if (body !== null && body.length > 1024 * 1024) return 'the body is over 1 MiB';
    return { method: r.method as ScriptRequest['method'], url: r.url, headers, body };
  }
}

/** This process's CPU time (user and system), in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** A thrown guest value in words: `Name: message` for an Error, its JSON otherwise, at most 500 characters. */
function describeError(vm: QuickJSContext, error: QuickJSHandle): string {
  let text: string;
  try {
    const v: unknown = vm.dump(error);
    if (typeof v === 'object' && v !== null && 'message' in v) {
      const e = v as { name?: unknown; message?: unknown };
      text = `${typeof e.name === 'string' ? e.name : 'Error'}: ${String(e.message)}`;
    } else text = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    text = 'an unreadable value';
  }
  return text.slice(0, 500);
}

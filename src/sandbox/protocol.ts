/**
 * The messages between the agent and the sandbox's worker (./worker.ts), over Node's IPC channel (JSON). The
 * agent runs one call at a time in a worker; the worker asks the agent for each HTTP request and each sleep,
 * and the agent answers with the time on its clock, which is the only time the script sees (`ctx.now()`).
 * The worker runs code it does not trust, so the agent checks every message it gets from it (`isFromWorker`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { SandboxLimits } from './limits.ts';

/** Runs `call` ('meta' loads the module and reports its meta and exports). */
export interface RunMessage {
  t: 'run';
  id: number;
  source: string;
  call: string;
  args: unknown;
  limits: SandboxLimits;
  now: number;
}

/** The answer to an `http` message: the response, or an error the script's `ctx.http` rejects with. */
export type HttpReplyMessage =
  | { t: 'http'; id: number; req: number; now: number; ok: true; res: ScriptResponse }
  | { t: 'http'; id: number; req: number; now: number; ok: false; error: string };

export interface SleptMessage {
  t: 'slept';
  id: number;
  req: number;
  now: number;
}

export type ToWorker = RunMessage | HttpReplyMessage | SleptMessage;

export interface ScriptResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const Headers = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 8192 }));

/** A request as the worker forwards it: the body already a string (a JSON body encoded by the worker). */
const ScriptRequestSchema = Type.Object(
  {
    method: Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH'), Type.Literal('DELETE')]),
    url: Type.String({ minLength: 1, maxLength: 8192 }),
    headers: Headers,
    body: Type.Union([Type.Null(), Type.String({ maxLength: 1024 * 1024 })]),
  },
  { additionalProperties: false },
);
export type ScriptRequest = Static<typeof ScriptRequestSchema>;

const Id = Type.Integer({ minimum: 0 });
const FromWorkerSchema = Type.Union([
  Type.Object({ t: Type.Literal('ready') }),
  Type.Object({ t: Type.Literal('http'), id: Id, req: Id, request: ScriptRequestSchema }),
  Type.Object({ t: Type.Literal('sleep'), id: Id, req: Id, ms: Type.Number({ minimum: 0 }) }),
  Type.Object({ t: Type.Literal('log'), id: Id, line: Type.String() }),
  Type.Object({ t: Type.Literal('done'), id: Id, ok: Type.Literal(true), json: Type.String() }),
  Type.Object({ t: Type.Literal('done'), id: Id, ok: Type.Literal(false), code: Type.String(), reason: Type.String({ maxLength: 4096 }) }),
]);
export type FromWorker = Static<typeof FromWorkerSchema>;

/** Compiled at the first message, not when the module loads: an agent that runs no script never needs it (docs/memory.md). */
let fromWorker: TypeCheck<typeof FromWorkerSchema> | undefined;

export function isFromWorker(m: unknown): m is FromWorker {
  fromWorker ??= TypeCompiler.Compile(FromWorkerSchema);
  return fromWorker.Check(m);
}

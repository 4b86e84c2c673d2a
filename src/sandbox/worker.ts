/**
 * The sandbox's worker process: runs one call of a provider script at a time in QuickJS (./guest.ts) for the
 * agent, which starts it through src/process (startWorker) and speaks ./protocol.ts over IPC. It holds no
 * credential and no environment of the agent's; its HTTP requests and sleeps are the agent's to carry out.
 * It ends when the agent is gone (watchParent) or closes the channel.
 */
import 'quickjs-emscripten';
import { watchParent } from '../process/index.ts';
import { runGuest, type GuestHost } from './guest.ts';
import type { HttpReplyMessage, RunMessage, ScriptResponse, SleptMessage, ToWorker } from './protocol.ts';

type Waiter = { kind: 'http'; resolve: (r: ScriptResponse) => void; reject: (e: Error) => void } | { kind: 'sleep'; resolve: () => void };

let current: number | null = null;
let clock = 0;
let nextReq = 0;
const waiting = new Map<number, Waiter>();

function send(message: object): void {
  process.send?.(message);
}

/** The worker's side of `ctx` for call `id`: requests and sleeps go to the agent; the log is capped here too. */
function hostFor(id: number, maxLogBytes: number): GuestHost {
  let logged = 0;
  let truncated = false;
  return {
    http: (request) =>
      new Promise<ScriptResponse>((resolve, reject) => {
        const req = nextReq++;
        waiting.set(req, { kind: 'http', resolve, reject });
        send({ t: 'http', id, req, request });
      }),
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const req = nextReq++;
        waiting.set(req, { kind: 'sleep', resolve });
        send({ t: 'sleep', id, req, ms });
      }),
    now: () => clock,
    log: (line) => {
      if (truncated) return;
      const bytes = Buffer.byteLength(line) + 1;
      if (logged + bytes > maxLogBytes) {
        truncated = true;
        send({ t: 'log', id, line: `[log truncated: over ${maxLogBytes} bytes]` });
        return;
      }
      logged += bytes;
      send({ t: 'log', id, line });
    },
  };
}

async function run(m: RunMessage): Promise<void> {
  current = m.id;
  clock = m.now;
  try {
    const out = await runGuest(m.source, m.call, m.args, m.limits, hostFor(m.id, m.limits.maxLogBytes));
    send({ t: 'done', id: m.id, ...out });
  } finally {
    current = null;
    waiting.clear();
    // The call's WASM instance is garbage now: give its memory back before the next call.
    (globalThis as { gc?: () => void }).gc?.();
  }
}

function reply(m: HttpReplyMessage | SleptMessage): void {
  if (m.id !== current) return; // an answer for a call that has ended
  clock = m.now;
  const w = waiting.get(m.req);
  waiting.delete(m.req);
  if (!w) return;
  if (w.kind === 'sleep') w.resolve();
  else if (m.t === 'http') {
    if (m.ok) w.resolve(m.res);
    else w.reject(new Error(m.error));
  }
}

watchParent(() => process.exit(0));
process.on('disconnect', () => process.exit(0));
process.on('message', (raw: unknown) => {
  const m = raw as ToWorker;
  if (m.t === 'run') {
    if (current !== null) send({ t: 'done', id: m.id, ok: false, code: 'SANDBOX_KILLED', reason: 'the worker is busy with another call' });
    else void run(m);
  } else reply(m);
});
// Loaded (QuickJS included): the agent's wall-clock limit of a call counts from here, not from Node's start.
send({ t: 'ready' });

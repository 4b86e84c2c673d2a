// The replay of a transcript (src/sandbox/transcript.ts): a script that sends the recorded requests gets the
// recorded answers; any other request, a body that differs, one request too many or too few fails the call with
// a reason naming the expected and the actual request, even when the script catches the error it got.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { parseTranscript, replayOf, ReplayTransport, sameJson, SandboxSession, TransportError, type Transcript, type Transport } from '../../src/sandbox/index.ts';
import { fixture, show } from './helpers.ts';

const RECORDED: unknown = JSON.parse(readFileSync(new URL('./fixtures/good.transcript.json', import.meta.url), 'utf8'));
let clock = 1_700_000_000_000;
let good: SandboxSession;

function transcript(edit: (t: Transcript) => void = () => undefined): Transcript {
  const parsed = parseTranscript(structuredClone(RECORDED));
  assert.ok(parsed.ok, show(parsed));
  edit(parsed.transcript);
  return parsed.transcript;
}

before(async () => {
  const opened = await SandboxSession.open({
    source: fixture('good.js', { PORT: 8443 }),
    now: () => clock,
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
  });
  assert.ok(opened.ok, show(opened));
  good = opened.session;
});

after(() => good.close());

test('every call of a script replays against its transcript and returns the recorded result', async () => {
  const t = transcript();
  for (let i = 0; i < t.calls.length; i++) {
    const { call, args, transport, expected } = replayOf(t, i);
    const out = await good.callJson(call, args, { transport });
    assert.ok(out.ok, `${call}: ${show(out)}`);
    if (expected !== undefined) assert.ok(sameJson(out.value, expected), `${call}: ${show(out.value)} is not ${show(expected)}`);
  }
});

async function mismatch(t: Transcript, i: number, pattern: RegExp, session = good): Promise<void> {
  const { call, args, transport } = replayOf(t, i);
  const out = await session.callJson(call, args, { transport });
  assert.ok(!out.ok, show(out));
  assert.equal(out.code, 'SANDBOX_REPLAY_MISMATCH', out.reason);
  assert.match(out.reason, pattern);
}

test('a request other than the recorded one is a mismatch naming both', async () => {
  const t = transcript((x) => {
    const ex = x.calls[0]?.exchanges[0];
    if (ex) ex.request.url = 'http://127.0.0.1:8443/plans/large';
  });
  await mismatch(t, 0, /request 1: expected GET http:\/\/127\.0\.0\.1:8443\/plans\/large, got GET http:\/\/127\.0\.0\.1:8443\/plans\/small/);
});

test('a body other than the recorded one is a mismatch; key order does not count', async () => {
  const t = transcript((x) => {
    const ex = x.calls[1]?.exchanges[0];
    if (ex) ex.request.body = { plan: 'small', days: 31, userData: '#cloud-config\n' };
  });
  await mismatch(t, 1, /request 1 \(POST http:\/\/127\.0\.0\.1:8443\/servers\): the body differs/);
});

test('a request beyond the recording, or recorded requests left unsent, fail the call', async () => {
  const short = transcript((x) => {
    if (x.calls[0]) x.calls[0].exchanges = [];
  });
  await mismatch(short, 0, /request 1 was GET http:\/\/127\.0\.0\.1:8443\/plans\/small, but the transcript has only 0/);
  const long = transcript((x) => {
    const c = x.calls[0];
    if (c?.exchanges[0]) c.exchanges.push(structuredClone(c.exchanges[0]));
  });
  await mismatch(long, 0, /1 recorded request\(s\) unsent, the first GET http:\/\/127\.0\.0\.1:8443\/plans\/small/);
});

test('a mismatch fails the call even when the script catches the error, and the replay caps the answer too', async () => {
  const opened = await SandboxSession.open({ source: fixture('hostile.js', { PORT: 8443, OTHER: 1 }), limits: { maxResponseBytes: 4096 } });
  assert.ok(opened.ok, show(opened));
  try {
    const exchange = (body: string) => ({ request: { method: 'GET' as const, url: 'http://127.0.0.1:8443/elsewhere' }, response: { status: 200, body } });
    const wrong = new ReplayTransport([exchange('small')]);
    const caught = await opened.session.call('quote', { plan: 'big', days: 1 }, { transport: wrong });
    assert.ok(!caught.ok);
    assert.equal(caught.code, 'SANDBOX_REPLAY_MISMATCH');
    assert.match(caught.log[0] ?? '', /^refused: replay mismatch/);
    const big = new ReplayTransport([{ ...exchange('z'.repeat(5000)), request: { method: 'GET', url: 'http://127.0.0.1:8443/big' } }]);
    const cut = await opened.session.call('quote', { plan: 'big', days: 1 }, { transport: big });
    assert.ok(cut.ok, show(cut));
    assert.match(cut.log[0] ?? '', /larger than 4096 bytes and was cut off/);
  } finally {
    opened.session.close();
  }
});

test('perturbed answers (a transport error, a 500, malformed JSON) end the call with the script\'s own error', async () => {
  const perturbed: [Transport, RegExp][] = [
    [{ send: () => Promise.reject(new TransportError('GET http://127.0.0.1:8443/plans/small: no answer within 15000 ms')) }, /HttpError: .*no answer within 15000 ms/],
    [{ send: () => Promise.resolve({ status: 500, headers: {}, body: 'oops' }) }, /SyntaxError/],
    [{ send: () => Promise.resolve({ status: 200, headers: {}, body: '{"satPerDay": ' }) }, /SyntaxError/],
  ];
  for (const [transport, reason] of perturbed) {
    const out = await good.call('quote', { plan: 'small', days: 30 }, { transport });
    assert.ok(!out.ok, show(out));
    assert.equal(out.code, 'SANDBOX_SCRIPT_ERROR');
    assert.match(out.reason, reason);
  }
  // An inflated price comes back as the script computes it: holding it to the quote is the payment check's job.
  const inflated = await good.call('quote', { plan: 'small', days: 30 }, { transport: { send: () => Promise.resolve({ status: 200, headers: {}, body: '{"satPerDay": 1e9}' }) } });
  assert.ok(inflated.ok, show(inflated));
  assert.equal(inflated.value.spawnSat, 30_000_000_000n);
});

test('malformed transcripts are refused with a reason', () => {
  const bad: [unknown, RegExp][] = [
    [null, /malformed/],
    [{ ...(RECORDED as object), format: 'storj-transcript/2' }, /\/format/],
    [{ ...(RECORDED as object), calls: [] }, /\/calls/],
    [{ ...(RECORDED as object), calls: [{ call: 'steal', args: {}, exchanges: [] }] }, /\/calls\/0\/call/],
    [{ ...(RECORDED as object), calls: [{ call: 'quote', args: {}, exchanges: [{ request: { method: 'TRACE', url: 'x' }, response: { status: 200 } }] }] }, /method/],
    [{ ...(RECORDED as object), calls: [{ call: 'quote', args: {}, exchanges: [{ request: { method: 'GET', url: 'x' }, response: { status: 700 } }] }] }, /status/],
  ];
  for (const [value, reason] of bad) {
    const out = parseTranscript(value);
    assert.ok(!out.ok, show(value));
    assert.match(out.reason, reason);
  }
});

test('sameJson ignores key order and takes a bigint for the same number', () => {
  assert.ok(sameJson({ a: 1, b: [1, { c: 2n, d: 'x' }] }, { b: [1, { d: 'x', c: 2 }], a: 1 }));
  assert.ok(!sameJson({ a: 1 }, { a: 2 }));
  assert.ok(!sameJson({ a: 1 }, { a: 1, b: 1 }));
  assert.ok(!sameJson([1, 2], [2, 1]));
});

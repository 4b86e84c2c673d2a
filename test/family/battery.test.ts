// The parent's test battery against a real second agent on the same devnet: every check passes for an honest child,
// and a child behind a small lying proxy (a wrong identity signature, another codeHash, an address from another
// wallet, corrupted bytes, garbage, a hanging answer) fails the check that catches the lie, with a detail saying
// what was expected and seen, while the other checks still run. The battery pays through the devnet's miner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDevnet, startTestAgent, type Ctx } from '../helpers/agent.ts';
import { INVESTOR, job, root } from './helpers.ts';
import { runBattery, BATTERY_CHECKS, type BatteryInput, type BatteryResult } from '../../src/family/battery.ts';
import { buildBundle } from '../../src/bundle/index.ts';
import type { BatteryPrices } from '../../src/family/battery/context.ts';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}
interface Seen {
  method: string;
  path: string;
  body: Buffer;
}
/** What the proxy does with one exchange: answer by itself (before the child is asked), change the child's answer, or hang. */
interface Lies {
  answer?: (req: Seen) => Answer | 'hang' | undefined;
  change?: (req: Seen, res: Answer) => Answer;
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host']);

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const json = (status: number, body: unknown): Answer => ({ status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) });

/** A proxy in front of `target` that tells the lies in `lies`; closed (hanging exchanges cut) when the test ends. */
async function proxy(t: Ctx, target: string, lies: Lies): Promise<string> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const seen: Seen = { method: req.method ?? 'GET', path: req.url ?? '/', body: await readAll(req) };
      let answer = lies.answer?.(seen);
      if (answer === 'hang') return;
      if (!answer) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !HOP.has(k)) headers[k] = v;
        const r = await fetch(`${target}${seen.path}`, { method: seen.method, headers, ...(seen.body.length > 0 ? { body: seen.body } : {}) });
        const out: Record<string, string> = {};
        r.headers.forEach((v, k) => {
          if (!HOP.has(k)) out[k] = v;
        });
        answer = { status: r.status, headers: out, body: Buffer.from(await r.arrayBuffer()) };
        if (lies.change) answer = lies.change(seen, answer);
      }
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
      res.end(answer.body);
    })().catch((e: unknown) => {
      res.writeHead(599);
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function byName(r: BatteryResult): Record<string, { passed: boolean; detail: string }> {
  assert.deepEqual(
    r.checks.map((c) => c.name),
    BATTERY_CHECKS,
    'every check runs, in order',
  );
  return Object.fromEntries(r.checks.map((c) => [c.name, c]));
}

/** Only `failing` failed, and each failing detail matches its pattern. */
function onlyFailed(r: BatteryResult, failing: Record<string, RegExp>): void {
  const checks = byName(r);
  for (const [name, c] of Object.entries(checks)) {
    const want = failing[name];
    if (want) {
      assert.equal(c.passed, false, `${name} should fail: ${c.detail}`);
      assert.match(c.detail, want, name);
    } else assert.equal(c.passed, true, `${name} should pass: ${c.detail}`);
  }
  assert.equal(r.passed, Object.keys(failing).length === 0);
}

test('the battery against a real child agent on the same devnet', async (t) => {
  const devnet = await startDevnet(t);
  // The parent runs the same code as the child: its codeHash is that of this tree's bundle.
  const { codeHash: CODE_HASH } = await buildBundle(root);
  // Downloads dear enough that two of the battery's 1 KiB file use up the smallest deposit: the 402 check then
  // really empties the file's balance instead of declaring it too costly to. The child takes this test's many
  // batteries from one address (a parent runs one per child): its rate limit and its open quotes per client are
  // raised to fit them.
  const child = await startTestAgent(t, { devnet, env: { STORJ_BANDWIDTH_COST_SAT_PER_GIB: '175000000', STORJ_RATE_LIMIT_MAX: '100000', STORJ_QUOTES_PER_CLIENT_MAX: '1000' } });
  const info = (await child.api<{ prices: { storageMsatPerGibDay: string; egressMsatPerGib: string; minimumDepositSat: number } }>('GET', '/v1/info')).body;
  const prices: BatteryPrices = {
    storageMsatPerGibDay: BigInt(info.prices.storageMsatPerGibDay),
    egressMsatPerGib: BigInt(info.prices.egressMsatPerGib),
    minimumDepositSat: BigInt(info.prices.minimumDepositSat),
  };
  const paid: Array<{ address: string; amountSat: bigint }> = [];
  const input = (url: string, over: Partial<BatteryInput> = {}): BatteryInput => ({
    child: { url, nodeId: child.agent.wallet.nodeId, codeHash: CODE_HASH, accountXpub: child.agent.wallet.accountXpub() },
    parent: { codeHash: CODE_HASH, network: 'regtest', prices },
    budgetSat: 100_000n,
    bounds: { timeoutMs: 20_000, xpubWindow: 200 },
    pay: async (address, amountSat) => {
      paid.push({ address, amountSat });
      return devnet.pay(address, amountSat);
    },
    // A block, and the child's watcher run now rather than on its 10 s schedule.
    mine: async () => {
      await devnet.mine(1);
      await job(child.api, 'watcher');
    },
    // No wait between looks at the payment: each look mines and runs the watcher first.
    sleep: () => Promise.resolve(),
    ...over,
  });

  await t.test('an honest child passes every check, and the battery reports what it paid', async () => {
    const before = paid.length;
    const r = await runBattery(input(child.agent.url));
    onlyFailed(r, {});
    const checks = byName(r);
    assert.match(checks['402']?.detail ?? '', /402 PAYMENT_REQUIRED.*; with \d+ msat left on the file, download \d+ answers 402 INSUFFICIENT_BALANCE asking \d+ sat/);
    assert.equal(paid.length, before + 1, 'one paid upload');
    const p = paid.at(-1);
    assert.ok(p);
    assert.equal(r.spentSat, p.amountSat);
    assert.ok(!JSON.stringify(r.checks).includes('Bearer'), 'no upload token in a detail');
  });

  await t.test('the same child through a proxy that forwards everything as it is passes every check', async (t) => {
    const r = await runBattery(input(await proxy(t, child.agent.url, {})));
    onlyFailed(r, {});
  });

  await t.test('a budget smaller than the quote: nothing is paid, and the paid checks fail saying so', async (t) => {
    const url = await proxy(t, child.agent.url, {});
    const before = paid.length;
    const r = await runBattery(input(url, { budgetSat: 10n }));
    onlyFailed(r, { 'upload-download': /over what is left of the battery's budget \(10 of 10 sat\)/, range: /no file/ });
    assert.equal(r.spentSat, 0n);
    assert.equal(paid.length, before);
  });

  await t.test('a signature over something else than the nonce fails identity', async (t) => {
    const url = await proxy(t, child.agent.url, {
      // The child's own key, over the nonce's bytes without the domain string.
      change: ({ method, path, body }, res) => {
        if (method !== 'POST' || path !== '/v1/identity' || res.status !== 200) return res;
        const { nonce } = JSON.parse(body.toString()) as { nonce: string };
        const signature = Buffer.from(child.agent.wallet.signIdentity(new Uint8Array(Buffer.from(nonce, 'hex')))).toString('hex');
        return json(200, { ...(JSON.parse(res.body.toString()) as object), signature });
      },
    });
    const r = await runBattery(input(url));
    onlyFailed(r, { identity: /does not verify with the registered nodeId/ });
  });

  await t.test('another agent\'s nodeId fails identity and info', async (t) => {
    const url = await proxy(t, child.agent.url, {});
    const r = await runBattery(input(url, { child: { ...input(url).child, nodeId: INVESTOR.nodeId } }));
    onlyFailed(r, { identity: /expected nodeId [0-9a-f]{64} \(registered\), got/, info: /nodeId [0-9a-f]{64} \(expected the registered/ });
  });

  await t.test('another codeHash in /v1/info fails codeHash', async (t) => {
    const other = 'ab'.repeat(32);
    const url = await proxy(t, child.agent.url, {
      change: ({ method, path }, res) => (method === 'GET' && path === '/v1/info' && res.status === 200 ? json(200, { ...(JSON.parse(res.body.toString()) as object), codeHash: other }) : res),
    });
    const r = await runBattery(input(url));
    onlyFailed(r, { codeHash: new RegExp(`expected codeHash ${CODE_HASH} \\(the parent's\\), got ${other}`) });
  });

  await t.test('a bundle that is not the parent\'s fails codeHash', async (t) => {
    const url = await proxy(t, child.agent.url, { answer: ({ path }) => (path === '/v1/bundle' ? { status: 200, headers: {}, body: Buffer.from('not the bundle') } : undefined) });
    const r = await runBattery(input(url));
    onlyFailed(r, { codeHash: /GET \/v1\/bundle: expected bytes with sha256 [0-9a-f]{64}, got 14 bytes with sha256/ });
  });

  await t.test('a quote to an address of another wallet fails xpub, and the battery pays nothing', async (t) => {
    const stranger = INVESTOR.deriveAddress(0, 7).address;
    const url = await proxy(
      t,
      child.agent.url,
      {
        change: ({ method, path }, res) => (method === 'POST' && path === '/v1/uploads' && res.status === 201 ? json(201, { ...(JSON.parse(res.body.toString()) as object), address: stranger }) : res),
      },
    );
    const before = paid.length;
    const r = await runBattery(input(url, { bounds: { timeoutMs: 20_000, xpubWindow: 50 } }));
    const notOurs = new RegExp(`the quote's address ${stranger} is not among the first 50 receive addresses of the registered accountXpub`);
    onlyFailed(r, { xpub: notOurs, 'upload-download': notOurs, range: /no file/, '402': /expected 402 PAYMENT_REQUIRED with the quote's \d+ sat to bcrt1/ });
    assert.equal(paid.length, before, 'nothing paid to an address the child does not hold');
    assert.equal(r.spentSat, 0n);
  });

  await t.test('a quote asking more than the prices allow fails upload-download, and the battery pays nothing', async (t) => {
    const url = await proxy(
      t,
      child.agent.url,
      {
        change: ({ method, path }, res) => {
          if (method !== 'POST' || path !== '/v1/uploads' || res.status !== 201) return res;
          const q = JSON.parse(res.body.toString()) as { amountSat: number };
          return json(201, { ...q, amountSat: q.amountSat * 10 });
        },
      },
    );
    const before = paid.length;
    const r = await runBattery(input(url));
    onlyFailed(r, {
      'upload-download': /the quote for 1024 bytes, 1 day and 2 downloads asks \d+ sat, more than the \d+ sat it would at the top of the price band/,
      range: /no file/,
      '402': /expected 402 PAYMENT_REQUIRED with the quote's \d+ sat/,
    });
    assert.equal(paid.length, before);
    assert.equal(r.spentSat, 0n);
  });

  await t.test('corrupted download bytes fail upload-download', async (t) => {
    const url = await proxy(
      t,
      child.agent.url,
      {
        change: ({ method, path }, res) => {
          if (method !== 'GET' || !path.startsWith('/f/') || res.status !== 200) return res;
          const body = Buffer.from(res.body);
          body[10] = (body[10] ?? 0) ^ 0xff;
          return { ...res, body };
        },
      },
    );
    const r = await runBattery(input(url));
    onlyFailed(r, { 'upload-download': /GET \/f\/:fileId: expected 1024 bytes with sha256 ([0-9a-f]{64}), got 1024 bytes with sha256 (?!\1)[0-9a-f]{64}/, range: /no file/ });
    assert.match(byName(r)['402']?.detail ?? '', /the used-up balance was not tried: the paid upload did not succeed/);
  });

  await t.test('garbage and a 500 fail the checks that read them', async (t) => {
    const url = await proxy(
      t,
      child.agent.url,
      {
        answer: ({ path }) => (path === '/healthz' ? { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"status": "ok"') } : path === '/v1/info' ? json(500, { error: 'boom' }) : undefined),
      },
    );
    const r = await runBattery(input(url));
    onlyFailed(r, { health: /GET \/healthz: the answer is not JSON/, info: /GET \/v1\/info: expected 200, got 500/, codeHash: /expected 200, got 500/, '402': /GET \/v1\/info: expected 200, got 500/ });
  });

  await t.test('prices outside the bounds of the parent\'s fail info', async (t) => {
    const url = await proxy(t, child.agent.url, {});
    const r = await runBattery(input(url, { parent: { codeHash: CODE_HASH, network: 'regtest', prices: { ...prices, egressMsatPerGib: prices.egressMsatPerGib * 3n } } }));
    onlyFailed(r, { info: /egressMsatPerGib \d+ \(expected \d+\.\.\d+, the parent's \d+ x 5000\.\.20000 bps\)/ });
  });

  await t.test('a hanging answer fails its check at the deadline, and the others still run', async (t) => {
    const url = await proxy(t, child.agent.url, { answer: ({ path }) => (path === '/healthz' ? 'hang' : undefined) });
    const r = await runBattery(input(url, { bounds: { timeoutMs: 3_000, xpubWindow: 200 } }));
    onlyFailed(r, { health: /GET \/healthz: no usable answer \(timeout: no answer within 3000 ms\)/ });
  });

  await t.test('a child that is not there fails every check, a bad bound fails them all, and the parent\'s abort ends the battery', async () => {
    const r = await runBattery(input('http://127.0.0.1:1'));
    assert.equal(r.passed, false);
    for (const c of r.checks) assert.equal(c.passed, false, c.name);
    assert.match(byName(r).health?.detail ?? '', /no usable answer \(network: ECONNREFUSED\)/);
    const bad = await runBattery(input(child.agent.url, { bounds: { fileBytes: 10 } }));
    assert.equal(bad.passed, false);
    for (const c of bad.checks) assert.match(c.detail, /the battery could not start .*bounds\.fileBytes must be an integer in 64\.\./, c.name);
    assert.equal(bad.spentSat, 0n);
    const ac = new AbortController();
    ac.abort(new Error('the parent stops'));
    await assert.rejects(runBattery(input(child.agent.url, { signal: ac.signal })), /the parent stops/);
  });
});

// The CLI's parts without a process: BIP21 URIs through bitcoinjs's bip21, media types through mime-types, the
// top-up suggestion through the agent's own pricing function, how any thrown thing becomes `error CODE: message`,
// and how --pay tells a devnet from any other agent without a request that could move money.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { CommanderError } from 'commander';
import { AgentError } from '../../src/errors/index.ts';
import { ceilDiv } from '../../src/money/index.ts';
import { AgentApi, remoteError } from '../../src/cli/client/api.ts';
import { bip21Address, paymentUri, withAmount } from '../../src/cli/client/bip21.ts';
import { requireDevnet } from '../../src/cli/client/devnet.ts';
import { dispositionName } from '../../src/cli/commands/download.ts';
import { suggestedTopUp } from '../../src/cli/commands/files.ts';
import { guessContentType } from '../../src/cli/commands/upload.ts';
import { failure } from '../../src/cli/render/errors.ts';
import { msatAsSat } from '../../src/cli/render/text.ts';

const ADDRESS = 'bcrt1qg77uncpl9cgfygqz7uv9yxq9w2neapjh385gp0';

test('BIP21: the amount is written exactly in BTC (1 sat is 0.00000001, never 1e-8) and the agent\'s label stays', () => {
  const agents = `bitcoin:${ADDRESS}?label=storj+file+abc`;
  assert.equal(withAmount(agents, 1n), `bitcoin:${ADDRESS}?amount=0.00000001&label=storj%20file%20abc`);
  assert.equal(withAmount(`bitcoin:${ADDRESS}?amount=0.001&label=x`, 5000n), `bitcoin:${ADDRESS}?amount=0.00005&label=x`);
  assert.equal(withAmount(agents, 2_100_000_000_000_000n), `bitcoin:${ADDRESS}?amount=21000000&label=storj%20file%20abc`);
  assert.equal(withAmount(agents, undefined), agents, 'without an amount, the agent\'s URI as it is');
  assert.equal(paymentUri(ADDRESS, 123_456_789n), `bitcoin:${ADDRESS}?amount=1.23456789`);
});

test('BIP21: the address a URI pays; anything else (another scheme, a bad amount, an escape sequence) is no URI', () => {
  assert.equal(bip21Address(`bitcoin:${ADDRESS}?amount=0.1&label=a+b`), ADDRESS);
  assert.equal(bip21Address(`BITCOIN:${ADDRESS}`), ADDRESS);
  for (const bad of [`litecoin:${ADDRESS}`, `bitcoin:${ADDRESS}?amount=-1`, `bitcoin:${ADDRESS}?amount=lots`, `bitcoin:${ADDRESS}\x1b[2J`, `bitcoin:${ADDRESS}?label=a b`, ADDRESS, '']) {
    assert.equal(bip21Address(bad), undefined, JSON.stringify(bad));
  }
});

test('media types come from mime-types by extension, case-insensitively; an unknown one sends none', () => {
  assert.equal(guessContentType('/tmp/photo.png'), 'image/png');
  assert.equal(guessContentType('PHOTO.JPG'), 'image/jpeg');
  assert.equal(guessContentType('notes.txt'), 'text/plain');
  assert.equal(guessContentType('a.tar.gz'), 'application/gzip');
  assert.equal(guessContentType('data.unknownext'), undefined);
  assert.equal(guessContentType('README'), undefined);
  assert.equal(guessContentType('.bashrc'), undefined);
});

test('the suggested top-up is the debt plus what the agent would quote for a day and a download (its own pricing function)', () => {
  const GIB = 1024n ** 3n;
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.bigInt({ min: 0n, max: 10n ** 6n }),
      (balanceMsat, size, storage, egress, minimum) => {
        const got = suggestedTopUp({ balanceMsat, size }, { network: 'regtest', storageMsatPerGibDay: storage, egressMsatPerGib: egress, minimumDepositSat: minimum });
        // The formula the CLI used to keep for itself, written out as the oracle.
        const debt = balanceMsat < 0n ? ceilDiv(-balanceMsat, 1000n) : 0n;
        const s = BigInt(size);
        const service = ceilDiv(ceilDiv(s * storage, GIB) + ceilDiv(s * egress, GIB), 1000n);
        assert.equal(got.debtSat, debt);
        assert.equal(got.amountSat, debt + (service > minimum ? service : minimum));
      },
    ),
  );
});

test('millisatoshis as satoshis with up to three decimals, exactly', () => {
  assert.equal(msatAsSat(0n), '0');
  assert.equal(msatAsSat(1n), '0.001');
  assert.equal(msatAsSat(12_340n), '12.34');
  assert.equal(msatAsSat(-12_345n), '-12.345');
  assert.equal(msatAsSat(10n ** 20n + 5n), '100000000000000000.005');
});

test('whatever is thrown becomes a code and a message: the API\'s, the catalogue\'s, BAD_REQUEST for commander, INTERNAL otherwise', () => {
  const frozen = failure(remoteError(402, JSON.stringify({ error: { code: 'FILE_FROZEN', message: 'pay first' }, address: ADDRESS, amountSat: 5 })));
  assert.deepEqual(frozen, { code: 'FILE_FROZEN', message: 'pay first', extra: { address: ADDRESS, amountSat: 5 } });
  assert.equal(failure(remoteError(404, '<html>nope</html>')).code, 'NOT_FOUND');
  assert.equal(failure(remoteError(500, 'not json')).code, 'AGENT_BAD_RESPONSE');
  assert.deepEqual(failure(new AgentError('WALLET_DUST', 'too small', { minSat: 294 })), { code: 'WALLET_DUST', message: 'too small', extra: { minSat: 294 } });
  assert.deepEqual(failure(new CommanderError(1, 'commander.missingArgument', "error: missing required argument 'file'")), { code: 'BAD_REQUEST', message: "missing required argument 'file'", extra: {} });
  assert.equal(failure(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })).code, 'STORAGE_FULL');
  const internal = failure(new TypeError('x is undefined'));
  assert.equal(internal.code, 'INTERNAL');
  assert.equal(internal.message, 'x is undefined');
  assert.equal(failure('a string').code, 'INTERNAL');
});

test('a hostile Content-Disposition names at most a plain file inside the directory', () => {
  assert.equal(dispositionName('attachment; filename="../../evil.txt"'), 'evil.txt');
  assert.equal(dispositionName("attachment; filename*=UTF-8''..%2F.hidden"), 'hidden');
  assert.equal(dispositionName('attachment; filename="\x1b[2Jx.txt"'), '[2Jx.txt');
  assert.equal(dispositionName('attachment; filename="..."'), undefined);
  assert.equal(dispositionName(null), undefined);
});

/** A stand-in agent that answers /v1/info with `network` and /v1/dev/* as `dev` says, recording every request. */
async function fakeAgent(t: { after: (fn: () => Promise<void>) => void }, network: string | undefined, dev: 'devnet' | 'absent'): Promise<{ base: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/v1/info' && network !== undefined) {
      return json(200, { network, prices: { storageMsatPerGibDay: '1000', egressMsatPerGib: '1000', minimumDepositSat: 1000 } });
    }
    if (req.url?.startsWith('/v1/dev/')) {
      if (dev === 'absent') return json(404, { error: { code: 'DEVNET_ONLY', message: 'devnet endpoints exist only on the embedded regtest chain' } });
      if (req.method === 'POST' && req.url === '/v1/dev/jobs/watcher') return json(200, { job: 'watcher', outcome: 'ok', startedAt: new Date(0).toISOString(), finishedAt: null, detail: null });
    }
    json(404, { error: { code: 'NOT_FOUND', message: 'no such thing' } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('--pay finds a devnet by GET /v1/info and the watcher job, and never sends a request that could pay', async (t) => {
  const devnet = await fakeAgent(t, 'regtest', 'devnet');
  await requireDevnet(new AgentApi(devnet.base));
  assert.deepEqual(devnet.seen, ['GET /v1/info', 'POST /v1/dev/jobs/watcher']);

  const isDevnetOnly = (e: unknown) => e instanceof AgentError && e.code === 'DEVNET_ONLY' && /--pay works only with a devnet agent/.test(e.message);
  // A regtest agent on an external chain: its /v1/dev answers 404 DEVNET_ONLY.
  const plain = await fakeAgent(t, 'regtest', 'absent');
  await assert.rejects(requireDevnet(new AgentApi(plain.base)), isDevnetOnly);
  assert.deepEqual(plain.seen, ['GET /v1/info', 'POST /v1/dev/jobs/watcher']);
  // An agent on a real chain gets no POST at all.
  const mainnet = await fakeAgent(t, 'mainnet', 'devnet');
  await assert.rejects(requireDevnet(new AgentApi(mainnet.base)), isDevnetOnly);
  assert.deepEqual(mainnet.seen, ['GET /v1/info']);
  // Something that is no agent at all.
  const other = await fakeAgent(t, undefined, 'absent');
  await assert.rejects(requireDevnet(new AgentApi(other.base)), isDevnetOnly);
  assert.deepEqual(other.seen, ['GET /v1/info']);
});

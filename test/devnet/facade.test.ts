// The devnet's HTTP facade at its edges: how paths are read, the plain-text errors of the Esplora
// routes, the JSON errors of /dev with their messages, and bodies too large for either.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Devnet } from '../../src/devnet/index.ts';

interface Answer {
  status: number;
  type: string;
  body: string;
}

let dn: Devnet;
let base: URL;
before(async () => {
  // No blocks beyond genesis: every case here is about the HTTP edge, not the chain.
  dn = await Devnet.start({ initialBlocks: 0 });
  base = new URL(dn.url);
});
after(async () => {
  await dn.close();
});

/** A raw request (fetch would resolve `..` and refuse some paths before sending them). */
function raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers };
    const req = request({ host: base.hostname, port: base.port, method, path, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorOf(a: Answer): { code: string; message: string } {
  return (JSON.parse(a.body) as { error: { code: string; message: string } }).error;
}

const GENESIS = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206'; // regtest genesis block
const ZERO = '00'.repeat(32);

test('paths: trailing slashes and dot segments are resolved, a query string is ignored, HEAD is not a route', async () => {
  for (const path of ['/api/blocks/tip/height', '/api/blocks/tip/height/', '/api/blocks/tip/height//', '/api/blocks/tip/height?x=1', '/api/tx/../blocks/tip/height']) {
    const a = await raw('GET', path);
    assert.deepEqual([a.status, a.type, a.body], [200, 'text/plain; charset=utf-8', '0'], path);
  }
  assert.equal((await raw('GET', '/api/block-height/0')).body, GENESIS);
  assert.equal((await raw('GET', `/api/block/${GENESIS.toUpperCase()}/status`)).status, 200, 'hashes in either case');
  assert.deepEqual(await raw('GET', '/api/../etc/passwd'), { status: 404, type: 'text/plain; charset=utf-8', body: 'Not found' });
  assert.equal((await raw('HEAD', '/api/blocks/tip/height')).status, 404);
});

test('the Esplora routes answer errors in plain text, as esplora does', async () => {
  const cases: [string, number, string][] = [
    ['/api/tx/xyz', 400, 'Invalid transaction hash'],
    [`/api/tx/${ZERO}/status`, 404, 'Transaction not found'],
    ['/api/block/xyz/raw', 400, 'Invalid block hash'],
    [`/api/block/${ZERO}`, 404, 'Block not found'],
    ['/api/block-height/-1', 400, 'Invalid height'],
    ['/api/block-height/99999999999', 400, 'Invalid height'],
    ['/api/block-height/1', 404, 'Block not found'],
    ['/api/address/notanaddress/utxo', 400, 'Invalid Bitcoin address'],
    ['/api/address/bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080/txs/chain/xyz', 400, 'Invalid transaction hash'],
    ['/api/tx/%ZZ', 400, 'Invalid URL'],
    ['/api/nothing', 404, 'Not found'],
    ['/nothing', 404, 'Not found'],
  ];
  for (const [path, status, body] of cases) {
    assert.deepEqual(await raw('GET', path), { status, type: 'text/plain; charset=utf-8', body }, path);
  }
  const fees = await raw('GET', '/api/fee-estimates');
  assert.match(fees.type, /^application\/json/);
  assert.equal((JSON.parse(fees.body) as Record<string, number>)['1008'], 2);
});

test('a broadcast is read as hex whatever its Content-Type, and a refusal relays the RPC error', async () => {
  for (const headers of [{} as Record<string, string>, { 'content-type': 'text/plain' }, { 'content-type': 'application/json' }, { 'content-type': 'application/octet-stream' }]) {
    const a = await raw('POST', '/api/tx', '  00  \n', headers);
    assert.equal(a.status, 400, JSON.stringify(headers));
    assert.equal(a.body, 'sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}');
  }
  const empty = await raw('POST', '/api/tx');
  assert.deepEqual([empty.status, empty.body], [400, 'sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}']);
});

test('/dev refuses bad bodies with the JSON error body and a message naming what is wrong', async () => {
  const cases: [string, string | undefined, number, string, string][] = [
    ['/dev/mine', undefined, 400, 'BAD_REQUEST', 'blocks must be an integer'],
    ['/dev/mine', '', 400, 'BAD_REQUEST', 'blocks must be an integer'],
    ['/dev/mine', 'null', 400, 'BAD_REQUEST', 'the body must be a JSON object'],
    ['/dev/mine', '[]', 400, 'BAD_REQUEST', 'the body must be a JSON object'],
    ['/dev/mine', '{nope', 400, 'BAD_REQUEST', 'the body is not valid JSON'],
    ['/dev/mine', '{"blocks":"1"}', 400, 'BAD_REQUEST', 'blocks must be an integer'],
    ['/dev/mine', '{"blocks":1.5}', 400, 'BAD_REQUEST', 'blocks must be an integer from 1 to 1000'],
    ['/dev/mine', '{"blocks":1,"extra":1,"more":2}', 400, 'BAD_REQUEST', 'unknown field(s): extra, more'],
    ['/dev/mine', '{"blocks":1,"address":""}', 400, 'BAD_REQUEST', 'address must be a non-empty string'],
    ['/dev/pay', '{"amountSat":1000}', 400, 'BAD_REQUEST', 'address must be a non-empty string'],
    ['/dev/pay', '{"address":"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"}', 400, 'AMOUNT_INVALID', 'amountSat must be a positive integer number of satoshis'],
    ['/dev/reorg', '{"depth":1,"doubleSpend":"abc"}', 400, 'BAD_REQUEST', 'doubleSpend must be an array of txids'],
    ['/dev/reorg', '{"depth":1,"newBlocks":"2"}', 400, 'BAD_REQUEST', 'newBlocks must be an integer'],
    ['/dev/nothing', '{}', 404, 'NOT_FOUND', 'no devnet endpoint POST /dev/nothing'],
  ];
  for (const [path, body, status, code, message] of cases) {
    const a = await raw('POST', path, body);
    assert.equal(a.status, status, `${path} ${body}: ${a.body}`);
    assert.match(a.type, /^application\/json/);
    assert.deepEqual(errorOf(a), { code, message }, `${path} ${body}`);
  }
  assert.deepEqual(errorOf(await raw('GET', '/dev/pay/')), { code: 'NOT_FOUND', message: 'no devnet endpoint GET /dev/pay' });
  assert.equal(errorOf(await raw('GET', '/dev/%ZZ')).code, 'BAD_REQUEST');
  assert.equal(dn.height(), 0, 'no refused call mined anything');
});

test('a body over the limit is answered 413 in the shape of its part of the API, not a reset connection', async () => {
  const tx = await raw('POST', '/api/tx', Buffer.alloc(3 * 1024 * 1024, 0x61));
  assert.deepEqual(tx, { status: 413, type: 'text/plain; charset=utf-8', body: 'the body is larger than 2097152 bytes' });
  const dev = await raw('POST', '/dev/reorg', Buffer.alloc(100 * 1024, 0x20));
  assert.equal(dev.status, 413);
  assert.deepEqual(errorOf(dev), { code: 'PAYLOAD_TOO_LARGE', message: 'the body is larger than 65536 bytes' });
  // the server still answers
  assert.equal((await raw('GET', '/api/blocks/tip/height')).body, '0');
});

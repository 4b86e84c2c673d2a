// The in-memory devnet through its Esplora facade: payments, blocks, broadcast, reorgs, control endpoints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Block, Transaction, address, networks, payments } from 'bitcoinjs-lib';
import { Devnet } from '../../src/devnet/index.ts';
import { isAgentError } from '../../src/errors/index.ts';
import { getJson, getText, newKey, post, spend } from './helpers.ts';
import type { EsploraTx, EsploraUtxo } from './helpers.ts';

let dn: Devnet;
before(async () => {
  dn = await Devnet.start();
});
after(async () => {
  await dn.close();
});

test('a fresh devnet has 500 blocks and answers tip height and hash', async () => {
  assert.equal(dn.height(), 500);
  assert.equal((await getText(`${dn.url}/blocks/tip/height`)).body, String(dn.height()));
  assert.equal((await getText(`${dn.url}/blocks/tip/hash`)).body, dn.tipHash());
  assert.equal((await getText(`${dn.url}/block-height/${dn.height()}`)).body, dn.tipHash());
  const beyond = await getText(`${dn.url}/block-height/${dn.height() + 1}`);
  assert.equal(beyond.status, 404);
});

test('a faucet payment is an unconfirmed utxo, then confirmed after mining', async () => {
  const k = newKey();
  const txid = await dn.pay(k.address, 123_456n);
  const before = await getJson<EsploraUtxo[]>(`${dn.url}/address/${k.address}/utxo`);
  assert.deepEqual(before, [{ txid, vout: 0, value: 123_456, status: { confirmed: false } }]);
  assert.deepEqual(await getJson(`${dn.url}/tx/${txid}/status`), { confirmed: false });
  const mempoolTxs = await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs/mempool`);
  assert.deepEqual(mempoolTxs.map((t) => t.txid), [txid]);

  const { height, hashes } = await dn.mine(1);
  assert.equal(hashes.length, 1);
  const after = await getJson<EsploraUtxo[]>(`${dn.url}/address/${k.address}/utxo`);
  assert.equal(after.length, 1);
  assert.equal(after[0]?.status.confirmed, true);
  assert.equal(after[0]?.status.block_height, height);
  assert.equal(after[0]?.status.block_hash, hashes[0]);
  assert.equal(typeof after[0]?.status.block_time, 'number');
  assert.deepEqual(await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs/mempool`), []);
  const history = await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs`);
  assert.deepEqual(history.map((t) => t.txid), [txid]);
});

test('address history lists mempool first, then confirmed newest first, for that exact script', async () => {
  const k = newKey();
  const first = await dn.pay(k.address, 11_000n);
  await dn.mine(1);
  const second = await dn.pay(k.address, 12_000n);
  await dn.mine(1);
  const third = await dn.pay(k.address, 13_000n);
  const all = await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs`);
  assert.deepEqual(all.map((t) => t.txid), [third, second, first]);
  assert.deepEqual(all.map((t) => t.status.confirmed), [false, true, true]);
  const chain = await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs/chain`);
  assert.deepEqual(chain.map((t) => t.txid), [second, first]);
  assert.deepEqual((await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs/chain/${second}`)).map((t) => t.txid), [first]);

  // bcoin indexes by key hash alone: a P2PKH output of the same key must not show up under the P2WPKH address
  const legacy = payments.p2pkh({ hash: k.script.subarray(2), network: networks.regtest }).address ?? '';
  const legacyTx = await dn.pay(legacy, 14_000n);
  assert.equal((await getJson<EsploraUtxo[]>(`${dn.url}/address/${k.address}/utxo`)).length, 3);
  assert.deepEqual((await getJson<EsploraUtxo[]>(`${dn.url}/address/${legacy}/utxo`)).map((u) => u.txid), [legacyTx]);
  assert.ok(!(await getJson<EsploraTx[]>(`${dn.url}/address/${k.address}/txs`)).some((t) => t.txid === legacyTx));

  // and a taproot (bech32m) address, which bcoin 1.0.2 itself cannot parse, is paid and shown as esplora does
  const taproot = address.toBech32(Buffer.alloc(32, 9), 1, 'bcrt');
  const trTx = await dn.pay(taproot, 15_000n);
  const tr = await getJson<EsploraTx>(`${dn.url}/tx/${trTx}`);
  assert.ok(tr.vout.some((o) => o.scriptpubkey_type === 'v1_p2tr' && o.scriptpubkey_address === taproot && o.value === 15_000));
  assert.deepEqual((await getJson<EsploraUtxo[]>(`${dn.url}/address/${taproot}/utxo`)).map((u) => u.txid), [trTx]);
  await dn.mine(1);
});

test('the tx JSON has esplora shape and its fee is inputs minus outputs', async () => {
  const k = newKey();
  const txid = await dn.pay(k.address, 50_000n);
  const tx = await getJson<EsploraTx>(`${dn.url}/tx/${txid}`);
  assert.equal(tx.txid, txid);
  const out = tx.vout.find((o) => o.scriptpubkey_address === k.address);
  assert.deepEqual(out, { scriptpubkey: k.script.toString('hex'), scriptpubkey_type: 'v0_p2wpkh', scriptpubkey_address: k.address, value: 50_000 });
  const inSum = tx.vin.reduce((s, i) => s + (i.prevout?.value ?? 0), 0);
  const outSum = tx.vout.reduce((s, o) => s + o.value, 0);
  assert.ok(tx.fee > 0);
  assert.equal(tx.fee, inSum - outSum);
  assert.equal(tx.vin[0]?.witness?.length, 2, 'P2WPKH witness: signature and key');
  const hex = (await getText(`${dn.url}/tx/${txid}/hex`)).body;
  const parsed = Transaction.fromHex(hex);
  assert.equal(parsed.getId(), txid);
  assert.equal(tx.size, hex.length / 2);
  assert.equal(tx.weight, parsed.weight());
  const raw = Buffer.from(await (await fetch(`${dn.url}/tx/${txid}/raw`)).arrayBuffer());
  assert.equal(raw.toString('hex'), hex);
  // the faucet pays about 2 sat/vB (bcoin sizes the fee before signing, so a DER signature's
  // length can shift it by a byte or two), the same rate as the fee estimates
  const vsize = Math.ceil(tx.weight / 4);
  assert.ok(Math.abs(tx.fee - 2 * vsize) <= 4, `fee ${tx.fee} for ${vsize} vB`);
  const fees = await getJson<Record<string, number>>(`${dn.url}/fee-estimates`);
  assert.equal(fees['1'], 2);
  assert.equal(fees['144'], 2);
  await dn.mine(1);
});

test('the raw block hashes to the requested hash and contains the payment', async () => {
  const k = newKey();
  const txid = await dn.pay(k.address, 77_000n);
  const { hashes } = await dn.mine(1);
  const hash = hashes[0] ?? '';
  const res = await fetch(`${dn.url}/block/${hash}/raw`);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  const raw = Buffer.from(await res.arrayBuffer());
  const block = Block.fromBuffer(raw);
  assert.equal(block.getId(), hash);
  assert.ok(block.checkTxRoots(), 'merkle root and witness commitment hold');
  const paid = block.transactions?.find((t) => t.getId() === txid);
  assert.ok(paid, 'the payment is in the block');
  assert.ok(paid.outs.some((o) => Buffer.from(o.script).equals(k.script) && o.value === 77_000n));
  assert.equal((await getText(`${dn.url}/block/${hash}/header`)).body, raw.subarray(0, 80).toString('hex'));
  assert.deepEqual(await getJson(`${dn.url}/block/${hash}/txids`), block.transactions?.map((t) => t.getId()));

  const info = await getJson<Record<string, unknown>>(`${dn.url}/block/${hash}`);
  assert.equal(info.id, hash);
  assert.equal(info.height, dn.height());
  assert.equal(info.tx_count, 2);
  assert.equal(info.size, raw.length);
  assert.equal(info.previousblockhash, (await getText(`${dn.url}/block-height/${dn.height() - 1}`)).body);
  assert.equal(info.timestamp, block.timestamp);
  assert.deepEqual(await getJson(`${dn.url}/block/${hash}/status`), { in_best_chain: true, height: dn.height() });
  const status = await getJson<{ next_best?: string }>(`${dn.url}/block/${(await getText(`${dn.url}/block-height/${dn.height() - 1}`)).body}/status`);
  assert.equal(status.next_best, hash);
  const txStatus = await getJson(`${dn.url}/tx/${txid}/status`);
  assert.deepEqual(txStatus, { confirmed: true, block_height: dn.height(), block_hash: hash, block_time: block.timestamp });
});

test('many pays in a row, and concurrent ones, all succeed without mining', async () => {
  const keys = Array.from({ length: 12 }, () => newKey());
  const txids: string[] = [];
  for (const k of keys.slice(0, 6)) txids.push(await dn.pay(k.address, 10_000n));
  txids.push(...(await Promise.all(keys.slice(6).map((k) => dn.pay(k.address, 20_000n)))));
  assert.equal(new Set(txids).size, 12);
  for (const [i, k] of keys.entries()) {
    const utxos = await getJson<EsploraUtxo[]>(`${dn.url}/address/${k.address}/utxo`);
    assert.deepEqual(utxos, [{ txid: txids[i], vout: 0, value: i < 6 ? 10_000 : 20_000, status: { confirmed: false } }]);
  }
  const { hashes } = await dn.mine(1);
  const block = Block.fromBuffer(Buffer.from(await (await fetch(`${dn.url}/block/${hashes[0]}/raw`)).arrayBuffer()));
  const ids = new Set(block.transactions?.map((t) => t.getId()));
  for (const txid of txids) assert.ok(ids.has(txid), `${txid} mined`);
});

test('pays chain on unconfirmed faucet change when few coins are mature', async () => {
  // Coinbases of the first 500 blocks go elsewhere; the faucet then has only 2 mature coins.
  const elsewhere = newKey();
  const small = await Devnet.start({ initialBlocks: 0 });
  try {
    await small.mine(500, elsewhere.address);
    await small.mine(101);
    const txids: string[] = [];
    for (let i = 0; i < 8; i++) txids.push(await small.pay(newKey().address, 1_000_000n));
    assert.equal(new Set(txids).size, 8);
    const last = await getJson<EsploraTx>(`${small.url}/tx/${txids[7]}`);
    const parents = last.vin.map((i) => i.txid).filter((t) => txids.includes(t));
    assert.ok(parents.length > 0, 'the 8th pay spends change of an earlier, unconfirmed one');

    // double-spending it needs its unconfirmed parent mined first, in the same new block
    await small.reorg({ depth: 0, doubleSpend: [txids[7] ?? ''] });
    assert.equal((await getText(`${small.url}/tx/${txids[7]}`)).status, 404);
    for (const p of parents) assert.equal((await getJson<{ block_height: number }>(`${small.url}/tx/${p}/status`)).block_height, small.height());
    // the other seven (ancestors already in the conflict's block, the rest now) all confirm
    await small.mine(1);
    for (const t of txids.slice(0, 7)) assert.equal((await getJson<{ confirmed: boolean }>(`${small.url}/tx/${t}/status`)).confirmed, true);
    assert.equal((await getText(`${small.url}/tx/${txids[7]}`)).status, 404);
    await assert.rejects(small.pay(newKey().address, 1_000_000_000_000n), (e) => isAgentError(e, 'DEVNET_FAUCET_EMPTY'));
  } finally {
    await small.close();
  }
});

test('POST /api/tx rejects garbage with a clear reason', async () => {
  for (const body of ['not hex at all', 'abc', '00', 'deadbeef'.repeat(20)]) {
    const res = await post(`${dn.url}/tx`, body, true);
    assert.equal(res.status, 400, body);
    assert.match(res.body, /^sendrawtransaction RPC error: .*TX decode failed/);
  }
});

test('a transaction with a corrupted signature is rejected with the script failure; the intact one is accepted', async () => {
  const k = newKey();
  const fundTxid = await dn.pay(k.address, 100_000n);
  await dn.mine(1);
  const good = spend(k, { txid: fundTxid, vout: 0, value: 100_000 }, newKey().address);
  const bad = Transaction.fromBuffer(good.toBuffer());
  const sig = Buffer.from(bad.ins[0]?.witness[0] ?? []);
  sig[10] = (sig[10] ?? 0) ^ 0x01; // inside r: still DER, no longer a valid signature
  bad.setWitness(0, [sig, bad.ins[0]?.witness[1] ?? new Uint8Array()]);

  const res = await post(`${dn.url}/tx`, bad.toHex(), true);
  assert.equal(res.status, 400);
  assert.match(res.body, /^sendrawtransaction RPC error: /);
  // Bitcoin Core's wording: a bad segwit signature fails its mandatory (consensus) script flags
  assert.match(res.body, /"mandatory-script-verify-flag-failed \(Script evaluated without error but finished with a false\/empty top stack element\), input 0"/);
  await assert.rejects(dn.submitTx(bad.toHex()), (e) => isAgentError(e, 'CHAIN_TX_REJECTED') && /script-verify-flag/.test(e.message));

  const ok = await post(`${dn.url}/tx`, good.toHex(), true);
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.body, good.getId());
  // a repeated broadcast of a mempool transaction is harmless, as with bitcoind
  assert.equal((await post(`${dn.url}/tx`, good.toHex(), true)).body, good.getId());
  // spending the same coin again is a double spend
  const again = spend(k, { txid: fundTxid, vout: 0, value: 100_000 }, newKey().address, 900);
  const dbl = await post(`${dn.url}/tx`, again.toHex(), true);
  assert.equal(dbl.status, 400);
  assert.match(dbl.body, /txn-mempool-conflict/);
  await dn.mine(1);
});

test('a fee below the minimum relay fee is refused, as by bitcoind', async () => {
  const k = newKey();
  const fundTxid = await dn.pay(k.address, 100_000n);
  await dn.mine(1);
  const cheap = spend(k, { txid: fundTxid, vout: 0, value: 100_000 }, newKey().address, 10);
  const res = await post(`${dn.url}/tx`, cheap.toHex(), true);
  assert.equal(res.status, 400);
  assert.match(res.body, /min relay fee not met, \d+ < \d+/);
  const greedy = Transaction.fromBuffer(cheap.toBuffer());
  const out = greedy.outs[0];
  assert.ok(out);
  out.value = 200_000n; // more than the input holds (the signature no longer matters: amounts are checked first)
  const res2 = await post(`${dn.url}/tx`, greedy.toHex(), true);
  assert.equal(res2.status, 400);
  assert.match(res2.body, /bad-txns-in-belowout/);
});

test('reorg with doubleSpend removes a confirmed payment for good', async () => {
  const d = await Devnet.start();
  try {
    const k = newKey();
    const txid = await d.pay(k.address, 200_000n);
    const { height, hashes } = await d.mine(1);
    assert.equal((await getJson<EsploraUtxo[]>(`${d.url}/address/${k.address}/utxo`)).length, 1);

    const r = await d.reorg({ depth: 1, doubleSpend: [txid] });
    assert.deepEqual(r.removed, hashes);
    assert.equal(r.height, height + 1);
    assert.equal(d.height(), height + 1);
    assert.equal((await getText(`${d.url}/tx/${txid}/status`)).status, 404);
    assert.equal((await getText(`${d.url}/tx/${txid}`)).status, 404);
    assert.deepEqual(await getJson(`${d.url}/address/${k.address}/utxo`), []);
    assert.deepEqual(await getJson(`${d.url}/address/${k.address}/txs/mempool`), []);
    assert.deepEqual(await getJson(`${d.url}/block/${hashes[0]}/status`), { in_best_chain: false });
    assert.notEqual((await getText(`${d.url}/block-height/${height}`)).body, hashes[0]);

    // the conflict is in the new branch's first block; the original can never come back
    const newFirst = (await getText(`${d.url}/block-height/${height}`)).body;
    const block = Block.fromBuffer(Buffer.from(await (await fetch(`${d.url}/block/${newFirst}/raw`)).arrayBuffer()));
    assert.equal(block.transactions?.length, 2);
    await d.mine(2);
    assert.equal((await getText(`${d.url}/tx/${txid}`)).status, 404);
    assert.deepEqual(await getJson(`${d.url}/address/${k.address}/utxo`), []);
  } finally {
    await d.close();
  }
});

test('reorg without doubleSpend returns the payment to the mempool', async () => {
  const d = await Devnet.start();
  try {
    const k = newKey();
    const txid = await d.pay(k.address, 300_000n);
    const { hashes } = await d.mine(1);
    // the mempool is empty when the block is rewound (bcoin itself would then forget the tx)
    const r = await d.reorg({ depth: 1 });
    assert.deepEqual(r.removed, hashes);
    assert.deepEqual(await getJson(`${d.url}/tx/${txid}/status`), { confirmed: false });
    assert.deepEqual(await getJson(`${d.url}/address/${k.address}/utxo`), [{ txid, vout: 0, value: 300_000, status: { confirmed: false } }]);
    const { height } = await d.mine(1);
    assert.equal((await getJson<{ block_height: number }>(`${d.url}/tx/${txid}/status`)).block_height, height);
  } finally {
    await d.close();
  }
});

test('reorg deeper than one block, with a chain of payments and a double spend among them', async () => {
  const d = await Devnet.start();
  try {
    const keep = newKey();
    const gone = newKey();
    const keepTx = await d.pay(keep.address, 40_000n);
    await d.mine(1);
    const goneTx = await d.pay(gone.address, 60_000n);
    await d.mine(1);
    // a spend of the doomed payment dies with it
    const utxo = (await getJson<EsploraUtxo[]>(`${d.url}/address/${gone.address}/utxo`))[0];
    assert.ok(utxo);
    const child = spend(gone, utxo, newKey().address);
    assert.equal(await d.submitTx(child.toHex()), child.getId());

    const r = await d.reorg({ depth: 2, newBlocks: 4, doubleSpend: [goneTx] });
    assert.equal(r.removed.length, 2);
    assert.deepEqual(await getJson(`${d.url}/tx/${keepTx}/status`), { confirmed: false });
    assert.equal((await getText(`${d.url}/tx/${goneTx}`)).status, 404);
    assert.equal((await getText(`${d.url}/tx/${child.getId()}`)).status, 404);
    await d.mine(1);
    assert.equal((await getJson<{ confirmed: boolean }>(`${d.url}/tx/${keepTx}/status`)).confirmed, true);
  } finally {
    await d.close();
  }
});

test('doubleSpend of an unconfirmed payment at depth 0 evicts it and mines the conflict', async () => {
  const d = await Devnet.start();
  try {
    const k = newKey();
    const other = newKey();
    const txid = await d.pay(k.address, 500_000n);
    const bystander = await d.pay(other.address, 5_000n);
    const h = d.height();
    const r = await d.reorg({ depth: 0, doubleSpend: [txid] });
    assert.deepEqual(r.removed, []);
    assert.equal(r.height, h + 1);
    assert.equal((await getText(`${d.url}/tx/${txid}`)).status, 404);
    assert.deepEqual(await getJson(`${d.url}/address/${k.address}/utxo`), []);
    assert.deepEqual(await getJson(`${d.url}/address/${k.address}/txs/mempool`), []);
    // an unrelated mempool payment is untouched
    assert.deepEqual(await getJson(`${d.url}/tx/${bystander}/status`), { confirmed: false });
  } finally {
    await d.close();
  }
});

test('control endpoints work and validate their input', async () => {
  const k = newKey();
  const faucet = await getJson<{ address: string; balanceSat: number }>(`${dn.controlUrl}/faucet`);
  assert.equal(faucet.address, dn.faucetAddress);
  assert.ok(Number.isSafeInteger(faucet.balanceSat) && faucet.balanceSat > 0);

  const paid = await post(`${dn.controlUrl}/pay`, { address: k.address, amountSat: 25_000 });
  assert.equal(paid.status, 200, paid.body);
  const { txid } = paid.json as { txid: string };
  assert.match(txid, /^[0-9a-f]{64}$/);
  const mined = await post(`${dn.controlUrl}/mine`, { blocks: 2 });
  assert.equal(mined.status, 200);
  const m = mined.json as { height: number; hashes: string[] };
  assert.equal(m.height, dn.height());
  assert.equal(m.hashes.length, 2);
  assert.equal(m.hashes[1], dn.tipHash());
  const toKey = await post(`${dn.controlUrl}/mine`, { blocks: 1, address: k.address });
  assert.equal(toKey.status, 200);
  assert.equal((await getJson<EsploraUtxo[]>(`${dn.url}/address/${k.address}/utxo`)).length, 2, 'payment + coinbase');

  const cases: [string, unknown, number, string][] = [
    ['pay', { amountSat: 1000 }, 400, 'BAD_REQUEST'],
    ['pay', { address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amountSat: 1000 }, 400, 'WALLET_BAD_ADDRESS'],
    ['pay', { address: 'nonsense', amountSat: 1000 }, 400, 'WALLET_BAD_ADDRESS'],
    ['pay', { address: k.address, amountSat: -1 }, 400, 'AMOUNT_INVALID'],
    ['pay', { address: k.address, amountSat: 1.5 }, 400, 'AMOUNT_INVALID'],
    ['pay', { address: k.address, amountSat: '1000' }, 400, 'AMOUNT_INVALID'],
    ['pay', { address: k.address, amountSat: 100 }, 400, 'WALLET_DUST'],
    ['pay', { address: k.address, amountSat: 1000, extra: 1 }, 400, 'BAD_REQUEST'],
    ['mine', { blocks: 0 }, 400, 'BAD_REQUEST'],
    ['mine', { blocks: 1001 }, 400, 'BAD_REQUEST'],
    ['mine', { blocks: '1' }, 400, 'BAD_REQUEST'],
    ['mine', { blocks: 1, address: 'xyz' }, 400, 'WALLET_BAD_ADDRESS'],
    ['reorg', { depth: -1 }, 400, 'BAD_REQUEST'],
    ['reorg', { depth: 2, newBlocks: 2 }, 400, 'BAD_REQUEST'],
    ['reorg', { depth: 1, doubleSpend: ['abc'] }, 400, 'BAD_REQUEST'],
    ['reorg', { depth: 1, doubleSpend: 'abc' }, 400, 'BAD_REQUEST'],
    ['reorg', { depth: 1, doubleSpend: ['00'.repeat(32)] }, 404, 'NOT_FOUND'],
  ];
  const height = dn.height();
  for (const [path, body, status, code] of cases) {
    const res = await post(`${dn.controlUrl}/${path}`, body);
    assert.equal(res.status, status, `${path} ${JSON.stringify(body)}: ${res.body}`);
    assert.equal((res.json as { error: { code: string } }).error.code, code, `${path} ${JSON.stringify(body)}`);
  }
  assert.equal(dn.height(), height, 'no rejected call mined anything');
  const notJson = await post(`${dn.controlUrl}/pay`, '{nope', true);
  assert.equal(notJson.status, 400);
  assert.equal((notJson.json as { error: { code: string } }).error.code, 'BAD_REQUEST');
  const unknown = await post(`${dn.controlUrl}/nothing`, {});
  assert.equal(unknown.status, 404);
});

test('unknown routes are 404 and malformed hashes are 400', async () => {
  assert.equal((await getText(`${dn.url}/nothing/here`)).status, 404);
  assert.equal((await getText(`${dn.url}/../etc/passwd`)).status, 404);
  assert.equal((await getText(`${dn.url}/tx/${'ab'.repeat(32)}`)).status, 404);
  assert.equal((await getText(`${dn.url}/block/${'ab'.repeat(32)}`)).status, 404);
  assert.equal((await getText(`${dn.url}/tx/xyz`)).status, 400);
  assert.equal((await getText(`${dn.url}/tx/${'ab'.repeat(31)}/status`)).status, 400);
  assert.equal((await getText(`${dn.url}/block/nothex/raw`)).status, 400);
  assert.equal((await getText(`${dn.url}/block-height/-1`)).status, 400);
  assert.equal((await getText(`${dn.url}/address/notanaddress/utxo`)).status, 400);
  assert.equal((await getText(`${dn.url}/blocks/tip/nothing`)).status, 404);
});

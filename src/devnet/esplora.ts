/**
 * The Esplora-compatible routes under /api, answering with the shapes of Blockstream's
 * esplora/electrs (src/chain/esplora.ts is the client that reads them), because in
 * production the agent talks to mempool.space or a self-hosted electrs. As esplora does, errors are
 * plain text with an HTTP status, not the project's JSON envelope: a bad hash is 400 "Invalid
 * transaction hash", an unknown one 404 "Transaction not found", and a refused broadcast relays
 * bitcoind's JSON-RPC error after "sendrawtransaction RPC error: ".
 *
 * Where we differ from esplora: fee estimates are fixed (a regtest mempool has no fee market).
 */
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { isAgentError } from '../errors/index.ts';
import { addressToScript } from './address.ts';
import type { DevnetControl } from './control.ts';
import { blockJson, blockTxids, statusJson, txJson, utxoJson } from './esplora-json.ts';
import { FAUCET_FEE_RATE_SAT_PER_VB } from './faucet.ts';
import type { RegtestNode } from './node.ts';
import type { BlockRecord, TxRecord } from './queries.ts';

/** Esplora's fee-estimate targets: 1..25, 144, 504 and 1008 blocks. */
const FEE_TARGETS = [...Array.from({ length: 25 }, (_, i) => i + 1), 144, 504, 1008];
/** The hex of a 400,000-weight (standard maximum) transaction, with room. */
export const MAX_TX_BODY = 2 * 1024 * 1024;
/** Esplora: up to 50 mempool transactions plus the first 25 confirmed ones; 25 per page of /txs/chain. */
const MEMPOOL_PAGE = 50;
const CHAIN_PAGE = 25;

const TEXT = 'text/plain; charset=utf-8';

/** An answer with esplora's plain-text error body and an HTTP status. */
class EsploraError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A route's schema failures become this one esplora text (instead of fastify's validation message). */
const invalid =
  (status: number, message: string): ((errors: unknown) => Error) =>
  () =>
    new EsploraError(status, message);

const Hash = Type.String({ pattern: '^[0-9a-fA-F]{64}$' });
const BlockParams = Type.Object({ hash: Hash });
const TxParams = Type.Object({ txid: Hash });
const HeightParams = Type.Object({ height: Type.String({ pattern: '^\\d{1,10}$' }) });
const AddressParams = Type.Object({ address: Type.String() });
const ChainPageParams = Type.Object({ address: Type.String(), last: Hash });

const badBlockHash = { schemaErrorFormatter: invalid(400, 'Invalid block hash'), schema: { params: BlockParams } };
const badTxid = { schemaErrorFormatter: invalid(400, 'Invalid transaction hash'), schema: { params: TxParams } };

/** What the esplora text error for any thrown value is, and whether it is unexpected (to be logged). */
function esploraError(e: unknown): { status: number; body: string; unexpected: boolean } {
  if (e instanceof EsploraError) return { status: e.status, body: e.message, unexpected: false };
  if (isAgentError(e) && e.code === 'CHAIN_TX_REJECTED') {
    // electrs relays bitcoind's JSON-RPC error verbatim
    const rpcCode = typeof e.details?.rpcCode === 'number' ? e.details.rpcCode : -26;
    return { status: 400, body: `sendrawtransaction RPC error: ${JSON.stringify({ code: rpcCode, message: e.message })}`, unexpected: false };
  }
  if (isAgentError(e) && e.status < 500) return { status: e.status, body: e.message, unexpected: false };
  const fe = e as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: `the body is larger than ${MAX_TX_BODY} bytes`, unexpected: false };
  if (fe.code === 'FST_ERR_BAD_URL') return { status: 400, body: 'Invalid URL', unexpected: false };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, body: fe.message ?? 'Bad request', unexpected: false };
  return { status: 500, body: 'Internal error', unexpected: true };
}

/** Sends an esplora text error. */
export function sendEsploraError(reply: FastifyReply, e: unknown, log: (line: string) => void): void {
  const answer = esploraError(e);
  if (answer.unexpected) log(`${reply.request.method} ${reply.request.url} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  void reply.status(answer.status).type(TEXT).send(answer.body);
}

/**
 * Registers the /api routes on `app` (a scope with the '/api' prefix).
 * @param control broadcasts through the devnet, so the facade and `Devnet.submitTx` check a body the same way.
 */
export function esploraRoutes(node: RegtestNode, control: DevnetControl): (app: FastifyInstance) => Promise<void> {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify's plugin signature
  return async (scope) => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const text = (reply: FastifyReply, body: string | number): FastifyReply => reply.type(TEXT).send(String(body));
    const json = (reply: FastifyReply, body: unknown): FastifyReply => reply.send(body);
    const binary = (reply: FastifyReply, body: Buffer): FastifyReply => reply.type('application/octet-stream').send(body);

    const findBlock = async (hash: string): Promise<BlockRecord> => {
      const block = await node.block(hash.toLowerCase());
      if (!block) throw new EsploraError(404, 'Block not found');
      return block;
    };
    const findTx = async (txid: string): Promise<TxRecord> => {
      const tx = await node.tx(txid.toLowerCase());
      if (!tx) throw new EsploraError(404, 'Transaction not found');
      return tx;
    };
    const script = (address: string): Buffer => {
      try {
        return addressToScript(address);
      } catch {
        throw new EsploraError(400, 'Invalid Bitcoin address');
      }
    };

    // A raw transaction in hex, whatever the Content-Type (esplora's clients send text/plain or none).
    app.post('/tx', async (req, reply) => text(reply, await control.submitTx((typeof req.body === 'string' ? req.body : '').trim())));

    app.get('/blocks/tip/height', (_req, reply) => text(reply, node.height));
    app.get('/blocks/tip/hash', (_req, reply) => text(reply, node.tipHash));
    app.get('/block-height/:height', { schemaErrorFormatter: invalid(400, 'Invalid height'), schema: { params: HeightParams } }, async (req, reply) => {
      const hash = await node.blockHashAt(Number(req.params.height));
      if (!hash) throw new EsploraError(404, 'Block not found');
      return text(reply, hash);
    });

    app.get('/block/:hash', badBlockHash, async (req, reply) => {
      const b = await findBlock(req.params.hash);
      return json(reply, blockJson(b.hash, b.height, b.medianTime, b.prevHash, b.raw));
    });
    app.get('/block/:hash/raw', badBlockHash, async (req, reply) => binary(reply, (await findBlock(req.params.hash)).raw));
    app.get('/block/:hash/header', badBlockHash, async (req, reply) => text(reply, (await findBlock(req.params.hash)).raw.subarray(0, 80).toString('hex')));
    app.get('/block/:hash/txids', badBlockHash, async (req, reply) => json(reply, blockTxids((await findBlock(req.params.hash)).raw)));
    app.get('/block/:hash/status', badBlockHash, async (req, reply) => {
      const b = await findBlock(req.params.hash);
      return json(reply, b.inBestChain ? { in_best_chain: true, height: b.height, ...(b.nextBest ? { next_best: b.nextBest } : {}) } : { in_best_chain: false });
    });

    app.get('/tx/:txid', badTxid, async (req, reply) => json(reply, txJson(await findTx(req.params.txid))));
    app.get('/tx/:txid/hex', badTxid, async (req, reply) => text(reply, (await findTx(req.params.txid)).raw.toString('hex')));
    app.get('/tx/:txid/raw', badTxid, async (req, reply) => binary(reply, (await findTx(req.params.txid)).raw));
    app.get('/tx/:txid/status', badTxid, async (req, reply) => json(reply, statusJson((await findTx(req.params.txid)).status)));

    app.get('/address/:address/utxo', { schema: { params: AddressParams } }, async (req, reply) =>
      json(reply, (await node.utxos(script(req.params.address))).map(utxoJson)),
    );
    app.get('/address/:address/txs', { schema: { params: AddressParams } }, async (req, reply) => {
      const history = await node.history(script(req.params.address));
      return json(reply, [...history.mempool.slice(0, MEMPOOL_PAGE), ...history.confirmed.slice(0, CHAIN_PAGE)].map(txJson));
    });
    app.get('/address/:address/txs/mempool', { schema: { params: AddressParams } }, async (req, reply) =>
      json(reply, (await node.history(script(req.params.address))).mempool.slice(0, MEMPOOL_PAGE).map(txJson)),
    );
    app.get('/address/:address/txs/chain', { schema: { params: AddressParams } }, async (req, reply) =>
      json(reply, (await node.history(script(req.params.address))).confirmed.slice(0, CHAIN_PAGE).map(txJson)),
    );
    app.get('/address/:address/txs/chain/:last', { schemaErrorFormatter: invalid(400, 'Invalid transaction hash'), schema: { params: ChainPageParams } }, async (req, reply) => {
      const { confirmed } = await node.history(script(req.params.address));
      const last = req.params.last.toLowerCase();
      const start = confirmed.findIndex((t) => t.txid === last) + 1;
      return json(reply, start === 0 ? [] : confirmed.slice(start, start + CHAIN_PAGE).map(txJson));
    });

    // A regtest mempool has no fee market: every target gets the faucet's own rate.
    app.get('/fee-estimates', (_req, reply) => json(reply, Object.fromEntries(FEE_TARGETS.map((t) => [String(t), FAUCET_FEE_RATE_SAT_PER_VB]))));
  };
}

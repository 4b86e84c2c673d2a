/**
 * The devnet's control endpoints under /dev: the faucet, mining and reorgs, for tests and for the
 * agent on regtest (src/agent/index.ts `devControlClient`). Unlike the Esplora routes, they answer
 * with the project's JSON error body `{"error": {"code", "message"}}`.
 */
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifySchemaValidationError } from 'fastify';
import { AgentError, isAgentError } from '../errors/index.ts';
import { satToJson } from '../money/index.ts';

/** What the /dev endpoints drive (implemented by Devnet). */
export interface DevnetControl {
  pay(address: string, amountSat: bigint): Promise<string>;
  mine(blocks: number, toAddress?: string): Promise<{ height: number; hashes: string[] }>;
  reorg(opts: { depth: number; newBlocks?: number; doubleSpend?: string[] }): Promise<{ height: number; removed: string[] }>;
  submitTx(hex: string): Promise<string>;
  faucet(): Promise<{ address: string; balanceSat: bigint }>;
}

const MAX_JSON_BODY = 64 * 1024;

// Numbers are checked as numbers here and as counts by Devnet (checkBlockCount), which names the range.
// amountSat takes any JSON value so that a wrong one is AMOUNT_INVALID, the code of every bad amount.
const PayBody = Type.Object({ address: Type.String({ minLength: 1 }), amountSat: Type.Optional(Type.Unknown()) }, { additionalProperties: false });
const MineBody = Type.Object({ blocks: Type.Number(), address: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });
const ReorgBody = Type.Object(
  { depth: Type.Number(), newBlocks: Type.Optional(Type.Number()), doubleSpend: Type.Optional(Type.Array(Type.String())) },
  { additionalProperties: false },
);

/** What each field must be, in the words of the error message. */
const FIELD_RULES: Record<string, string> = {
  address: 'address must be a non-empty string',
  blocks: 'blocks must be an integer',
  depth: 'depth must be an integer',
  newBlocks: 'newBlocks must be an integer',
  doubleSpend: 'doubleSpend must be an array of txids',
};

/** One message for a body's schema failures: its unknown fields first, else the first field that is wrong. */
function validationMessage(errors: FastifySchemaValidationError[]): string {
  const unknown = errors.filter((e) => e.keyword === 'additionalProperties').map((e) => String(e.params.additionalProperty));
  if (unknown.length > 0) return `unknown field(s): ${unknown.join(', ')}`;
  const first = errors[0];
  if (!first) return 'invalid request';
  if (first.instancePath === '' && first.keyword === 'type') return 'the body must be a JSON object';
  const field = first.keyword === 'required' ? String(first.params.missingProperty) : first.instancePath.split('/')[1];
  return (field !== undefined ? FIELD_RULES[field] : undefined) ?? `invalid request: ${first.message ?? 'bad body'}`;
}

/** The catalogue error for anything a /dev route or fastify threw. */
function controlError(e: unknown): AgentError | undefined {
  if (isAgentError(e)) return e;
  const fe = e as Partial<FastifyError>;
  if (fe.validation) return new AgentError('BAD_REQUEST', validationMessage(fe.validation));
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AgentError('PAYLOAD_TOO_LARGE', `the body is larger than ${MAX_JSON_BODY} bytes`);
  if (fe.code === 'FST_ERR_BAD_URL') return new AgentError('BAD_REQUEST', 'the URL has an invalid percent-encoding');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new AgentError('BAD_REQUEST', fe.message ?? 'bad request');
  return undefined;
}

/** Sends the JSON error body for `e`; anything unexpected is a 500 INTERNAL, logged, that says nothing of the inside. */
export function sendControlError(reply: FastifyReply, e: unknown, log: (line: string) => void): void {
  let err = controlError(e);
  if (!err || err.status >= 500) log(`${reply.request.method} ${reply.request.url} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  err ??= new AgentError('INTERNAL', 'internal error');
  void reply.status(err.status).send({ error: { code: err.code, message: err.message } });
}

/** Registers the /dev routes on `app` (a scope with the '/dev' prefix), with their own body parser, errors and 404. */
export function controlRoutes(control: DevnetControl, log: (line: string) => void): (app: FastifyInstance) => Promise<void> {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify's plugin signature
  return async (scope) => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    // A JSON body whatever the Content-Type (curl and fetch send text/plain by default); an empty one is {}.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_JSON_BODY }, (_req, body, done) => {
      const raw = String(body);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw === '' ? '{}' : raw);
      } catch {
        done(new AgentError('BAD_REQUEST', 'the body is not valid JSON'), undefined);
        return;
      }
      done(null, parsed);
    });
    app.addHook('preValidation', (req, _reply, done) => {
      // No body at all (no Content-Length) never reaches the parser; it means {} as an empty one does.
      if (req.body === undefined) req.body = {};
      done();
    });
    app.setErrorHandler((e, _req, reply) => sendControlError(reply, e, log));
    app.setNotFoundHandler((req, reply) => {
      sendControlError(reply, new AgentError('NOT_FOUND', `no devnet endpoint ${req.method} ${req.url.split('?')[0] ?? ''}`), log);
    });

    app.get('/faucet', async () => {
      const f = await control.faucet();
      return { address: f.address, balanceSat: satToJson(f.balanceSat) };
    });
    app.post('/pay', { schema: { body: PayBody } }, async (req) => {
      const { address, amountSat } = req.body;
      if (typeof amountSat !== 'number' || !Number.isSafeInteger(amountSat) || amountSat <= 0) {
        throw new AgentError('AMOUNT_INVALID', 'amountSat must be a positive integer number of satoshis');
      }
      return { txid: await control.pay(address, BigInt(amountSat)) };
    });
    app.post('/mine', { schema: { body: MineBody } }, async (req) => control.mine(req.body.blocks, req.body.address));
    app.post('/reorg', { schema: { body: ReorgBody } }, async (req) => control.reorg(req.body));
  };
}

/**
 * `storj dev`: the devnet's controls, on an agent that runs the embedded regtest chain (its `/v1/dev/*`
 * endpoints): move its clock (and the local cloud's with it), mine blocks, pay an address from the miner.
 */
import type { Command } from 'commander';
import { AgentError } from '../../errors/index.ts';
import { parseSat, satToJson } from '../../money/index.ts';
import { AgentApi, agentUrl, clean, RemoteError } from '../client/api.ts';
import { ADDRESS, parseTxid, record, str } from '../client/parse.ts';
import { makeUi } from '../render/ui.ts';

/** Ten years, the most the agent's POST /v1/dev/advance takes at once. */
const MAX_ADVANCE_SECONDS = 10 * 365 * 86_400;

function wholeNumber(raw: string, what: string, max: number): number {
  const n = /^[0-9]{1,12}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new AgentError('BAD_REQUEST', `${what} must be a whole number from 1 to ${max}, not ${clean(raw)}`);
  return n;
}

/** A devnet call; a 404 means the agent has no devnet controls (not on the embedded chain). */
async function devPost(api: AgentApi, path: string, body: unknown): Promise<Record<string, unknown>> {
  try {
    return record(await api.post(path, body), `POST ${path}`);
  } catch (e) {
    if (e instanceof RemoteError && e.status === 404) {
      throw new AgentError('DEVNET_ONLY', `${api.base} has no devnet controls: \`storj dev\` works only with an agent on the embedded regtest chain`);
    }
    throw e;
  }
}

/** Adds `dev advance`, `dev mine` and `dev pay` to `program`; `json` reads the global --json flag. */
export function registerDevCommands(program: Command, opts: { json: () => boolean }): void {
  const urlHelp = 'the agent (default: STORJ_URL, else http://STORJ_LISTEN, else http://127.0.0.1:8420)';
  const dev = program.command('dev').description("devnet only: the embedded regtest chain's controls, through the agent");
  dev
    .command('advance')
    .description("move the agent's clock (and its local cloud's) forward by SECONDS; scheduled work that fell due runs")
    .argument('<seconds>')
    .option('--url <agentUrl>', urlHelp)
    .action(async (seconds: string, o: { url?: string }) => {
      const ui = makeUi(opts.json());
      const n = wholeNumber(seconds, 'SECONDS', MAX_ADVANCE_SECONDS);
      const now = str(await devPost(new AgentApi(agentUrl(o.url)), '/v1/dev/advance', { seconds: n }), 'now', 'devnet clock', /^\d{4}-\d\d-\d\dT[0-9:.]+Z$/);
      ui.say(`now ${now}`);
      ui.emit({ now });
    });
  dev
    .command('mine')
    .description('mine N blocks (default 1)')
    .argument('[blocks]')
    .option('--url <agentUrl>', urlHelp)
    .action(async (blocks: string | undefined, o: { url?: string }) => {
      const ui = makeUi(opts.json());
      const r = await devPost(new AgentApi(agentUrl(o.url)), '/v1/dev/mine', { blocks: blocks === undefined ? 1 : wholeNumber(blocks, 'BLOCKS', 1000) });
      if (typeof r.height !== 'number') throw new AgentError('AGENT_BAD_RESPONSE', 'devnet mine: "height" is missing');
      ui.say(`height ${r.height}`);
      ui.emit({ height: r.height });
    });
  dev
    .command('pay')
    .description("pay AMOUNT satoshis to ADDRESS from the devnet's miner (unconfirmed until a block is mined)")
    .argument('<address>')
    .argument('<amountSat>')
    .option('--url <agentUrl>', urlHelp)
    .action(async (address: string, amount: string, o: { url?: string }) => {
      const ui = makeUi(opts.json());
      if (!ADDRESS.test(address)) throw new AgentError('BAD_REQUEST', `${clean(address)} is not a bitcoin address`);
      const amountSat = parseSat(amount);
      const txid = parseTxid(await devPost(new AgentApi(agentUrl(o.url)), '/v1/dev/pay', { address, amountSat: satToJson(amountSat) }));
      ui.say(`txid ${txid}`);
      ui.emit({ txid });
    });
}

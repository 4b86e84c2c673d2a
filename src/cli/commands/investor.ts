/**
 * The investor's commands: `storj propose` (sign and submit a spawn proposal, show its deposit as a bitcoin: URI
 * and QR code, pay it on the devnet with --pay), `storj proposal ID` and `storj proposals`. They speak only the
 * agent's public HTTP API, and sign with the investor's own key (wallet/signed.ts), kept in a file of its own.
 *
 * Credentials are read from a file, sent once in the signed body and never shown: not printed, not in --json
 * output, and taken out of any error the agent answers with, should it echo them.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../config/index.ts';
import { AgentError } from '../../errors/index.ts';
import { formatBtc, parseSat, satToJson } from '../../money/index.ts';
import { AgentApi, agentUrl, clean, RemoteError } from '../client/api.ts';
import { devPay, requireDevnet } from '../client/devnet.ts';
import { ADDRESS, ID } from '../client/parse.ts';
import { parseCreated, parseProposal, parseProposalList, type Proposal } from '../client/parse-proposal.ts';
import type { ProposalInput } from '../client/proposal.ts';
import { proposalJson, showProposal, showProposalList } from '../render/proposal.ts';
import { showPayment } from '../render/text.ts';
import { makeUi, type Ui } from '../render/ui.ts';

/** The key file's name in the data directory when --key is not given. */
const INVESTOR_KEY_FILE = 'investor.key';

interface ProposeOptions {
  script: string;
  transcript: string;
  investment: string;
  interest: string;
  payout: string;
  hosts?: string;
  credentials?: string;
  key?: string;
  url?: string;
  pay?: boolean;
}

/** A file's text; a file that cannot be read is the user's mistake, named with the flag. */
async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new AgentError('BAD_REQUEST', `${flag}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

/** The default key file: `<dataDir>/investor.key`, dataDir from --data-dir, else STORJ_DATA_DIR, else ~/.storj-agent. */
export function defaultKeyPath(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const c = loadConfig({ env: env.STORJ_DATA_DIR ? { STORJ_DATA_DIR: env.STORJ_DATA_DIR } : {}, overrides: dataDir ? { dataDir } : {}, readFile: false, requireChain: false });
  return join(c.dataDir, INVESTOR_KEY_FILE);
}

/**
 * `e` with every occurrence of `secret` taken out of its message and extra fields, for an agent that echoes the
 * request in its error. Other errors are the CLI's own and never hold the credentials.
 */
export function redacted(e: unknown, secret: string | undefined): unknown {
  if (secret === undefined || !(e instanceof RemoteError)) return e;
  const scrub = (s: string) => s.split(secret).join('[credentials]');
  const body = JSON.parse(scrub(JSON.stringify(e.body))) as Record<string, unknown>;
  return new RemoteError(e.code, scrub(e.message), e.status, body);
}

/** Checks every argument and reads every file, before the key is touched or anything is sent. */
async function proposalInput(o: ProposeOptions): Promise<ProposalInput> {
  // Loaded here, not with the file: the checks use the sandbox's, which no other command needs (docs/memory.md).
  const { credentialsFromText, parseBps, parseHosts, readTranscript } = await import('../client/proposal.ts');
  const investmentSat = parseSat(o.investment.trim(), '--investment');
  if (investmentSat === 0n) throw new AgentError('AMOUNT_INVALID', '--investment must be at least 1 sat (and cover the spawn and a month)');
  const interestBps = parseBps(o.interest);
  const payoutAddress = o.payout.trim();
  if (!ADDRESS.test(payoutAddress)) throw new AgentError('BAD_REQUEST', '--payout must be a bitcoin address on the agent\'s network');
  const script = await readText(o.script, '--script');
  if (script.trim() === '') throw new AgentError('BAD_REQUEST', `--script: ${o.script} is empty`);
  const terms = readTranscript(await readText(o.transcript, '--transcript'), `--transcript ${o.transcript}`);
  const hosts = o.hosts !== undefined ? parseHosts(o.hosts) : terms.hosts;
  if (hosts.length === 0) throw new AgentError('BAD_REQUEST', `--transcript ${o.transcript} records no request, so it names no host: give them with --hosts`);
  const credentials = o.credentials !== undefined ? credentialsFromText(await readText(o.credentials, '--credentials')) : undefined;
  return { provider: terms.provider, script, hosts, transcript: terms.transcript, ...(credentials !== undefined ? { credentials } : {}), quote: terms.quote, investmentSat, interestBps, payoutAddress };
}

async function getProposal(api: AgentApi, id: string): Promise<Proposal> {
  const p = parseProposal(await api.get(`/v1/proposals/${encodeURIComponent(id)}`));
  if (p.id !== id) throw new AgentError('AGENT_BAD_RESPONSE', `asked for proposal ${id}, the agent answered about ${p.id}`);
  return p;
}

async function propose(ui: Ui, o: ProposeOptions, dataDir: string | undefined): Promise<void> {
  const input = await proposalInput(o);
  const api = new AgentApi(agentUrl(o.url));
  // Before anything is signed or sent: --pay against an agent on a real chain must not leave a proposal behind.
  if (o.pay) await requireDevnet(api);
  const keyFile = o.key ?? defaultKeyPath(dataDir);
  const [{ ProposerKey }, { signedProposal }] = await Promise.all([import('../../../wallet/index.ts'), import('../client/proposal.ts')]);
  const { key, created: keyCreated } = ProposerKey.loadOrCreate(keyFile);

  let reply: unknown;
  try {
    reply = await api.post('/v1/proposals', signedProposal(input, key));
  } catch (e) {
    throw redacted(e, input.credentials);
  }
  const c = parseCreated(reply);
  const createdJson = { id: c.id, state: c.state, depositAddress: c.depositAddress, depositSat: satToJson(c.depositSat), bip21: c.bip21 };
  // The id comes first, so whoever is interrupted (or whose --pay fails) can come back to it.
  ui.emit({ proposal: createdJson });
  ui.say(`proposal ${c.id}: ${input.provider}, hosts ${input.hosts.join(', ')}; quote ${input.quote.spawnSat} sat to spawn, ${input.quote.monthlySat} sat a month`);
  ui.say(`signed with ${keyFile} (${keyCreated ? 'a new key, mode 0600: keep it, it identifies you as this proposal\'s investor' : 'your existing key'}), public key ${key.publicKeyHex}`);
  if (input.credentials !== undefined) ui.say('credentials sent; the agent keeps them sealed and never shows them again');
  ui.say(`deposit: pay ${c.depositSat} sat (${formatBtc(c.depositSat)} BTC) to ${c.depositAddress}:`);
  showPayment(ui, c.bip21);

  let txid: string | undefined;
  let state: string = c.state;
  if (o.pay) {
    txid = await devPay(api, c.depositAddress, c.depositSat);
    state = (await getProposal(api, c.id)).state;
    ui.say(`paid ${c.depositSat} sat from the devnet's miner (txid ${txid}) and mined a block; the proposal is ${state}`);
  }
  ui.say(`follow it: storj proposal ${c.id}${o.url ? ` --url ${api.base}` : ''}   (funded, then evaluated, each check listed)`);
  ui.emit({
    ...createdJson,
    state,
    provider: input.provider,
    hosts: input.hosts,
    quote: { spawnSat: satToJson(input.quote.spawnSat), monthlySat: satToJson(input.quote.monthlySat) },
    investmentSat: satToJson(input.investmentSat),
    interestBps: input.interestBps,
    payoutAddress: input.payoutAddress,
    withCredentials: input.credentials !== undefined,
    proposerKey: key.publicKeyHex,
    keyFile,
    keyCreated,
    ...(txid ? { txid } : {}),
  });
}

async function proposal(ui: Ui, id: string, o: { url?: string }): Promise<void> {
  if (!ID.test(id)) throw new AgentError('BAD_REQUEST', `${clean(id)} is not a proposal id`);
  const p = await getProposal(new AgentApi(agentUrl(o.url)), id);
  showProposal(ui, p);
  ui.emit(proposalJson(p));
}

async function proposals(ui: Ui, o: { url?: string }): Promise<void> {
  const ps = parseProposalList(await new AgentApi(agentUrl(o.url)).get('/v1/proposals'));
  showProposalList(ui, ps);
  ui.emit({ proposals: ps.map(proposalJson) });
}

/** Adds propose, proposal and proposals to `program`; `json` and `dataDir` read the global flags. */
export function registerInvestorCommands(program: Command, opts: { json: () => boolean; dataDir: () => string | undefined }): void {
  const urlHelp = 'the agent (default: STORJ_URL, else http://STORJ_LISTEN, else http://127.0.0.1:8420)';
  program
    .command('propose')
    .description(
      'sign and submit a spawn proposal, and show its deposit as a bitcoin: URI and QR code. The script is not run here: ' +
        "the provider and the quote ({spawnSat, monthlySat}) are read from the transcript (its provider and its first quote call's result), " +
        'and the hosts from the URLs of its recorded requests unless --hosts is given',
    )
    .requiredOption('--script <file>', 'the provider script (an ES module; spawn-scripts/README.md)')
    .requiredOption('--transcript <file>', 'its transcript (storj-transcript/1), which evaluation replays')
    .requiredOption('--investment <sat>', 'satoshis invested: at least the spawn cost plus one month; the deposit to pay')
    .requiredOption('--interest <bps>', 'interest asked on payback, in basis points (500 = 5%)')
    .requiredOption('--payout <address>', 'where payback and refunds go, on the agent\'s network')
    .option('--hosts <h1,h2>', 'the hosts the script may call (default: those of the transcript\'s requests)')
    .option('--credentials <file>', 'provider credentials (e.g. an API token), read from a file (one final line break dropped); sent sealed, never shown')
    .option('--key <file>', `your ed25519 key file, made (mode 0600) if missing (default: <dataDir>/${INVESTOR_KEY_FILE})`)
    .option('--url <agentUrl>', urlHelp)
    .option('--pay', "devnet only: pay the deposit from the devnet's miner and confirm it")
    .action((o: ProposeOptions) => propose(makeUi(opts.json()), o, opts.dataDir()));
  program
    .command('proposal')
    .description('a proposal: state, deposit, evaluation (each check), payments, refund, payback and history')
    .argument('<id>')
    .option('--url <agentUrl>', urlHelp)
    .action((id: string, o: { url?: string }) => proposal(makeUi(opts.json()), id, o));
  program
    .command('proposals')
    .description('every proposal, one line each')
    .option('--url <agentUrl>', urlHelp)
    .action((o: { url?: string }) => proposals(makeUi(opts.json()), o));
}

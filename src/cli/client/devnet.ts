/**
 * The devnet's controls (`/v1/dev/*`, present only on an agent that runs the embedded regtest chain), which
 * `--pay` uses so that a demo needs no wallet.
 */
import { AgentError } from '../../errors/index.ts';
import { satToJson } from '../../money/index.ts';
import { RemoteError, type AgentApi } from './api.ts';
import { parseInfo, parseTxid } from './parse.ts';

function devnetOnly(base: string): AgentError {
  return new AgentError('DEVNET_ONLY', `--pay works only with a devnet agent (regtest on the embedded chain), and ${base} has no /v1/dev endpoints; pay the bitcoin: URI with a wallet instead`);
}

/**
 * Fails before anything is quoted when the agent is not a devnet, by two requests that change nothing:
 * `GET /v1/info` must say `network: "regtest"` (so an agent on a real chain never gets a POST from --pay), and
 * `POST /v1/dev/jobs/watcher` must succeed. That runs the payment watcher's pass now, which every scheduled job
 * allows at any time (each is idempotent: src/scheduler), and which `--pay` runs after paying anyway; a regtest
 * agent on an external chain has no devnet controls and answers it 404 DEVNET_ONLY, as anything else answers 404.
 * @throws AgentError DEVNET_ONLY when the agent is not a devnet; the agent's error otherwise.
 */
export async function requireDevnet(api: AgentApi): Promise<void> {
  try {
    const info = parseInfo(await api.get('/v1/info'));
    if (info.network !== 'regtest') throw devnetOnly(api.base);
    await api.post('/v1/dev/jobs/watcher');
  } catch (e) {
    if (e instanceof RemoteError && e.status === 404) throw devnetOnly(api.base);
    throw e;
  }
}

/** Pays `amountSat` to `address` from the devnet's miner, confirms it in a block and lets the watcher see it now. */
export async function devPay(api: AgentApi, address: string, amountSat: bigint): Promise<string> {
  let txid: string;
  try {
    txid = parseTxid(await api.post('/v1/dev/pay', { address, amountSat: satToJson(amountSat) }));
  } catch (e) {
    if (e instanceof RemoteError && e.status === 404) throw devnetOnly(api.base);
    throw e;
  }
  await api.post('/v1/dev/mine', { blocks: 1 });
  await api.post('/v1/dev/jobs/watcher');
  return txid;
}

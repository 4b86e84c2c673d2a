// Small stand-ins shared by unit tests: a chain backend that answers only what a test gives it, and a counter of
// the statements and transactions compiled through a database handle.
import type { ChainBackend } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { AgentError } from '../../src/errors/index.ts';

/** A chain backend with the given methods; any other call fails with CHAIN_UNAVAILABLE, so a test sees what it did not expect. */
export function stubChain(answers: Partial<ChainBackend>): ChainBackend {
  const none = (): never => {
    throw new AgentError('CHAIN_UNAVAILABLE', 'not part of this test');
  };
  return {
    getTipHeight: none,
    getTipHash: none,
    getBlockHash: none,
    getBlockRaw: none,
    getTxHex: none,
    getTxStatus: none,
    getAddressUtxos: none,
    getAddressMempoolTxs: none,
    broadcast: none,
    getFeeEstimates: none,
    ...answers,
  };
}

/** Counts the statements prepared and the transaction functions made through `db` from now on. */
export function countCompiles(db: Db): { prepared: string[]; transactions: number } {
  const seen = { prepared: [] as string[], transactions: 0 };
  const prepare = db.prepare.bind(db);
  const transaction = db.transaction.bind(db);
  db.prepare = (sql: string) => (seen.prepared.push(sql), prepare(sql));
  db.transaction = ((fn: Parameters<Db['transaction']>[0]) => (seen.transactions++, transaction(fn))) as Db['transaction'];
  return seen;
}

/**
 * The payment watcher's `ours` over a database's address book, for tests that build a watcher without the
 * treasury (which answers it in the agent: Treasury.addressOfScript); the same one indexed lookup.
 */
export function ourScripts(db: Db): (script: Buffer) => string | undefined {
  const stmt = db.prepare<[Buffer], string>('SELECT address FROM wallet_addresses WHERE script = ?').pluck();
  return (script) => stmt.get(script);
}

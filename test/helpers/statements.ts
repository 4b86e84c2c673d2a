/**
 * What a database was asked to run, for tests that check plans and counts rather than times: every statement
 * run through `db` from now on, with its arguments, and a statement's query plan.
 */
import type { TestContext } from 'node:test';
import type { Db } from '../../src/db/index.ts';

/**
 * Records every statement run through `db` from now on (get, all, run, iterate), with its arguments, until the
 * test ends. Install it before the code under test is built: repositories prepare their statements once.
 */
export function recordStatements(t: TestContext, db: Db): Array<{ sql: string; args: unknown[] }> {
  const ran: Array<{ sql: string; args: unknown[] }> = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const stmt = prepare(sql);
    for (const method of ['get', 'all', 'run', 'iterate'] as const) {
      const real = stmt[method].bind(stmt);
      Object.defineProperty(stmt, method, { value: (...args: unknown[]) => (ran.push({ sql, args }), real(...args)) });
    }
    return stmt;
  }) as Db['prepare'];
  t.after(() => {
    db.prepare = prepare;
  });
  return ran;
}

/** The query plan of `sql` with `args`: EXPLAIN QUERY PLAN's details, one per step. */
export function plan(db: Db, sql: string, args: unknown[]): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail);
}

// Checks on the agent's errors, shared by the test files.
import assert from 'node:assert/strict';
import { isAgentError, type AgentError, type ErrorCode } from '../../src/errors/index.ts';

/**
 * Asserts that `action` (a promise, or a function that throws or returns one) fails with an AgentError carrying
 * `code`, and returns that error for further checks.
 */
export async function rejectsWith(action: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<AgentError> {
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (e) {
    if (!isAgentError(e)) return assert.fail(`expected AgentError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected AgentError ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  return assert.fail(`expected AgentError ${code}, but nothing was thrown`);
}

// For test/sandbox/session.test.ts: opens a sandbox session, runs one call, prints the worker's pid and never
// closes the session. The process must still exit by itself once its work is done.
import { SandboxSession } from '../../src/sandbox/index.ts';
import { fixture } from './helpers.ts';

const opened = await SandboxSession.open({ source: fixture('hostile.js', { PORT: 1, OTHER: 2 }) });
if (!opened.ok) throw new Error(opened.reason);
const out = await opened.session.call('quote', { plan: 'globals', days: 1 });
if (!out.ok) throw new Error(out.reason);
process.stdout.write(`${opened.session.pid}\n`);

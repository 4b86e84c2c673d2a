// A parent for test/process to kill with SIGKILL: starts the fixture child under a Supervisor, prints the child's
// pid and URL as one JSON line, and waits to be killed.
// Usage: node --import tsx test/process/fixture-parent.ts DIR outlive|bound
import { Supervisor } from '../../src/process/index.ts';
import { echoKind } from './kind.ts';

const [dir, mode] = process.argv.slice(2);
if (dir === undefined || (mode !== 'outlive' && mode !== 'bound')) throw new Error('usage: fixture-parent.ts DIR outlive|bound');
setInterval(() => undefined, 1 << 30);
const child = await new Supervisor(echoKind(mode === 'outlive'), dir).start(['--dir', dir]);
process.stdout.write(JSON.stringify({ pid: child.pid, url: child.url }) + '\n');

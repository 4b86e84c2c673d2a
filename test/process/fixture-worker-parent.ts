// A parent for test/process/worker.test.ts to kill with SIGKILL: starts fixture-worker.ts with startWorker, prints
// the worker's pid as one line once it answers, and waits to be killed.
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startWorker } from '../../src/process/index.ts';

setInterval(() => undefined, 1 << 30);
const { child } = startWorker(fileURLToPath(new URL('./fixture-worker.ts', import.meta.url)));
child.channel?.ref();
child.send({ ping: 1 });
await once(child, 'message');
process.stdout.write(`${child.pid}\n`);

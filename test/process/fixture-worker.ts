// A worker for test/process/worker.test.ts: answers each IPC message with what it sees of its environment, and
// ends when its parent is gone (src/process/child.ts).
import { watchParent } from '../../src/process/index.ts';

watchParent(() => process.exit(0));
process.on('message', (m: unknown) => {
  process.send?.({ echo: m, env: Object.keys(process.env) });
});

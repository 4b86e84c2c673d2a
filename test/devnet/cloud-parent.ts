// A parent for test/devnet/cloud-process.test.ts to kill with SIGKILL: starts the local cloud as the agent would
// (ensureCloudProcess), prints its pid and URL as one JSON line, and waits to be killed.
// Usage: node --import tsx test/devnet/cloud-parent.ts DIR ESPLORA_URL
import { ensureCloudProcess } from '../../src/devnet/index.ts';

const [dir, esploraUrl] = process.argv.slice(2);
if (dir === undefined || esploraUrl === undefined) throw new Error('usage: cloud-parent.ts DIR ESPLORA_URL');
setInterval(() => undefined, 1 << 30);
const cloud = await ensureCloudProcess(dir, { esploraUrl, port: 0, pollMs: 50 });
process.stdout.write(JSON.stringify({ pid: cloud.pid, url: cloud.url, started: cloud.started }) + '\n');

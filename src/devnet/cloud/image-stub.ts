/**
 * The image's `storj` command until the cloud is given the agent's own entry (`--storj-entry`): it listens on
 * 127.0.0.1:$PORT and answers every request with the image it runs on and the arguments it was given, so a test
 * sees the server booted from its user data. Started by src/devnet/cloud/image.ts, never in the cloud's process.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const root = process.env.STORJ_SERVER_ROOT ?? process.cwd();
const image = readFileSync(join(root, 'etc/storj-image'), 'utf8').trim();
const args = process.argv.slice(2);
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ image, serverId: process.env.STORJ_SERVER_ID ?? null, args }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));

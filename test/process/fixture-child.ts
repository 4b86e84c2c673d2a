// The supervised child of test/process: an HTTP server on 127.0.0.1:0 that answers GET /health with "ok" and
// announces its URL in its pid file. Its log (stderr) records what happened to it, for the tests to read.
// Usage: node --import tsx test/process/fixture-child.ts --dir DIR [--ignore-term] [--exit-before-ready CODE] [--never-ready]
// SIGUSR2 makes it stop answering while it keeps running (a hung child).
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { announce, watchParent, withdraw } from '../../src/process/index.ts';
import { echoKind } from './kind.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    'ignore-term': { type: 'boolean' },
    'exit-before-ready': { type: 'string' },
    'never-ready': { type: 'boolean' },
  },
});
const dir = values.dir;
if (dir === undefined) throw new Error('--dir is required');
const say = (line: string): void => void process.stderr.write(`${line}\n`);
say(`pid ${process.pid}`);
if (values['exit-before-ready'] !== undefined) {
  say('dying before ready');
  process.exit(Number(values['exit-before-ready']));
}

const kind = echoKind(false);
const keepAlive = setInterval(() => undefined, 1 << 30);
const server = createServer((req, res) => res.end(req.url === '/health' ? 'ok' : 'no'));
process.on('SIGTERM', () => {
  say('SIGTERM');
  if (values['ignore-term']) {
    say('ignoring SIGTERM');
    return;
  }
  server.close();
  server.closeAllConnections();
  void withdraw(kind, dir).then(() => {
    clearInterval(keepAlive);
    process.exit(0);
  });
});
process.on('SIGUSR2', () => {
  say('no longer answering');
  server.close();
  server.closeAllConnections();
});
watchParent(() => {
  say('parent gone');
  process.kill(process.pid, 'SIGTERM');
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  if (values['never-ready']) {
    say('never announcing');
    return;
  }
  void announce(kind, dir, { url: `http://127.0.0.1:${address.port}` }).then(() => say('ready'));
});

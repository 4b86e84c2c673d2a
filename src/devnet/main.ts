/**
 * Runs a devnet as its own process: `npx tsx src/devnet/main.ts --dir DIR [--port N] [--host H]`.
 * Writes DIR/devnet.json = {url, controlUrl, pid} once it answers; on SIGTERM/SIGINT closes the
 * chain cleanly and removes that file. If DIR already has a running devnet, prints its URL and
 * exits 0 instead of opening the same LevelDB twice.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Devnet } from './devnet.ts';
import { announce, runMain, stopOnSignals } from '../process/index.ts';
import { DEVNET, devnetSupervisor } from './process.ts';

const USAGE = 'usage: tsx src/devnet/main.ts --dir DIR [--port N] [--host H]';

async function main(): Promise<number> {
  let values: { dir?: string; port?: string; host?: string };
  try {
    ({ values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.dir === undefined) {
    console.error(USAGE);
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be 0..65535\n${USAGE}`);
    return 2;
  }
  const dir = resolve(values.dir);
  const supervisor = devnetSupervisor(dir);

  const running = await supervisor.live();
  if (running) {
    console.log(running.url);
    return 0;
  }

  let devnet: Devnet;
  const started = Date.now();
  try {
    devnet = await Devnet.start({ dir, port, host: values.host, log: (line) => console.error(`[devnet] ${line}`) });
  } catch (e) {
    // Another process may have opened this dir's LevelDB a moment before us (its lock refuses us):
    // give it time to answer, and defer to it.
    for (let i = 0; i < 100; i++) {
      const other = await supervisor.live();
      if (other) {
        console.log(other.url);
        return 0;
      }
      await sleep(100);
    }
    console.error(`devnet failed to start: ${(e as Error).message}`);
    return 1;
  }

  const info = { url: devnet.url, controlUrl: devnet.controlUrl, pid: process.pid };
  await announce(DEVNET, dir, { url: devnet.url, controlUrl: devnet.controlUrl });
  console.log(JSON.stringify({ ...info, height: devnet.height(), faucet: devnet.faucetAddress, startMs: Date.now() - started }));

  stopOnSignals(DEVNET, dir, 'devnet', () => devnet.close());
  return -1; // keep running: the HTTP server holds the event loop open
}

runMain(main);

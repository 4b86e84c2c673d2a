/**
 * Runs the local cloud as its own process:
 * `npx tsx src/devnet/cloud-main.ts --dir DIR --esplora URL [--port N] [--poll-ms N] [--storj-entry PATH] [--tampered-image]`.
 * Writes DIR/cloud.json = {url, pid} once it answers; on SIGTERM/SIGINT closes its API and removes that file.
 * If DIR already has a running cloud, prints its URL and exits 0.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { announce, runMain, stopOnSignals } from '../process/index.ts';
import { CLOUD, cloudSupervisor } from './cloud/process.ts';
import { DEFAULT_CLOUD_PORT, openCloud } from './cloud/run.ts';

const USAGE = 'usage: tsx src/devnet/cloud-main.ts --dir DIR --esplora URL [--port N] [--poll-ms N] [--storj-entry PATH] [--tampered-image]';

async function main(): Promise<number> {
  let values: { dir?: string; esplora?: string; port?: string; 'poll-ms'?: string; 'storj-entry'?: string; 'tampered-image'?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        dir: { type: 'string' },
        esplora: { type: 'string' },
        port: { type: 'string' },
        'poll-ms': { type: 'string' },
        'storj-entry': { type: 'string' },
        'tampered-image': { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.dir === undefined || values.esplora === undefined) {
    console.error(USAGE);
    return 2;
  }
  const port = values.port === undefined ? DEFAULT_CLOUD_PORT : Number(values.port);
  const pollMs = values['poll-ms'] === undefined ? 1000 : Number(values['poll-ms']);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(pollMs) || pollMs < 10) {
    console.error(`--port must be 0..65535 and --poll-ms at least 10\n${USAGE}`);
    return 2;
  }
  const dir = resolve(values.dir);
  const running = await cloudSupervisor(dir).live();
  if (running) {
    console.log(running.url);
    return 0;
  }
  const cloud = await openCloud({
    dir,
    esploraUrl: values.esplora,
    port,
    pollMs,
    ...(values['storj-entry'] === undefined ? {} : { storjEntry: resolve(values['storj-entry']) }),
    tamperedImage: values['tampered-image'] === true,
    log: (line) => console.error(`[cloud] ${line}`),
  });
  await announce(CLOUD, dir, { url: cloud.url });
  console.log(JSON.stringify({ url: cloud.url, pid: process.pid }));

  stopOnSignals(CLOUD, dir, 'cloud', () => cloud.close());
  return -1; // keep running: the HTTP server holds the event loop open
}

runMain(main);

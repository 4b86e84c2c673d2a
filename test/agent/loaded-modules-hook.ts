/**
 * Preloaded with `--import` into a process whose loaded modules a test (test/agent/idle-modules.test.ts) or a
 * measurement (docs/memory.md) wants to list. It records every module the ESM loader loads (through a load hook
 * in the hooks thread) and, on SIGUSR2 and at exit, writes them with every CommonJS module in require.cache to the
 * file named by STORJ_LOADED_MODULES, one file URL a line, then renames it into place so a reader never sees half.
 */
import { writeFileSync, renameSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const out = process.env.STORJ_LOADED_MODULES;
if (!out) throw new Error('STORJ_LOADED_MODULES names the file the loaded modules are written to');

// The hooks run in the loader's own thread: they only post each URL they load back to this one.
const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, nextLoad) {
  port.postMessage(url);
  return nextLoad(url, context);
}
`;

const loaded = new Set<string>();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: unknown) => {
  if (typeof url === 'string') loaded.add(url);
});
port1.unref();
register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { port: port2 }, transferList: [port2] });

const require = createRequire(import.meta.url);
const write = (): void => {
  const all = new Set(loaded);
  for (const path of Object.keys(require.cache)) all.add(pathToFileURL(path).href);
  writeFileSync(`${out}.tmp`, [...all].sort().join('\n') + '\n');
  renameSync(`${out}.tmp`, out);
};
process.on('SIGUSR2', write);
process.on('exit', write);

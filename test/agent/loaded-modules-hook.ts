/**
 * Preloaded with `--import` into a process whose loaded modules a test (test/agent/idle-modules.test.ts) or a
 * measurement (docs/memory.md) wants to list. It records every module the ESM loader loads (through a load hook
 * in the hooks thread) and, on SIGUSR2 and at exit, writes them with every CommonJS module in require.cache to the
 * file named by STORJ_LOADED_MODULES, one file URL a line, then renames it into place so a reader never sees half.
 *
 * It also wraps the calls that load ICU's locale, time zone and collation data (the `Intl` constructors, the
 * `toLocale*` methods, `localeCompare`, `normalize`) and, just before that list, writes to the file named
 * `<STORJ_LOADED_MODULES>.intl` the first call of each, one a line: its name, a tab, and where it was called from.
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

/** The first call of each wrapped ICU entry point: its name, and the stack frames below the wrapper. */
const intlCalls = new Map<string, string>();
function note(name: string): void {
  if (intlCalls.has(name)) return;
  const frames = (new Error().stack ?? '').split('\n').slice(3, 9).map((f) => f.trim());
  intlCalls.set(name, frames.join(' < '));
}
type Holder = Record<string, unknown>;
function wrap(holder: Holder, key: string, name: string): void {
  const original = holder[key];
  if (typeof original !== 'function') return;
  holder[key] = new Proxy(original, {
    construct(target, args, newTarget) {
      note(name);
      return Reflect.construct(target, args, newTarget) as object;
    },
    apply(target, self, args) {
      note(name);
      return Reflect.apply(target, self, args) as unknown;
    },
  });
}
const intl = Intl as unknown as Holder;
for (const key of ['Collator', 'DateTimeFormat', 'DisplayNames', 'ListFormat', 'Locale', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'Segmenter']) {
  wrap(intl, key, `Intl.${key}`);
}
for (const [proto, owner, keys] of [
  [Date.prototype, 'Date', ['toLocaleString', 'toLocaleDateString', 'toLocaleTimeString']],
  [Number.prototype, 'Number', ['toLocaleString']],
  [BigInt.prototype, 'BigInt', ['toLocaleString']],
  [Array.prototype, 'Array', ['toLocaleString']],
  [String.prototype, 'String', ['localeCompare', 'normalize', 'toLocaleLowerCase', 'toLocaleUpperCase']],
] as const) {
  for (const key of keys) wrap(proto as unknown as Holder, key, `${owner}.prototype.${key}`);
}

const require = createRequire(import.meta.url);
const write = (): void => {
  const calls = [...intlCalls].map(([name, where]) => `${name}\t${where}\n`).join('');
  writeFileSync(`${out}.intl.tmp`, calls);
  renameSync(`${out}.intl.tmp`, `${out}.intl`);
  const all = new Set(loaded);
  for (const path of Object.keys(require.cache)) all.add(pathToFileURL(path).href);
  writeFileSync(`${out}.tmp`, [...all].sort().join('\n') + '\n');
  renameSync(`${out}.tmp`, out);
};
process.on('SIGUSR2', write);
process.on('exit', write);

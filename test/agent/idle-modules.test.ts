/**
 * What a process loads is what it keeps in memory (docs/memory.md). `storj run` must not load the code only
 * other commands or later paths need (the customer's commands and their terminal rendering, the sandbox's
 * QuickJS, the devnet's bcoin when the chain is an Esplora URL), nor touch ICU's date and locale data, and the
 * customer's commands must not load the agent. Each process runs with test/agent/loaded-modules-hook.ts, which
 * lists every module it loaded and the first call of each `Intl` constructor and `toLocale*` method.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { agentEnv, initTestDataDir, listeningUrl, spawnCaptured, startDevnet, tempDir } from '../helpers/agent.ts';

const root = join(import.meta.dirname, '..', '..');
const HOOK = ['--import', 'tsx', '--import', './test/agent/loaded-modules-hook.ts'];

/** The packages and files in `urls` matching each pattern (a package name in node_modules, or a path in the repo). */
function matching(urls: readonly string[], patterns: readonly string[]): string[] {
  const repo = pathToFileURL(root).href;
  return patterns.filter((p) => urls.some((u) => (p.startsWith('/') ? u.startsWith(`${repo}${p}`) : u.includes(`/node_modules/${p}/`))));
}

/** Waits for the hook's list in `file` (written on SIGUSR2 or exit), up to `ms`. */
async function readList(file: string, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no module list in ${file} after ${ms} ms`);
    await sleep(50);
  }
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** The ICU entry points the hook saw called in the process that wrote `file`, by name, with where from. */
function intlCalls(file: string): Map<string, string> {
  const lines = readFileSync(`${file}.intl`, 'utf8').split('\n').filter(Boolean);
  return new Map(lines.map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]));
}

/**
 * What an idle agent must not call: each builds an `Intl.DateTimeFormat` (or a number or collation formatter),
 * which touches megabytes of ICU's data ("The node binary's pages" in docs/memory.md). The scheduler reads its
 * cron expressions on `Date`'s UTC fields (src/scheduler/cron.ts). `String.prototype.normalize` is not here: the
 * wallet normalises its passphrase and mnemonic at unlock, which touches a few pages.
 */
const NO_ICU_IN_AGENT = [
  'Intl.DateTimeFormat',
  'Intl.NumberFormat',
  'Intl.Collator',
  'Intl.PluralRules',
  'Intl.RelativeTimeFormat',
  'Date.prototype.toLocaleString',
  'Date.prototype.toLocaleDateString',
  'Date.prototype.toLocaleTimeString',
  'Number.prototype.toLocaleString',
  'String.prototype.localeCompare',
];

/** What no agent process needs until a request asks for it, or ever. */
const NOT_IN_AGENT = [
  'quickjs-emscripten',
  'qrcode-terminal',
  'cli-progress',
  'bcoin',
  // The OpenAPI document is built on its first request (src/http/openapi.ts).
  '@fastify/swagger',
  'yaml',
  'json-schema-resolver',
  // The metrics are rendered by src/metrics/exposition.ts, not by a library.
  'prom-client',
  '@opentelemetry/api',
  // TypeBox's Value (31 modules): the battery checks a child's answers with the compiler, which the sandbox
  // loads anyway (src/family/battery/probe.ts).
  '@sinclair/typebox/build/esm/value/value',
  '@sinclair/typebox/build/cjs/value/value',
  // The outbound client is node's http and https (src/net/transport.ts), not axios and what it pulls in.
  'axios',
  'follow-redirects',
  'form-data',
  'proxy-from-env',
  'https-proxy-agent',
  '/src/cli/commands/upload.ts',
  '/src/cli/commands/download.ts',
  '/src/cli/commands/files.ts',
  '/src/e2e/',
  '/src/devnet/',
  '/src/sandbox/guest.ts',
  '/src/sandbox/worker.ts',
];

test('storj run, once it listens, has not loaded what only other commands or later paths need', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  const list = join(tempDir(t, 'storj-modules-'), 'modules.txt');
  const { child, output, exited } = spawnCaptured(t, process.execPath, [...HOOK, 'src/cli/storj.ts', 'run'], { cwd: root, env: { ...process.env, ...agentEnv(dataDir, devnet), STORJ_LOADED_MODULES: list } }, 'SIGKILL');
  const url = await listeningUrl(child, output, exited, 60_000);
  // It answers, so it is wholly started.
  assert.equal((await fetch(`${url}/v1/info`)).status, 200);
  child.kill('SIGUSR2');
  const urls = await readList(list, 10_000);
  // The list is real: the agent and its server are in it.
  assert.deepEqual(matching(urls, ['fastify', 'better-sqlite3', '/src/agent/index.ts', '/src/cli/commands/operator.ts']).length, 4, urls.join('\n'));
  assert.deepEqual(matching(urls, NOT_IN_AGENT), [], 'loaded by an idle agent');
  const calls = intlCalls(list);
  assert.deepEqual(
    NO_ICU_IN_AGENT.filter((name) => calls.has(name)).map((name) => `${name} ${calls.get(name) ?? ''}`),
    [],
    'called by an idle agent',
  );
  // What is loaded late still works: the OpenAPI document, built on this first request, lists the routes.
  const doc = await fetch(`${url}/v1/openapi.json`);
  assert.equal(doc.status, 200);
  const body: unknown = await doc.json();
  assert.ok(typeof body === 'object' && body !== null && 'paths' in body && typeof body.paths === 'object' && body.paths !== null && '/v1/info' in body.paths, JSON.stringify(body).slice(0, 200));
  child.kill('SIGTERM');
  await exited;
});

test('the hook sees an Intl.DateTimeFormat made, and a number formatted for a locale', async (t) => {
  const list = join(tempDir(t, 'storj-modules-'), 'modules.txt');
  const code = "new Intl.DateTimeFormat('en-US', { timeZone: 'Etc/UTC' }).format(0); Intl.DateTimeFormat(); (1234).toLocaleString();";
  const { child, output, exited } = spawnCaptured(t, process.execPath, [...HOOK, '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, STORJ_LOADED_MODULES: list } }, 'SIGKILL');
  await exited;
  assert.equal(child.exitCode, 0, output());
  await readList(list, 10_000);
  assert.deepEqual([...intlCalls(list).keys()].sort(), ['Intl.DateTimeFormat', 'Number.prototype.toLocaleString']);
});

test("a customer's command loads neither the agent nor its server", async (t) => {
  const list = join(tempDir(t, 'storj-modules-'), 'modules.txt');
  // Nothing listens on port 9 (discard): the download fails at once, once its own code has loaded.
  const { child, output, exited } = spawnCaptured(t, process.execPath, [...HOOK, 'src/cli/storj.ts', 'download', '--url', 'http://127.0.0.1:9', 'f'.repeat(32)], { cwd: root, env: { ...process.env, STORJ_LOADED_MODULES: list } }, 'SIGKILL');
  await exited;
  assert.notEqual(child.exitCode, 0, output());
  assert.match(output(), /^error [A-Z_]+: /m);
  const urls = await readList(list, 10_000);
  assert.deepEqual(matching(urls, ['commander', '/src/cli/commands/download.ts']).length, 2, urls.join('\n'));
  assert.deepEqual(matching(urls, ['fastify', 'better-sqlite3', 'prom-client', '@fastify/swagger', 'bcoin', 'quickjs-emscripten', '/src/agent/', '/src/host/', '/src/db/', '/src/sandbox/', '/wallet/', 'bitcoinjs-lib', 'axios']), [], 'loaded by storj download');
});

/**
 * `npm run bench [-- NAME...]`: the benchmarks of README.md ("Benchmarks"), each a ratio against a reference measured
 * in the same run on the same machine (nginx for transfers, a raw UPDATE for the sweep). Names filter
 * (`npm run bench -- download`). Prints one line per benchmark and a summary table. Exits 0 whether or not a
 * target is met (the figures are for people to judge), non-zero only when something fails. Never asserts a
 * time and is not part of `npm test`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, findExecutable, GIB, type BenchResult } from './lib.ts';
import { findNginx } from './nginx.ts';
import { benchDownload, benchIdleRss, benchRss, benchUpload, TRANSFER_DISK_BYTES, TransferRig } from './transfer.ts';
import { benchSweep, SWEEP_DISK_BYTES } from './sweep.ts';
import { benchWatcher, WATCHER_DISK_BYTES } from './watcher.ts';
import { benchSmall } from './small.ts';
import { benchE2eBrowser, benchE2eDownload, benchE2eUpload, E2E_DISK_BYTES } from './e2e.ts';

// The sweep goes first, in a process that has hosted nothing else (the watcher's, next, builds only databases and blocks). Run after the transfer benchmarks (whose
// devnet lives in this process) the same sweep took 1.94-2.06x of its raw UPDATE instead of 1.49-1.66x, its own
// statements slowing by a quarter while the raw UPDATE's did not; the agent never hosts a devnet.
const BENCHES = ['sweep', 'watcher', 'download', 'upload', 'rss-idle', 'rss', 'small', 'e2e-cli-up', 'e2e-cli-down', 'e2e-browser'] as const;
type Name = (typeof BENCHES)[number];
const TRANSFERS: readonly Name[] = ['download', 'upload', 'rss-idle', 'rss', 'small', 'e2e-cli-up', 'e2e-cli-down', 'e2e-browser'];
const E2E: readonly Name[] = ['e2e-cli-up', 'e2e-cli-down', 'e2e-browser'];
const NEEDS_NGINX: readonly Name[] = ['download', 'upload', 'small'];

function usage(): string {
  return `usage: npm run bench [-- NAME...]   names: ${BENCHES.join(', ')} (a name matches any benchmark containing it)
  STORJ_BENCH_RUNS   timed runs of each side, median reported (default 3; more on a noisy machine)
  STORJ_BENCH_DIR    where the temp dir goes (default ${tmpdir()}; it needs ~${Math.ceil((TRANSFER_DISK_BYTES + SWEEP_DISK_BYTES + WATCHER_DISK_BYTES + E2E_DISK_BYTES) / GIB)} GiB free)`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    console.log(usage());
    return 0;
  }
  const names = args.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.includes(n)));
  if (unknown.length > 0 || names.length !== args.length) {
    console.error(`unknown benchmark or option: ${[...unknown, ...args.filter((a) => a.startsWith('-'))].join(' ')}\n${usage()}`);
    return 2;
  }
  const selected = BENCHES.filter((b) => names.length === 0 || names.some((n) => b.includes(n)));
  const transfers = selected.some((b) => TRANSFERS.includes(b));

  if (transfers) {
    // The agent and the CLI run from dist/ here, as `npm start` runs them: built now, so that a run of this file
    // alone (`npx tsx test/bench/run.ts`) never measures an older build.
    console.log('building dist/ (npm run build)');
    const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
    if (build.status !== 0) return 2;
  }

  // The tools the references need, checked before anything starts.
  let nginxPath: string | undefined;
  if (selected.some((b) => NEEDS_NGINX.includes(b))) {
    const found = findNginx();
    if ('problem' in found) {
      console.error(found.problem);
      return 2;
    }
    nginxPath = found.path;
  }
  if (transfers && !findExecutable(['curl'], ['--version'])) {
    console.error('curl is not installed; it is the HTTP client of the transfer benchmarks. Install it with:\n\n  apt-get install -y curl\n');
    return 2;
  }
  // wrk -v prints its version and exits 1: only whether it runs at all is asked.
  if (selected.includes('small') && spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error) {
    console.error('wrk is not installed; it is the HTTP client of the small benchmark. Install it with:\n\n  apt-get install -y wrk\n');
    return 2;
  }

  const parent = process.env.STORJ_BENCH_DIR ?? tmpdir();
  const needed = (transfers ? TRANSFER_DISK_BYTES : 0) + (selected.some((b) => E2E.includes(b)) ? E2E_DISK_BYTES : 0) + (selected.includes('sweep') ? SWEEP_DISK_BYTES : 0) + (selected.includes('watcher') ? WATCHER_DISK_BYTES : 0);
  const fs = statfsSync(parent);
  const free = fs.bavail * fs.bsize;
  if (free < needed) {
    console.error(`${parent} has ${(free / GIB).toFixed(1)} GiB free; the selected benchmarks need ${(needed / GIB).toFixed(0)} GiB. Set STORJ_BENCH_DIR to a roomier place.`);
    return 2;
  }

  const cleanup = new Cleanup();
  const root = mkdtempSync(join(parent, 'storj-bench-'));
  cleanup.add('temp dir', () => rmSync(root, { recursive: true, force: true }));
  // Ctrl-C or a kill still stops nginx, the agent and the devnet, and removes the temp dir.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void cleanup.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }

  const cpu = cpus();
  console.log(`storj-agent benchmarks: node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / GIB).toFixed(0)} GiB RAM, temp dir ${root}`);
  const results: BenchResult[] = [];
  const failed: string[] = [];
  let rig: Promise<TransferRig> | undefined;
  try {
    for (const name of selected) {
      try {
        // The previous benchmark's writes reach the disk first (nginx does not fsync the 1 GiB PUTs it takes),
        // so their write-back does not land in this one's timing.
        execFileSync('sync');
        let r: BenchResult;
        if (name === 'sweep') {
          r = await benchSweep(root);
        } else if (name === 'watcher') {
          r = await benchWatcher(root);
        } else {
          rig ??= TransferRig.open(root, cleanup, nginxPath, selected.includes('rss-idle') || selected.includes('rss'));
          const t = await rig;
          r = name === 'e2e-cli-up' ? await benchE2eUpload(t) : name === 'e2e-cli-down' ? await benchE2eDownload(t, root) : name === 'e2e-browser' ? await benchE2eBrowser(t, root) : name === 'download' ? await benchDownload(t) : name === 'upload' ? await benchUpload(t) : name === 'small' ? await benchSmall(t) : name === 'rss-idle' ? await benchIdleRss(t) : await benchRss(t);
        }
        results.push(r);
        console.log(r.line);
        for (const d of r.details ?? []) console.log(`    ${d}`);
      } catch (e) {
        failed.push(name);
        console.error(`${name}: ERROR ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  } finally {
    await cleanup.run();
  }

  const rows = [['bench', 'measured', 'reference', 'ratio', 'target', 'result'], ...results.map((r) => [r.name, r.measured, r.reference, r.ratio, r.target, r.target === '-' ? '-' : r.pass ? 'PASS' : 'MISS']), ...failed.map((n) => [n, '-', '-', '-', '-', 'ERROR'])];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  console.log('\nsummary');
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

/**
 * The commands the image ships, for its shell (./shell.ts): `mkdir -p`, `curl` (./curl.ts), `sha256sum -c`,
 * `tar -x` (./extract.ts), `npm ci` (skipped: the image ships the dependencies), and `systemctl daemon-reload` /
 * `enable --now UNIT`. Every path is the server's (mapped into its root, ./root-fs.ts). Each command throws
 * to fail; it returns a reason when it skipped its work.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { curl } from './curl.ts';
import { tarExtract } from './extract.ts';
import { checkInside, mkdirUnder, underRoot } from './root-fs.ts';
import type { ShellContext } from './shell-context.ts';


const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** The cloud's own package's node_modules (src/devnet/cloud is three folders under the package, four in dist/). */
const OWN_NODE_MODULES = fileURLToPath(new URL(FROM_SOURCE ? '../../../node_modules' : '../../../../node_modules', import.meta.url));

function mkdir(args: string[], ctx: ShellContext): undefined {
  if (args[0] !== '-p' || args.length < 2) throw new Error('the image ships `mkdir -p DIR...`');
  for (const dir of args.slice(1)) mkdirUnder(ctx.root, dir);
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** `sha256sum -c FILE`: every `HEX  PATH` line of FILE must match its file. */
async function sha256sum(args: string[], ctx: ShellContext): Promise<undefined> {
  if (args.length !== 2 || args[0] !== '-c') throw new Error('the image ships `sha256sum -c FILE`');
  const listPath = underRoot(ctx.root, args[1]!);
  checkInside(ctx.root, listPath, args[1]!);
  const lines = readFileSync(listPath, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`${args[1]}: no properly formatted checksum lines found`);
  let failed = 0;
  for (const line of lines) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`${args[1]}: a line that is not "SHA256  PATH": ${line}`);
    const path = underRoot(ctx.root, m[2]!);
    let ok: boolean;
    try {
      checkInside(ctx.root, path, m[2]!);
      ok = (await sha256File(path)) === m[1]!.toLowerCase();
    } catch {
      ok = false;
    }
    ctx.log(`sha256sum: ${m[2]}: ${ok ? 'OK' : 'FAILED'}`);
    if (!ok) failed++;
  }
  if (failed > 0) throw new Error(`${failed} computed checksum${failed === 1 ? '' : 's'} did NOT match`);
  return undefined;
}

/**
 * `npm ci|install [--omit=dev] [--prefix DIR]`: not run. The image ships the dependencies: it links DIR's
 * node_modules to the cloud's own package's (docs/local-cloud.md, "The image": the one shortcut).
 */
function npm(args: string[], ctx: ShellContext): string {
  if (args[0] !== 'ci' && args[0] !== 'install') throw new Error('the image ships `npm ci` and `npm install` only');
  let prefix = '/';
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--prefix') prefix = args[++i] ?? '';
    else if (!/^--(omit|include)=(dev|optional|peer)$/.test(a) && a !== '--production' && a !== '--no-audit' && a !== '--no-fund') {
      throw new Error(`npm option ${a} is not one the image knows`);
    }
  }
  if (prefix === '') throw new Error('--prefix needs a folder');
  const dir = underRoot(ctx.root, prefix);
  if (!existsSync(dir)) throw new Error(`${prefix} does not exist`);
  checkInside(ctx.root, dir, prefix);
  const link = underRoot(ctx.root, `${prefix}/node_modules`);
  let present = true;
  try {
    lstatSync(link);
  } catch {
    present = false;
  }
  if (present) return `the image ships the dependencies; ${prefix}/node_modules is already there`;
  symlinkSync(realpathSync(OWN_NODE_MODULES), link, 'dir');
  return `the image ships the dependencies: linked ${prefix}/node_modules to the cloud's own`;
}

function systemctl(args: string[], ctx: ShellContext): undefined {
  if (args.length === 1 && args[0] === 'daemon-reload') return undefined;
  const now = args[0] === 'start' || args[0] === 'restart' || (args[0] === 'enable' && args[1] === '--now');
  const units = args.slice(args[1] === '--now' ? 2 : 1);
  if (!(now || args[0] === 'enable') || units.length !== 1) throw new Error('the image ships `systemctl daemon-reload` and `systemctl enable --now UNIT`');
  const unit = units[0]!;
  if (!/^[A-Za-z0-9@._-]+\.service$/.test(unit)) throw new Error(`${unit} is not a .service unit`);
  // Enabled without --now, a unit would start at the next boot; this server boots once.
  if (now) ctx.startUnit(unit);
  return undefined;
}

/**
 * Runs one command of the image's shell.
 * @returns undefined when it ran, or why its work was skipped
 * @throws Error when it fails, or is not a command the image ships
 */
export async function runCommand(words: string[], ctx: ShellContext): Promise<string | undefined> {
  const [name, ...args] = words;
  switch (name) {
    case 'mkdir':
      return mkdir(args, ctx);
    case 'curl':
      return curl(args, ctx);
    case 'sha256sum':
      return sha256sum(args, ctx);
    case 'tar':
      return tarExtract(args, ctx);
    case 'npm':
      return npm(args, ctx);
    case 'systemctl':
      return systemctl(args, ctx);
    default:
      throw new Error(`${String(name)}: command not found (the image ships mkdir, curl, sha256sum, tar, npm and systemctl)`);
  }
}

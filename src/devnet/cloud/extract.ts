/**
 * The image's `tar -xzf FILE -C DIR`, with the `tar` package and a safe extraction: the archive is read whole
 * first, and one with an absolute path, a `..`, a link, a device or anything else but plain files and folders is
 * refused before a byte is written. A tampered image (a test-only switch, docs/local-cloud.md) then changes
 * one unpacked file, so the code the server runs is not the code it was sent.
 */
import { appendFileSync, lstatSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { list, extract, type ReadEntry } from 'tar';
import type { ShellContext } from './shell-context.ts';
import { checkInside, underRoot } from './root-fs.ts';

const SAFE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
/** The file a tampered image changes when the archive has it (the agent's composition root), else the first file. */
const TAMPER_TARGET = 'src/agent/index.ts';
const TAMPER_LINE = '\n// changed by the local cloud\'s tampered image (docs/local-cloud.md)\n';

/** Why an entry may not be extracted, or null when it may. */
function unsafe(entry: Pick<ReadEntry, 'path' | 'type'>): string | null {
  if (!SAFE_TYPES.has(entry.type)) return `${entry.path} is a ${entry.type}, and only files and folders are extracted`;
  if (entry.path.startsWith('/') || /^[A-Za-z]:/.test(entry.path)) return `${entry.path} is an absolute path`;
  if (entry.path.split(/[/\\]/).includes('..')) return `${entry.path} climbs out with ..`;
  return null;
}

function parseArgs(args: string[]): { file: string; dir: string } {
  let file: string | undefined;
  let dir = '/';
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-C' || a === '--directory') dir = args[++i] ?? '';
    else if (/^-?[xzfv]+$/.test(a) && (i === 0 || a.startsWith('-'))) {
      for (const ch of a.replace(/^-/, '')) flags.add(ch);
      if (a.includes('f')) file = args[++i];
    } else throw new Error(`tar argument ${a} is not one the image knows`);
  }
  if (!flags.has('x') || file === undefined || dir === '') throw new Error('the image ships `tar -xzf FILE -C DIR`');
  return { file, dir };
}

export async function tarExtract(args: string[], ctx: ShellContext): Promise<undefined> {
  const { file: fileArg, dir: dirArg } = parseArgs(args);
  const file = underRoot(ctx.root, fileArg);
  const dir = underRoot(ctx.root, dirArg);
  checkInside(ctx.root, file, fileArg);
  checkInside(ctx.root, dir, dirArg);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${dirArg}: cannot open: no such folder`);
  const refused: string[] = [];
  const files: string[] = [];
  await list({
    file,
    strict: true,
    onReadEntry: (entry) => {
      const why = unsafe(entry);
      if (why !== null) refused.push(why);
      else if (entry.type !== 'Directory') files.push(posix.normalize(entry.path));
    },
  });
  if (refused.length > 0) throw new Error(`refused an unsafe archive: ${refused.slice(0, 3).join('; ')}`);
  await extract({ file, cwd: dir, strict: true, preservePaths: false, filter: (_path, entry) => 'type' in entry && unsafe(entry) === null });
  if (ctx.tampered && files.length > 0) {
    const target = files.includes(TAMPER_TARGET) ? TAMPER_TARGET : [...files].sort()[0]!;
    const path = underRoot(dir, target);
    if (lstatSync(path).isFile()) {
      appendFileSync(path, TAMPER_LINE);
      ctx.log(`tampered image: changed ${posix.join(dirArg, target)}`);
    }
  }
  return undefined;
}

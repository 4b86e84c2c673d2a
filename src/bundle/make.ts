/**
 * The code bundle: a gzip'd tar of the package's runnable source, the same bytes for the same tree wherever it
 * lies and whoever owns it, so that its sha256 (the `codeHash`) names the code. docs/bundle.md gives the format.
 *
 * The tar is written here, entry by entry, with the `tar` package's header encoder (ustar, and a pax header
 * only for a path ustar cannot hold), rather than by its packer: the packer takes modes, owners and the order of
 * directory listings from the filesystem, and every one of those must be fixed for the bytes to be.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';
import { AgentError } from '../errors/index.ts';

/** The files at the package's root that the bundle holds: what `npm ci` and `node --import tsx` need. */
const ROOT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md'] as const;
/** The folders it holds, whole (less dotfiles and node_modules). */
const ROOT_DIRS = ['src', 'wallet', 'spawn-scripts'] as const;

const BLOCK = 512;
const EPOCH = new Date(0);
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
/**
 * zlib's default level (6): level 9 saves under 1% of this archive and takes longer. Node's gzip header has no
 * file name and a zero MTIME (RFC 1952: "no time stamp"), so the output depends only on the input, the level,
 * and the zlib that Node was built with.
 */
const GZIP_LEVEL = 6;

export interface Bundle {
  /** The gzip'd tar. */
  readonly bytes: Buffer;
  /** sha256 of `bytes`, lowercase hex. */
  readonly codeHash: string;
}

/** One archive entry: its path in the archive (a folder's ends in `/`) and where it is on disk. */
export interface BundleEntry {
  readonly path: string;
  readonly abs: string;
  readonly kind: 'file' | 'dir';
}

/** Names never bundled, wherever they are: dotfiles (editor and tool state) and installed dependencies. */
function skipped(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

async function kindOf(abs: string, path: string): Promise<'file' | 'dir'> {
  let s;
  try {
    s = await lstat(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new AgentError('BUNDLE_INVALID', `${abs} is missing: the bundle needs ${path}`);
    throw e;
  }
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'dir';
  throw new AgentError('BUNDLE_INVALID', `${abs} is neither a file nor a folder (a link?): the bundle holds only plain files and folders`);
}

async function walk(root: string, path: string, out: BundleEntry[]): Promise<void> {
  const abs = join(root, path);
  const kind = await kindOf(abs, path);
  if (kind === 'file') {
    out.push({ path, abs, kind });
    return;
  }
  out.push({ path: `${path}/`, abs, kind });
  for (const name of await readdir(abs)) if (!skipped(name)) await walk(root, `${path}/${name}`, out);
}

/** Orders paths by UTF-16 code unit, so the order is the same on every machine and locale. */
function byPath(a: BundleEntry, b: BundleEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * What the bundle of the tree at `root` holds, sorted by path: the root files, then every file and folder under
 * the root folders.
 * @throws AgentError BUNDLE_INVALID for a missing root file or folder, or a link or special file in the tree
 */
export async function bundleEntries(root: string): Promise<BundleEntry[]> {
  const out: BundleEntry[] = [];
  for (const path of [...ROOT_FILES, ...ROOT_DIRS]) await walk(root, path, out);
  return out.sort(byPath);
}

/** One entry's header block(s): ustar, after a pax header when the path does not fit ustar's fields. */
function headerBlocks(path: string, kind: 'file' | 'dir', size: number): Buffer[] {
  const fields = { path, mode: kind === 'dir' ? DIR_MODE : FILE_MODE, uid: 0, gid: 0, size, mtime: EPOCH, type: kind === 'dir' ? 'Directory' : 'File', uname: '', gname: '' } as const;
  const header = new Header(fields);
  const needPax = header.encode();
  if (!header.block) throw new AgentError('BUNDLE_INVALID', `the tar header of ${path} could not be written`);
  return needPax ? [new Pax({ path, mtime: EPOCH, uid: 0, gid: 0 }).encode(), header.block] : [header.block];
}

/**
 * Builds the bundle of the tree at `root` (the folder holding package.json): a deterministic gzip'd tar, and its
 * sha256. The same files with the same contents give the same bytes, whatever their mtimes, owners or modes, and
 * wherever the tree lies.
 * @throws AgentError BUNDLE_INVALID (see bundleEntries)
 */
export async function buildBundle(root: string): Promise<Bundle> {
  const entries = await bundleEntries(root);
  // One file at a time into the compressor, so the whole tar (1.4 MB today) is never in memory at once: what an
  // agent keeps after start-up is the compressed bytes. deflate's output does not depend on how its input is cut.
  async function* tar(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      const body = e.kind === 'file' ? await readFile(e.abs) : undefined;
      yield* headerBlocks(e.path, e.kind, body?.length ?? 0);
      if (body) {
        yield body;
        const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
        if (pad > 0) yield Buffer.alloc(pad);
      }
    }
    // The end of the archive: two zero blocks (POSIX ustar).
    yield Buffer.alloc(2 * BLOCK);
  }
  const gzip = createGzip({ level: GZIP_LEVEL });
  // pipeline destroys the compressor when reading a file fails, which rejects its consumer too.
  const [bytes] = await Promise.all([buffer(gzip), pipeline(Readable.from(tar()), gzip)]);
  return { bytes, codeHash: createHash('sha256').update(bytes).digest('hex') };
}

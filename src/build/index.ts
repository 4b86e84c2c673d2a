/**
 * The second half of `npm run build`: after tsc has compiled src/ and wallet/ into dist/, esbuild bundles the
 * `storj` command (src/cli/storj.ts) and the packages it imports into dist/bin/: `storj.js`, and a chunk for each
 * part the CLI loads only when a command needs it (its `import()`s). Parsing a few minified files instead of
 * about a thousand modules, and only the parts of each package that are used, is what brings an idle agent
 * under 80 MB (docs/memory.md, "The bundle").
 *
 * What the bundle does not hold, and why:
 * - the processes the agent starts (the sandbox's worker, the code bundle's, the devnet, the local cloud): they
 *   run from dist/src as before, found from their parent's path;
 * - packages that read files next to their own code or load a native addon or WebAssembly file from there
 *   (EXTERNAL): they are imported from node_modules at run time.
 *
 * A module of the repository that reads `import.meta.url` gets the URL of its own file in dist/ (a path relative
 * to the chunk, resolved at run time), so the paths it builds from it (src/web/assets, package.json, the workers'
 * entries) are the ones it builds when run from dist/src. A package in the bundle that reads its own location
 * would get the chunk's instead: the build fails naming it, unless it is in EXTERNAL or SELF_PATH_UNUSED.
 */
import { build, type Plugin } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../bundle/index.ts';

/** The repository's root, whether this runs as dist/src/build/index.js or from its source under tsx. */
const ROOT = packageRoot();
const OUT_DIR = join(ROOT, 'dist', 'bin');

/** Imported from node_modules at run time: each reads files beside its own code (its addon, wasm or worker files). */
const EXTERNAL = [
  'better-sqlite3', // its native addon, found by `bindings` from the package's own directory
  'bcoin', // the devnet's node, in the devnet's own process (and its leveldown addon)
  'quickjs-emscripten', '@jitl/*', // the sandbox's QuickJS, a wasm file beside the package's code
  'tiny-secp256k1', // its wasm file, read relative to the module
  'pino', 'thread-stream', 'sonic-boom', // fastify's logger: a transport runs in a worker started from pino's own files
  '@fastify/swagger', // reads its own package.json (and is loaded only by the first GET /v1/openapi.json)
  'tsx', 'esbuild', // the child's code bundle runs under tsx; esbuild is tsx's
];

/** Packages in the bundle whose code mentions its own location only on paths the agent never takes. */
const SELF_PATH_UNUSED = new Set([
  'commander', // only to find a subcommand's separate executable; the CLI defines its commands in process
]);

/** `node_modules/<name>` or `node_modules/@scope/<name>` of a path, or undefined outside node_modules. */
function packageOf(path: string): string | undefined {
  const parts = path.split(sep);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return undefined;
  const first = parts[i + 1] ?? '';
  return first.startsWith('@') ? `${first}/${parts[i + 2] ?? ''}` : first;
}

/**
 * Where the compiled form of the repository's source file `path` (a .ts file under src/ or wallet/) is,
 * relative to `outDir`: the URL its `import.meta.url` is rewritten to resolve against the chunk's own.
 */
function distPathFromBundle(path: string, outDir: string): string {
  const rel = relative(ROOT, path).replace(/\.ts$/, '.js');
  return relative(outDir, join(ROOT, 'dist', rel)).split(sep).join('/');
}

const SELF_PATH = /\b__dirname\b|\b__filename\b|\bimport\.meta\b/;

/** Rewrites the repository's `import.meta.url`s and refuses packages that would look for files beside the chunk. */
function selfPaths(outDir: string): Plugin {
  return {
    name: 'self-paths',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
        const pkg = packageOf(args.path);
        const source = await readFile(args.path, 'utf8');
        if (pkg !== undefined) {
          if (!SELF_PATH_UNUSED.has(pkg) && SELF_PATH.test(source)) {
            return { errors: [{ text: `${pkg} reads its own location (${relative(ROOT, args.path)}); add it to EXTERNAL in src/build/index.ts` }] };
          }
          return undefined;
        }
        // import.meta.resolve of a package's name resolves from the chunk as from the module (both look in the
        // repository's node_modules); of a relative path it would not.
        const other = /\bimport\.meta\.(?!url\b|resolve\(\s*['"`][^.'"`])[\w(]+/.exec(source);
        if (other) return { errors: [{ text: `${relative(ROOT, args.path)} reads ${other[0]}: of import.meta, only url and the resolve of a package's name work in the bundle` }] };
        const url = `new URL(${JSON.stringify(distPathFromBundle(args.path, outDir))}, import.meta.url).href`;
        return { contents: source.replaceAll('import.meta.url', url), loader: args.path.endsWith('.ts') ? 'ts' : 'js' };
      });
    },
  };
}

/** What fastify's lib/server.js may call of node:http2: the stand-in below has these and nothing else. */
const FASTIFY_HTTP2_USES = new Set(['createServer', 'createSecureServer']);

/**
 * fastify's lib/server.js requires node:http2 when it loads, for its `http2` option, which the agent never sets;
 * node's http2 brings tls with it, about 2 MiB at idle (docs/memory.md, "The bundle"). In the bundle fastify gets
 * a stand-in that requires node:http2 at its first call. The build fails if fastify calls anything else of it
 * (its comments' `http2.Http2...` types aside).
 */
const lazyHttp2ForFastify: Plugin = {
  name: 'lazy-http2-for-fastify',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http2$/ }, async (args) => {
      if (packageOf(args.importer) !== 'fastify') return undefined;
      const used = new Set([...(await readFile(args.importer, 'utf8')).matchAll(/\bhttp2\.(\w+)/g)].map((m) => m[1] ?? ''));
      const other = [...used].filter((name) => !FASTIFY_HTTP2_USES.has(name) && !name.startsWith('Http2'));
      if (other.length > 0) return { errors: [{ text: `${relative(ROOT, args.importer)} uses http2.${other.join(', http2.')}, which the stand-in lacks: add it to FASTIFY_HTTP2_USES in src/build/index.ts` }] };
      return { path: 'http2', namespace: 'lazy-http2' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-http2' }, () => ({
      loader: 'js',
      contents: [...FASTIFY_HTTP2_USES].map((name) => `exports.${name} = (...args) => require('node:http2').${name}(...args);`).join('\n'),
    }));
  },
};

export interface BundleOptions {
  /** The module bundled as `storj.js`; src/cli/storj.ts unless a test bundles another. */
  entry?: string;
  /** Where the bundle is written, emptied first; dist/bin unless a test writes elsewhere. */
  outDir?: string;
}

/**
 * Builds the bundle afresh (a chunk left from an earlier build would be harmless, but is removed).
 * @throws Error (esbuild's) naming each module that does not compile or reads its own location as above
 */
export async function bundle({ entry = join(ROOT, 'src', 'cli', 'storj.ts'), outDir = OUT_DIR }: BundleOptions = {}): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: { storj: entry },
    outdir: outDir,
    // Every chunk in outDir itself, as distPathFromBundle's paths are relative to it.
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Whitespace and syntax only: names are kept, so a stack trace still reads as the sources do.
    minifyWhitespace: true,
    minifySyntax: true,
    external: EXTERNAL,
    // The CommonJS packages in the bundle call `require` for node's own modules; an ES module has none.
    banner: { js: "import { createRequire as __storjCreateRequire } from 'node:module'; const require = __storjCreateRequire(import.meta.url);" },
    plugins: [selfPaths(outDir), lazyHttp2ForFastify],
    logLevel: 'warning',
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await bundle();

// The build's bundle (src/build/index.ts): the bundled `storj` finds what it reads relative to its modules
// (package.json for --version, here) where the compiled modules would, keeps the source's shebang with its node
// flags, and leaves the packages that read files beside their own code to node_modules. The build refuses a
// package in the bundle that reads its own location, a module of ours that reads more of import.meta than the
// bundle rewrites, and a fastify that uses more of node:http2 than the build's stand-in has. `npm start`
// (test/e2e/npm-start.test.ts) runs the real build's agent end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundle } from '../../src/build/index.ts';
import { tempDir } from '../helpers/agent.ts';

const root = join(import.meta.dirname, '..', '..');

test('the bundled storj reads its package.json from where the compiled module would, and keeps its shebang', async (t) => {
  const out = join(tempDir(t, 'storj-bundle-'), 'bin');
  await bundle({ outDir: out });
  const files = readdirSync(out);
  assert.ok(files.includes('storj.js'), `storj.js among ${files.join(', ')}`);
  assert.ok(files.length < 60, `a few dozen chunks, not a file per module: ${files.length}`);

  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const r = spawnSync(process.execPath, [join(out, 'storj.js'), '--version'], { cwd: tempDir(t), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);

  const code = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(out, f), 'utf8'));
  const shebang = readFileSync(join(root, 'src', 'cli', 'storj.ts'), 'utf8').split('\n')[0];
  assert.equal(readFileSync(join(out, 'storj.js'), 'utf8').split('\n')[0], shebang);
  // better-sqlite3 finds its addon from its own directory: it is imported, not inlined.
  assert.ok(code.some((c) => /from\s*"better-sqlite3"/.test(c)), 'better-sqlite3 stays in node_modules');
  assert.ok(!code.some((c) => c.includes('better_sqlite3.node')), 'none of better-sqlite3\'s code is in the bundle');
});

test('the build refuses a bundled package that reads its own location, and import.meta beyond url', async (t) => {
  const dir = tempDir(t, 'storj-bundle-refuse-');
  const pkg = join(dir, 'node_modules', 'reads-its-dir');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'reads-its-dir', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), "module.exports = require('node:path').join(__dirname, 'data.bin');\n");
  const usesPackage = join(dir, 'uses-package.ts');
  writeFileSync(usesPackage, "import where from 'reads-its-dir';\nconsole.log(where);\n");
  await assert.rejects(bundle({ entry: usesPackage, outDir: join(dir, 'out1') }), /reads-its-dir reads its own location/);

  const readsDirname = join(dir, 'reads-dirname.ts');
  writeFileSync(readsDirname, 'console.log(import.meta.dirname);\n');
  await assert.rejects(bundle({ entry: readsDirname, outDir: join(dir, 'out2') }), /reads import\.meta\.dirname/);

  const resolvesRelative = join(dir, 'resolves-relative.ts');
  writeFileSync(resolvesRelative, "console.log(import.meta.resolve('./x.js'));\n");
  await assert.rejects(bundle({ entry: resolvesRelative, outDir: join(dir, 'out3') }), /reads import\.meta\.resolve\(/);

  // fastify's node:http2 becomes a stand-in that loads it at the first call, unless fastify uses more of it.
  const fastify = join(dir, 'node_modules', 'fastify');
  mkdirSync(fastify, { recursive: true });
  writeFileSync(join(fastify, 'package.json'), JSON.stringify({ name: 'fastify', version: '5.0.0', main: 'index.js' }));
  const usesFastify = join(dir, 'uses-fastify.ts');
  writeFileSync(usesFastify, "import f from 'fastify';\nconsole.log(f);\n");
  writeFileSync(join(fastify, 'index.js'), "const http2 = require('node:http2');\nmodule.exports = (o) => o.http2 ? http2.createServer(o) : null;\n");
  await bundle({ entry: usesFastify, outDir: join(dir, 'out5') });
  const out5 = readdirSync(join(dir, 'out5')).map((f) => readFileSync(join(dir, 'out5', f), 'utf8')).join('\n');
  assert.match(out5, /=>\s*__require\("node:http2"\)\.createServer\(/, 'required at the first call');
  writeFileSync(join(fastify, 'index.js'), "const http2 = require('node:http2');\nmodule.exports = () => http2.connect('https://x');\n");
  await assert.rejects(bundle({ entry: usesFastify, outDir: join(dir, 'out6') }), /uses http2\.connect/);

  // What the bundle does rewrite builds: import.meta.url, and the resolve of a package's name.
  const fine = join(dir, 'fine.ts');
  writeFileSync(fine, "console.log(import.meta.url, import.meta.resolve('tsx'));\n");
  await bundle({ entry: fine, outDir: join(dir, 'out4') });
  assert.ok(readdirSync(join(dir, 'out4')).includes('storj.js'));
});

// A tiny app in the shape of the agent's bundle (docs/local-cloud.md, "The image"), packed with the `tar` package,
// and a loopback HTTP server that serves it as a parent serves GET /v1/bundle: for the image's tests of a real boot.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create, Header } from 'tar';

/** The app's server: answers every request with its argv, cwd and environment, and the file it was changed in. */
const APP = `import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), env: process.env, agent: readFileSync(new URL('../agent/index.ts', import.meta.url), 'utf8') }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;
export const AGENT_FILE = 'export const original = true;\n';

/** The app's bytes (gzip'd tar) and their sha256, packed from a folder of `dir`. */
export async function appBundle(dir: string): Promise<{ bytes: Buffer; sha256: string }> {
  const src = join(dir, 'app-src');
  mkdirSync(join(src, 'src', 'cli'), { recursive: true });
  mkdirSync(join(src, 'src', 'agent'), { recursive: true });
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'tiny-app', version: '1.0.0', type: 'module' }));
  writeFileSync(join(src, 'src', 'cli', 'storj.ts'), APP);
  writeFileSync(join(src, 'src', 'agent', 'index.ts'), AGENT_FILE);
  const file = join(dir, 'app.tgz');
  await create({ gzip: true, cwd: src, file, portable: true }, ['package.json', 'src']);
  const bytes = readFileSync(file);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A gzip'd tar of the given entries, written header by header (for archives `tar` would not make: `..`, links). */
export function rawBundle(entries: Array<{ path: string; type: 'File' | 'SymbolicLink'; body?: string; linkpath?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = new Header({ path: e.path, type: e.type, size: body.length, mode: 0o644, mtime: new Date(0), ...(e.linkpath ? { linkpath: e.linkpath } : {}) });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Serves `bundles[path]` on loopback; any other path is a 404. `hold` keeps a path's answer back until released. */
export async function serveBundles(bundles: Map<string, Buffer>, hold?: { path: string; released: Promise<void> }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const body = bundles.get(req.url ?? '');
    const send = (): void => {
      if (!body) {
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      res.setHeader('content-type', 'application/gzip');
      res.end(body);
    };
    if (hold && req.url === hold.path) void hold.released.then(send);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('no address');
  return { url: `http://127.0.0.1:${addr.port}`, server };
}

/** User data in the spawn contract's shape (the parent's spawn renders it), naming `parentUrl`'s bundle. */
export function contractUserData(parentUrl: string, codeHash: string): string {
  const spawn = JSON.stringify({ parentUrl, parentNodeId: 'ab'.repeat(32), ticket: 'tkt', codeHash, network: 'regtest', esploraUrl: 'http://127.0.0.1:1' });
  return `#cloud-config
write_files:
  - path: /etc/storj/spawn.json
    permissions: '0600'
    content: |
      ${spawn}
  - path: /etc/storj/bundle.sha256
    permissions: '0644'
    content: |
      ${codeHash}  /opt/storj/bundle.tgz
  - path: /etc/systemd/system/storj-agent.service
    permissions: '0644'
    content: |
      [Unit]
      Description=storj-agent, a child of abababababababab
      After=network-online.target
      Wants=network-online.target
      [Service]
      WorkingDirectory=/opt/storj/app
      Environment=NODE_ENV=production
      ExecStart=/usr/bin/node --import tsx /opt/storj/app/src/cli/storj.ts run --spawn /etc/storj/spawn.json --data-dir /var/lib/storj
      Restart=always
      RestartSec=5
      [Install]
      WantedBy=multi-user.target
runcmd:
  - [sh, -c, "set -e; mkdir -p /opt/storj/app /var/lib/storj; curl -fsS --retry 5 -o /opt/storj/bundle.tgz ${parentUrl}/v1/bundle; sha256sum -c /etc/storj/bundle.sha256; tar -xzf /opt/storj/bundle.tgz -C /opt/storj/app; npm ci --omit=dev --prefix /opt/storj/app; systemctl daemon-reload; systemctl enable --now storj-agent.service"]
`;
}

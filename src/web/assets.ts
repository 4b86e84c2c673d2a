/**
 * The pages' files (./assets: HTML, CSS and JavaScript modules, no build step), read once when the agent starts and
 * served from memory. Each keeps its bytes, its media type and an ETag (the sha256 of the bytes), so a browser
 * revalidates for free.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  /** sha256 (hex) of body, sent quoted as the ETag. */
  readonly tag: string;
}

/** The media types of the files the pages are made of; a file of another kind in ./assets is not served. */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Names served under /assets/: plain names only, so a request can never climb out of the folder. */
export const ASSET_NAME = '^[a-z0-9][a-z0-9_-]*\\.[a-z]+$';
const NAME_RE = new RegExp(ASSET_NAME);

/** The folder of the pages' files: beside this file in the source, and in the source too when running the build (dist/ holds no copy). */
function assetsDir(): string {
  return fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './assets/' : '../../../src/web/assets/', import.meta.url));
}

export function asset(body: Buffer, contentType: string): Asset {
  return { body, contentType, tag: createHash('sha256').update(body).digest('hex') };
}

/**
 * Reads every file of ./assets. `fill` replaces each `{{name}}` in the HTML files by the value given (the agent's
 * own facts a page needs before its first request, such as whether the devnet controls exist).
 */
export function loadAssets(fill: Readonly<Record<string, string>>, dir: string = assetsDir()): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const name of readdirSync(dir).sort()) {
    const type = TYPES[extname(name)];
    if (!type || !NAME_RE.test(name)) continue;
    let body = readFileSync(join(dir, name));
    if (extname(name) === '.html') body = Buffer.from(body.toString('utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => fill[key] ?? m));
    out.set(name, asset(body, type));
  }
  return out;
}

/**
 * Reads the vendored scripts (name to file; see WebOptions.vendor in ./index.ts), once, as JavaScript.
 * @throws Error when a name is not a plain asset name or its file cannot be read
 */
export function loadVendor(files: Readonly<Record<string, string>>): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const [name, path] of Object.entries(files)) {
    if (!NAME_RE.test(name) || extname(name) !== '.js') throw new Error(`vendored script name ${JSON.stringify(name)} is not a plain name ending in .js`);
    out.set(name, asset(readFileSync(path), TYPES['.js'] ?? 'text/javascript'));
  }
  return out;
}

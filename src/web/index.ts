/**
 * The pages customers use in a browser (docs/web.md): `/` quotes, shows the payment as a QR code, uploads and hands
 * out the share link; `/s/:fileId` shows a shared file, its top-up code, and downloads it. Plain HTML, CSS and
 * JavaScript modules from ./assets, with no build step, served from memory under a strict Content-Security-Policy.
 */
import type { RoutePlugin } from '../http/index.ts';
import { loadAssets, loadVendor } from './assets.ts';
import { webRoutes } from './routes.ts';

export interface WebOptions {
  /** Whether the devnet controls (POST /v1/dev/pay, /v1/dev/mine) exist: the page then offers "pay with devnet". */
  devnet: boolean;
  /** Config `filesUrl`: the separate origin of customers' bytes, or empty when the agent serves them itself. */
  filesUrl: string;
  /**
   * Scripts of packages the pages load, served at /assets/vendor/<name>: each name (such as `tus.js`) to the file
   * of the installed package it is read from (e.g. `createRequire(import.meta.url).resolve('pkg/dist/x.min.js')`).
   */
  vendor?: Readonly<Record<string, string>>;
}

/** Reads the pages' files (once) and returns their routes. @throws Error when ./assets cannot be read */
export function web(opts: WebOptions): RoutePlugin {
  const assets = loadAssets({ devnet: opts.devnet ? 'true' : 'false', filesUrl: opts.filesUrl });
  const vendor = loadVendor(opts.vendor ?? {});
  return webRoutes({ assets, vendor, ...(opts.filesUrl ? { filesUrl: opts.filesUrl } : {}) });
}

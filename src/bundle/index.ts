/**
 * The code bundle (docs/bundle.md): the package's runnable source as a deterministic gzip'd tar, its sha256 (the
 * `codeHash` that names the code an agent runs), and the route that serves it to the children it spawns.
 */
import { fileURLToPath } from 'node:url';
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';

export { buildBundle } from './make.ts';
export { buildBundleApart } from './apart.ts';
export { bundleRoutes } from './routes.ts';

/**
 * The root of the running code (the folder holding package.json): two folders up from src/bundle when running
 * from source, three from the build's dist/src/bundle. The bundle is always built from the source there.
 */
export function packageRoot(): string {
  return fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url)).replace(/\/$/, '');
}

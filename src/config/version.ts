import { readFileSync } from 'node:fs';

/** The package's version, from package.json two folders up from src/config, or three from the build's dist/src/config. */
export const VERSION: string = ((): string => {
  const root = new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url);
  return (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string }).version;
})();

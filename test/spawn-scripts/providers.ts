// Every provider script in spawn-scripts/ with its transcript: the one list that the conformance suite runs over.
// A new script is added here; test/spawn-scripts/conformance.test.ts fails while a file in spawn-scripts/ is not.
import { join, resolve } from 'node:path';

export const SCRIPTS_DIR = resolve(import.meta.dirname, '..', '..', 'spawn-scripts');

interface ProviderCase {
  script: string;
  transcript: string;
}

export const PROVIDERS: readonly ProviderCase[] = [
  { script: 'local-cloud.js', transcript: 'local-cloud.transcript.json' },
  { script: 'bitlaunch.js', transcript: 'bitlaunch.transcript.json' },
  { script: 'hetzner.js', transcript: 'hetzner.transcript.json' },
];

/** The absolute path of a file in spawn-scripts/. */
export const scriptPath = (name: string): string => join(SCRIPTS_DIR, name);

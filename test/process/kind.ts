// The fixture child as a supervised kind, shared by the tests and by fixture-parent.ts.
import { fileURLToPath } from 'node:url';
import { readdirSync, readFileSync } from 'node:fs';
import { httpProbe, type ChildKind } from '../../src/process/index.ts';
import { isGone } from '../../src/process/proc.ts';

export interface EchoInfo {
  url: string;
}

/** The tiny child: listens on 127.0.0.1:0, writes its port to its pid file (src/process/child.ts). */
export const CHILD_ENTRY = fileURLToPath(new URL('./fixture-child.ts', import.meta.url));
export const PARENT_ENTRY = fileURLToPath(new URL('./fixture-parent.ts', import.meta.url));

export function echoKind(outlive: boolean): ChildKind<EchoInfo> {
  return {
    name: 'echo',
    label: 'the echo child',
    entry: CHILD_ENTRY,
    outlive,
    parse: (v) => (typeof v.url === 'string' ? { url: v.url } : null),
    probe: httpProbe('/health', (body) => body === 'ok'),
  };
}

/** The pids of running (not zombie) processes whose arguments hold `--dir <dir>`: what a test leaves behind. */
export function processesFor(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = args.indexOf('--dir');
    if (i >= 0 && args[i + 1] === dir && !isGone(Number(name))) out.push(Number(name));
  }
  return out;
}

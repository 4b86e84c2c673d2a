/**
 * The image's systemd, as far as `systemctl enable --now UNIT` needs: it reads `/etc/systemd/system/UNIT` under
 * the server's root (`WorkingDirectory=`, `Environment=`, `ExecStart=` of its [Service] section) and runs
 * ExecStart as the server's process. Its executable must be node (`/usr/bin/node` is the cloud's own node); an
 * absolute path among the arguments maps into the root.
 */
import { readFileSync } from 'node:fs';
import { checkInside, underRoot } from './root-fs.ts';
import type { ServerCommand } from './server-process.ts';

interface Unit {
  workingDirectory: string;
  environment: Record<string, string>;
  execStart: string[];
}

const NODE_PATHS = new Set(['/usr/bin/node', '/usr/local/bin/node']);

/** `A=1 "B=two words"`: the assignments of one Environment= line. */
function assignments(value: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of value.matchAll(/"([^"]*)"|(\S+)/g)) {
    const word = m[1] ?? m[2]!;
    const eq = word.indexOf('=');
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(word.slice(0, eq))) throw new Error(`Environment= assignment ${word} is not NAME=VALUE`);
    out.push([word.slice(0, eq), word.slice(eq + 1)]);
  }
  return out;
}

/**
 * Reads a unit file's [Service] section.
 * @throws Error for a unit without ExecStart, or an ExecStart it cannot run as it is (quotes, prefixes, variables)
 */
function parseUnit(text: string): Unit {
  let section = '';
  const unit: Unit = { workingDirectory: '/', environment: {}, execStart: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'WorkingDirectory') unit.workingDirectory = value;
    else if (key === 'Environment') for (const [k, v] of assignments(value)) unit.environment[k] = v;
    else if (key === 'ExecStart') {
      if (/["'$\\;]/.test(value) || /^[-@+!:]/.test(value)) throw new Error(`ExecStart=${value} uses what the image's systemd does not read (quotes, prefixes, variables)`);
      unit.execStart = value.split(/\s+/);
    }
  }
  if (unit.execStart.length === 0) throw new Error('the unit has no ExecStart=');
  if (!unit.workingDirectory.startsWith('/')) throw new Error(`WorkingDirectory=${unit.workingDirectory} is not absolute`);
  return unit;
}

export interface UnitRun {
  root: string;
  unitName: string;
  port: number;
  serverId: string;
  tampered: boolean;
}

/**
 * The server's process for a unit under the root: ExecStart with node as the cloud's, paths mapped into the
 * root, in WorkingDirectory, with PATH, HOME (the root), the unit's Environment=, then the image's own PORT,
 * STORJ_PUBLIC_URL, STORJ_SERVER_ID (and STORJ_IMAGE_TAMPERED=1 on a tampered image), which win.
 * @throws Error when the unit is missing or unreadable, or its executable is not node
 */
export function unitCommand(r: UnitRun): ServerCommand {
  const path = underRoot(r.root, `/etc/systemd/system/${r.unitName}`);
  checkInside(r.root, path, r.unitName);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`unit ${r.unitName} not found`);
  }
  const unit = parseUnit(text);
  const [exe, ...args] = unit.execStart;
  if (!NODE_PATHS.has(exe!)) throw new Error(`ExecStart runs ${exe}, and the image ships node only (/usr/bin/node)`);
  const cwd = underRoot(r.root, unit.workingDirectory);
  checkInside(r.root, cwd, unit.workingDirectory);
  return {
    command: process.execPath,
    args: args.map((a) => (a.startsWith('/') ? underRoot(r.root, a) : a)),
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: r.root,
      ...unit.environment,
      PORT: String(r.port),
      STORJ_PUBLIC_URL: `http://127.0.0.1:${r.port}`,
      STORJ_SERVER_ID: r.serverId,
      ...(r.tampered ? { STORJ_IMAGE_TAMPERED: '1' } : {}),
    },
  };
}

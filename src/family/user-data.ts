/**
 * A child's user data: the `#cloud-config` a parent hands the provider when it buys a server, and the spawn file
 * (`/etc/storj/spawn.json`) in it that the child boots from (`storj run --spawn FILE`, src/agent/child-boot.ts).
 *
 * The user data fetches the parent's code bundle (`GET {parentUrl}/v1/bundle`), checks it against the codeHash,
 * unpacks it, installs its dependencies and starts it as a systemd service. It never holds a key, a mnemonic or
 * a credential: the only secret-ish value is the spawn ticket, which the parent keeps only as a hash and accepts
 * once. Every value is checked before it is written, so nothing a value holds can change the YAML, the unit file
 * or the shell line around it: URLs are plain http(s) with no user, query, fragment, quote, space or comma; ids
 * and hashes are lowercase hex; the ticket is base64url.
 */
import { AgentError } from '../errors/index.ts';
import type { Network } from '../config/index.ts';
import type { SpawnSpec } from './types.ts';

export type { SpawnSpec } from './types.ts';

/** The spawn file's fields, in the order the user data writes them. */
const FIELDS = ['parentUrl', 'parentNodeId', 'ticket', 'codeHash', 'network', 'esploraUrl'] as const;
const NETWORKS: readonly Network[] = ['mainnet', 'testnet', 'regtest'];
const HEX_32 = /^[0-9a-f]{64}$/;
/** 32 bytes as base64url without padding. */
const TICKET = /^[A-Za-z0-9_-]{43}$/;
/** The characters a URL may have here: none that YAML, a unit file, `sh -c "..."` or a flow list would read. */
const URL_CHARS = /^https?:\/\/[A-Za-z0-9._~:/[\]%-]+$/;
const URL_MAX = 2048;

const bad = (message: string): AgentError => new AgentError('FAMILY_BAD_SPAWN_SPEC', message);

/** A plain http(s) base URL, its trailing slashes dropped. The value itself is never repeated in an error. */
function baseUrl(field: string, raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > URL_MAX) throw bad(`${field} must be an http(s) URL of at most ${URL_MAX} characters`);
  const s = raw.replace(/\/+$/, '');
  if (!URL_CHARS.test(s)) throw bad(`${field} must be a plain http(s) URL: no user, query, fragment, space, quote or comma`);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw bad(`${field} must be an http(s) URL`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '' || u.username !== '' || u.password !== '') throw bad(`${field} must be a plain http(s) URL`);
  return s;
}

function hex32(field: string, raw: unknown): string {
  if (typeof raw !== 'string' || !HEX_32.test(raw)) throw bad(`${field} must be 64 lowercase hex digits`);
  return raw;
}

/** Checks every field of `s` (see the file's comment) and returns it with its URLs' trailing slashes dropped. */
function checkSpec(s: Readonly<Record<string, unknown>>): SpawnSpec {
  if (typeof s.ticket !== 'string' || !TICKET.test(s.ticket)) throw bad('ticket must be 32 bytes in base64url (43 characters)');
  if (typeof s.network !== 'string' || !(NETWORKS as readonly string[]).includes(s.network)) throw bad(`network must be one of ${NETWORKS.join(', ')}`);
  return {
    parentUrl: baseUrl('parentUrl', s.parentUrl),
    parentNodeId: hex32('parentNodeId', s.parentNodeId),
    ticket: s.ticket,
    codeHash: hex32('codeHash', s.codeHash),
    network: s.network as Network,
    esploraUrl: baseUrl('esploraUrl', s.esploraUrl),
  };
}

/**
 * The `#cloud-config` user data that makes a server into a child of the parent at `spec.parentUrl`. `packages` is
 * what a Debian 13 server needs to install and run the bundle (its nodejs is 20.19); the local cloud ignores it.
 * @throws AgentError FAMILY_BAD_SPAWN_SPEC when a value is not what the spawn spec allows (the message names the
 * field, never its value)
 */
export function renderUserData(spec: SpawnSpec): string {
  const s = checkSpec({ ...spec });
  // One JSON line: JSON.stringify writes no newline, and the checked values need no escape.
  const spawnJson = JSON.stringify(Object.fromEntries(FIELDS.map((k) => [k, s[k]])));
  const commands = [
    'set -e',
    'mkdir -p /opt/storj/app /var/lib/storj',
    `curl -fsS --retry 5 -o /opt/storj/bundle.tgz ${s.parentUrl}/v1/bundle`,
    'sha256sum -c /etc/storj/bundle.sha256',
    'tar -xzf /opt/storj/bundle.tgz -C /opt/storj/app',
    'npm ci --omit=dev --prefix /opt/storj/app',
    'systemctl daemon-reload',
    'systemctl enable --now storj-agent.service',
  ];
  return [
    '#cloud-config',
    'packages: [nodejs, npm, build-essential, python3]',
    'write_files:',
    '  - path: /etc/storj/spawn.json',
    "    permissions: '0600'",
    '    content: |',
    `      ${spawnJson}`,
    '  - path: /etc/storj/bundle.sha256',
    "    permissions: '0644'",
    '    content: |',
    `      ${s.codeHash}  /opt/storj/bundle.tgz`,
    '  - path: /etc/systemd/system/storj-agent.service',
    "    permissions: '0644'",
    '    content: |',
    '      [Unit]',
    `      Description=storj-agent, a child of ${s.parentNodeId.slice(0, 16)}`,
    '      After=network-online.target',
    '      Wants=network-online.target',
    '      [Service]',
    '      WorkingDirectory=/opt/storj/app',
    '      Environment=NODE_ENV=production',
    '      ExecStart=/usr/bin/node --import tsx /opt/storj/app/src/cli/storj.ts run --spawn /etc/storj/spawn.json --data-dir /var/lib/storj',
    '      Restart=always',
    '      RestartSec=5',
    '      [Install]',
    '      WantedBy=multi-user.target',
    'runcmd:',
    `  - [sh, -c, "${commands.join('; ')}"]`,
    '',
  ].join('\n');
}

/**
 * Reads a spawn file (the JSON line the user data wrote), strictly: exactly the six fields, each as
 * `renderUserData` checks it.
 * @throws AgentError FAMILY_BAD_SPAWN_SPEC for text that is not a JSON object, a missing or unknown field, or a
 * value that is malformed (the message never repeats a value)
 */
export function parseSpawnFile(text: string): SpawnSpec {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('the spawn file is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the spawn file is not a JSON object');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw bad(`the spawn file has unknown field(s): ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
  const missing = FIELDS.filter((k) => !(k in o));
  if (missing.length > 0) throw bad(`the spawn file lacks field(s): ${missing.join(', ')}`);
  return checkSpec(o);
}

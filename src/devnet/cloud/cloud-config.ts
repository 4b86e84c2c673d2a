/**
 * The part of cloud-init's `#cloud-config` user data the local cloud's image understands: `write_files`
 * (`path`, `content`, optionally `permissions`; a `content: |` block keeps its lines) and `runcmd` (each item a
 * flow list `[cmd, arg, ...]` or a plain string, split on spaces: no shell). Other top-level keys are ignored, as
 * an image without that cloud-init module would. A YAML subset, parsed strictly: what it cannot read is an error,
 * never a guess.
 */

interface WriteFile {
  path: string;
  content: string;
  /** Octal mode, 0644 unless `permissions` says otherwise. */
  mode: number;
}

export interface CloudConfig {
  writeFiles: WriteFile[];
  runcmd: string[][];
}

class CloudConfigError extends Error {}

/** A plain, single- or double-quoted scalar. */
function scalar(raw: string): string {
  const s = raw.trim();
  if (s.length >= 2 && s.startsWith("'") && s.endsWith("'")) return s.slice(1, -1).replaceAll("''", "'");
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) {
    try {
      return JSON.parse(s) as string;
    } catch {
      throw new CloudConfigError(`a double-quoted string it cannot read: ${s}`);
    }
  }
  return s;
}

/** `[a, 'b c', d]` as its items (no nesting, no commas inside quotes). */
function flowList(raw: string): string[] {
  const s = raw.trim();
  if (!s.startsWith('[') || !s.endsWith(']')) throw new CloudConfigError(`not a flow list: ${s}`);
  const inner = s.slice(1, -1).trim();
  return inner === '' ? [] : inner.split(',').map(scalar);
}

const indentOf = (line: string): number => line.length - line.trimStart().length;

/** The lines of a top-level key's block (everything indented under it), or null when the key is absent. */
function section(lines: string[], key: string): string[] | null {
  const at = lines.findIndex((l) => l === `${key}:` || l.startsWith(`${key}: `) || l.startsWith(`${key}:\t`));
  if (at < 0) return null;
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() !== '' && indentOf(line) === 0) break;
    out.push(line);
  }
  return out;
}

/** Splits a block sequence (`- ...` at one indent) into its items' lines, the dash replaced by a space. */
function items(block: string[]): string[][] {
  const out: string[][] = [];
  let dashIndent = -1;
  for (const line of block) {
    if (line.trim() === '' || line.trim().startsWith('#')) {
      if (out.length > 0) out[out.length - 1]!.push(line);
      continue;
    }
    const ind = indentOf(line);
    if (line.trimStart().startsWith('- ') && (dashIndent < 0 || ind === dashIndent)) {
      dashIndent = ind;
      out.push([`${' '.repeat(ind)} ${line.slice(ind + 1)}`]);
    } else if (out.length > 0 && ind > dashIndent) {
      out[out.length - 1]!.push(line);
    } else {
      throw new CloudConfigError(`a line outside any list item: ${line.trim()}`);
    }
  }
  return out;
}

function writeFile(lines: string[]): WriteFile {
  const fields: Record<string, string> = {};
  const keyIndent = indentOf(lines[0]!);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const m = /^(\s*)([a-z_]+):(?:\s+(.*))?$/.exec(line);
    if (!m || m[1]!.length !== keyIndent) throw new CloudConfigError(`a write_files line it cannot read: ${line.trim()}`);
    const key = m[2]!;
    const value = m[3] ?? '';
    if (value === '|' || value === '|-') {
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || indentOf(lines[i + 1]!) > keyIndent)) body.push(lines[++i]!);
      while (body.length > 0 && body[body.length - 1]!.trim() === '') body.pop();
      const cut = Math.min(...body.filter((l) => l.trim() !== '').map(indentOf));
      const text = body.map((l) => l.slice(cut)).join('\n');
      fields[key] = value === '|' && body.length > 0 ? `${text}\n` : text;
    } else {
      fields[key] = scalar(value);
    }
  }
  if (fields.encoding !== undefined && fields.encoding !== 'text/plain') throw new CloudConfigError(`write_files encoding ${fields.encoding} is not supported`);
  const path = fields.path;
  if (path === undefined || !path.startsWith('/')) throw new CloudConfigError('each write_files item needs an absolute path');
  const perm = fields.permissions ?? '0644';
  if (!/^0?[0-7]{3,4}$/.test(perm)) throw new CloudConfigError(`permissions ${perm} are not octal`);
  return { path, content: fields.content ?? '', mode: Number.parseInt(perm, 8) & 0o777 };
}

/**
 * Reads `#cloud-config` user data.
 * @throws CloudConfigError when the first line is not `#cloud-config` or a part it reads is malformed
 */
export function parseCloudConfig(userData: string): CloudConfig {
  const lines = userData.replaceAll('\r\n', '\n').split('\n');
  if (lines[0]?.trim() !== '#cloud-config') throw new CloudConfigError('user data must start with #cloud-config');
  const body = lines.slice(1).filter((l) => !/^\s*#/.test(l));
  const files = section(body, 'write_files');
  const cmds = section(body, 'runcmd');
  return {
    writeFiles: files === null ? [] : items(files).map(writeFile),
    runcmd: (cmds === null ? [] : items(cmds)).map((item) => {
      const text = item.map((l) => l.trim()).filter((l) => l !== '').join(' ');
      const argv = text.startsWith('[') ? flowList(text) : text.split(/\s+/).map(scalar);
      if (argv.length === 0 || argv[0] === '') throw new CloudConfigError('an empty runcmd item');
      return argv;
    }),
  };
}

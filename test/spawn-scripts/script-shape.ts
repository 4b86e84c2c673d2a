// Static checks of a provider script's source, without running it: it is parsed with TypeScript's own parser
// (never imported or evaluated in Node, where a script would run with the test's powers), and its `meta` is read
// from the literal it must be. spawn-scripts/README.md states the rules checked here.
import ts from 'typescript';
import { isPlainHost } from '../../src/sandbox/index.ts';

const REQUIRED_CALLS = ['quote', 'create', 'status', 'renew'] as const;
const OPTIONAL_CALLS = ['fund', 'destroy'] as const;
const CALLS: readonly string[] = [...REQUIRED_CALLS, ...OPTIONAL_CALLS];
const META_KEYS = ['provider', 'hosts', 'auth', 'billing', 'bootstrap', 'canDestroy', 'minTermDays'];

interface ScriptShape {
  /** The names the module exports. */
  exports: string[];
  /** `meta` as read from its literal, if it is one. */
  meta: Record<string, unknown> | undefined;
  /** Every rule the source breaks, in words. */
  problems: string[];
}

/** Whether `host` is a plain `host` or `host:port`: the sandbox's own test, which its gate applies to every request. */
export { isPlainHost };

/** The value of a literal expression, or `undefined` with a problem for anything computed. */
function literal(node: ts.Expression, problems: string[], where: string): unknown {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isNumericLiteral(node)) return Number(node.text);
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (node.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isArrayLiteralExpression(node)) return node.elements.map((e, i) => literal(e, problems, `${where}[${i}]`));
  if (ts.isObjectLiteralExpression(node)) {
    const out: Record<string, unknown> = {};
    for (const p of node.properties) {
      const name = ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;
      if (name === undefined || !ts.isPropertyAssignment(p)) {
        problems.push(`${where} has a property that is not a plain \`key: value\``);
        continue;
      }
      out[name] = literal(p.initializer, problems, `${where}.${name}`);
    }
    return out;
  }
  problems.push(`${where} is not a literal (the agent reads meta without running the script)`);
  return undefined;
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** Every `import()` and `import.meta` anywhere in the tree: a script has no module loader to reach. */
function importUses(sf: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) found.push('import()');
    if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) found.push('import.meta');
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Parses a script's source and lists what it exports, its meta, and every rule it breaks. */
export function scriptShape(source: string, fileName: string): ScriptShape {
  const problems: string[] = [];
  const syntax = ts.transpileModule(source, { fileName, reportDiagnostics: true, compilerOptions: { allowJs: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 } });
  for (const d of syntax.diagnostics ?? []) problems.push(`syntax: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const exports: string[] = [];
  let meta: Record<string, unknown> | undefined;
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st)) problems.push('imports a module: a script has no imports');
    else if (ts.isExportDeclaration(st) || ts.isExportAssignment(st)) problems.push('has an `export {…}`, `export *` or default export: export the calls by name');
    else if (!hasModifier(st, ts.SyntaxKind.ExportKeyword)) continue;
    else if (ts.isFunctionDeclaration(st) && st.name) {
      exports.push(st.name.text);
      if (!CALLS.includes(st.name.text)) problems.push(`exports ${st.name.text}, which is not a call of the interface`);
      else if (!hasModifier(st, ts.SyntaxKind.AsyncKeyword)) problems.push(`${st.name.text} is not an async function`);
    } else if (ts.isVariableStatement(st)) {
      const decls = st.declarationList.declarations;
      const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
      for (const d of decls) {
        const name = ts.isIdentifier(d.name) ? d.name.text : '(a pattern)';
        exports.push(name);
        if (name !== 'meta') problems.push(`exports ${name}, which is not meta or a call of the interface`);
        else if (!isConst || !d.initializer) problems.push('meta is not an `export const` with a value');
        else {
          const value = literal(d.initializer, problems, 'meta');
          if (value !== null && typeof value === 'object' && !Array.isArray(value)) meta = value as Record<string, unknown>;
          else problems.push('meta is not an object');
        }
      }
    } else problems.push('exports something that is neither `export const meta` nor an `export async function`');
  }
  for (const use of importUses(sf)) problems.push(`uses ${use}: a script has no module loader`);
  for (const name of [...REQUIRED_CALLS, 'meta']) if (!exports.includes(name)) problems.push(`does not export ${name}`);
  if (meta) problems.push(...metaProblems(meta, exports));
  return { exports, meta, problems };
}

/** The rules on `meta`'s fields, and on how they agree with the exports. */
function metaProblems(meta: Record<string, unknown>, exports: string[]): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(meta)) if (!META_KEYS.includes(key)) problems.push(`meta.${key} is not a field of meta`);
  if (typeof meta.provider !== 'string' || !/^[a-z0-9][a-z0-9-]{0,31}$/.test(meta.provider)) problems.push('meta.provider is not a short lowercase name');
  const hosts = meta.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0) problems.push('meta.hosts is not a list of hosts');
  else {
    for (const h of hosts) if (typeof h !== 'string' || !isPlainHost(h)) problems.push(`meta.hosts has ${JSON.stringify(h)}, which is not a plain host[:port]`);
    if (new Set(hosts).size !== hosts.length) problems.push('meta.hosts names a host twice');
  }
  const auth = meta.auth as Record<string, unknown> | undefined;
  const authKeys = auth && typeof auth === 'object' ? Object.keys(auth).sort().join(',') : '';
  if (!auth || !['none', 'bearer', 'header'].includes(auth.type as string)) problems.push('meta.auth.type is not none, bearer or header');
  else if (auth.type === 'header' ? !(authKeys === 'name,type' && typeof auth.name === 'string' && /^[a-z0-9-]{1,64}$/.test(auth.name)) : authKeys !== 'type') {
    problems.push('meta.auth has a header name that is missing, not lowercase, or given for a type that takes none');
  }
  if (!['invoice', 'account', 'credentials'].includes(meta.billing as string)) problems.push('meta.billing is not invoice, account or credentials');
  if (meta.bootstrap !== 'cloud-init') problems.push('meta.bootstrap is not cloud-init');
  if (typeof meta.canDestroy !== 'boolean') problems.push('meta.canDestroy is not a boolean');
  else if (meta.canDestroy !== exports.includes('destroy')) problems.push('meta.canDestroy does not say whether destroy is exported');
  if (!Number.isSafeInteger(meta.minTermDays) || (meta.minTermDays as number) < 1) problems.push('meta.minTermDays is not a positive integer');
  if ((meta.billing === 'account') !== exports.includes('fund')) problems.push('fund is exported exactly when meta.billing is account');
  if (meta.billing === 'credentials' && auth?.type === 'none') problems.push('credentials billing needs meta.auth to attach them');
  return problems;
}

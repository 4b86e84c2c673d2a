// The boundaries between the project's folders, checked by `npm run deps` (part of `npm test`).
// The layers and the module contract are described in docs/ARCHITECTURE.md: each folder under
// src/ is one module entered only through its index.ts, it owns its repository, and wallet/
// (the only code that sees a key) depends on nothing of the agent but money and errors.
// Every rule is an error: a warning nobody reads guards nothing.

/** Only the door of a module: src/<name>/index.ts. */
const DOOR = '^src/[^/]+/index\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'A cycle makes two modules one: neither can be loaded, tested or replaced alone. ' +
        'Break it by moving the shared piece down a layer or by passing it in.',
      severity: 'error',
      from: { path: '^(src|wallet)/' },
      to: { circular: true },
    },
    {
      name: 'no-foreign-repository',
      comment:
        "A module's repository holds its SQL over its own tables; another module uses that " +
        "module's methods instead (docs/ARCHITECTURE.md).",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/repo[^/]*(\\.ts$|/)', pathNot: '^src/$1/' },
    },
    {
      name: 'repository-not-through-door',
      comment:
        "A module's index.ts may build its repository but not re-export it: that would hand " +
        'its tables to every other module through the door.',
      severity: 'error',
      from: { path: '^src/([^/]+)/index\\.ts$' },
      to: { path: '^src/$1/repo[^/]*(\\.ts$|/)', dependencyTypes: ['export'] },
    },
    {
      name: 'module-door',
      comment:
        'A module is entered only through its index.ts, so its insides can change without ' +
        'touching its users. Export what is needed from src/<module>/index.ts.',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/', pathNot: ['^src/$1/', DOOR] },
    },
    {
      name: 'wallet-door',
      comment: 'The agent reaches key custody only through wallet/index.ts.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^wallet/', pathNot: '^wallet/index\\.ts$' },
    },
    {
      name: 'http-not-db',
      comment:
        'The HTTP layer never touches the database: it calls the modules, which own their tables.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: ['^src/db/', '(^|/)node_modules/(@types/)?better-sqlite3/'] },
    },
    {
      name: 'wallet-imports-only-money-and-errors',
      comment:
        'wallet/ holds the keys; it depends on nothing of the agent above money and errors, ' +
        'so nothing the agent does can reach a key except through the wallet\'s interface.',
      severity: 'error',
      from: { path: '^wallet/' },
      to: { path: '^src/', pathNot: '^src/(money|errors)/index\\.ts$' },
    },
    {
      name: 'not-to-test',
      comment: 'Shipped code never depends on the tests.',
      severity: 'error',
      from: { path: '^(src|wallet)/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-dev-dep',
      comment:
        'A devDependency is not installed with the package (npm install --omit=dev): shipped ' +
        'code that imports one breaks there. Type-only imports vanish in the build and may. ' +
        'src/build is the build itself (esbuild), which runs where tsc does, with the devDependencies.',
      severity: 'error',
      from: { path: '^(src|wallet)/', pathNot: '^src/build/' },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: '(^|/)node_modules/@types/',
      },
    },
    {
      name: 'no-non-package-json',
      comment: 'Every package imported is declared in package.json, so installs are reproducible.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file: a typo, or a missing package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-deprecated-core',
      comment: 'A Node built-in that Node has deprecated.',
      severity: 'error',
      from: {},
      to: {
        dependencyTypes: ['core'],
        path: '^(punycode|domain|constants|sys|_linklist|_stream_wrap)$',
      },
    },
  ],
  options: {
    // Packages are leaves: only their name and kind (dependency, devDependency) matter here.
    doNotFollow: { path: '(^|/)node_modules/' },
    // `import type` counts: a type ties two modules together as much as a value does.
    tsPreCompilationDeps: true,
    // The sources import each other by their .ts names (tsconfig.build.json rewrites them to .js);
    // resolving with the project's tsconfig reads `./x.ts` (and a `./x.js` written by habit) as
    // the TypeScript source. An import that resolves to nothing fails not-to-unresolvable
    // instead of dropping out of the graph, so no rule can pass by a missed edge.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};

// Lint settings: typescript-eslint's recommended type-aware rules, plus the few habits the
// codebase relies on (no floating promises around money, no stray console in library code).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '**/*.cjs', 'spawn-scripts/**/*.js', 'test/sandbox/fixtures/**/*.js', 'src/web/assets/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'], package: 'node:test' }] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'eqeqeq': ['error', 'always'],
      // A module adds its error codes to the catalogue with `interface ErrorCatalogue extends CodesOf<...> {}`
      // (src/errors/index.ts): an interface whose only content is the one type it extends.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
    },
  },
  {
    // Library code reports through its logger, its return values or its errors; console output there would
    // bypass the log level and the scrubbing of secrets (src/http/log.ts).
    files: ['src/**/*.ts', 'wallet/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // Programs whose output is their job: the storj command prints to the terminal, and the devnet's own
    // process (src/devnet/main.ts) has its usage and start-up lines as its log.
    files: ['src/cli/**/*.ts', 'src/devnet/main.ts', 'src/devnet/cloud-main.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);

/**
 * Unit tests sit next to the code; integration tests (real Go) under packages/core/test; e2e (real Nx) under e2e/.
 *
 * ts-jest transpiles each file on its own (tsconfig.base.json has isolatedModules), so its
 * diagnostics are the syntactic ones; the type check of every test is `npm run typecheck`.
 * ts-jest's type-checking mode is no substitute: it compiles `import()` to `require()`, which
 * cannot load the ESM-only execa (17 failures in source-info.test.ts), and costs each worker
 * a language service (one small test file: 0.8 s → 2.9 s).
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.base.json', diagnostics: true }],
};
const base = { testEnvironment: 'node', transform, rootDir: __dirname };
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.test.ts'] },
  ],
};

/** Unit tests sit next to the code; integration tests (real Go) under packages/core/test; e2e (real Nx) under e2e/. */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.base.json', diagnostics: false }],
};
const base = { testEnvironment: 'node', transform, rootDir: __dirname };
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.test.ts'] },
  ],
};

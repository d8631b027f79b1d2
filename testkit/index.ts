/**
 * The real-parts kit shared by the integration tests (packages/core/test) and the e2e tests
 * (e2e/): processes, temp folders, free ports, certificates, CNCF Distribution on loopback
 * (TLS, Basic or token auth), a fault-injecting proxy, the go wrapper that logs every call,
 * a file:// module proxy built from fixture sources, and a served binary. Nothing here uses
 * the code under test. E2E_KEEP=1 keeps the temp folders.
 */
export { makeCert, makeHtpasswd } from './certs';
export { startFaultProxy, type Fault, type FaultPlan, type FaultProxy, type FaultRequest, type ProxiedRequest } from './fault-proxy';
export { goWrapper, GoLog, realGo, type GoCall, type GoWrapper } from './go';
export { digestOf, sha256Hex } from './hash';
export { goModSumLine, moduleProxy, storedZip } from './module-proxy';
export { freePort } from './ports';
export { baseEnv, exec, execOk, liveOutput, REPO_ROOT, stripAnsi, tool, type Env, type ExecOptions, type ExecResult, type LiveOutput } from './process';
export { headManifest, REGISTRY_BIN, startRegistry, type RegistryOptions, type RunningRegistry } from './registry';
export { serve, type Served } from './serve';
export { keepTemp, removeDir, saveDirs, tempDir, TMP_PREFIX, type SavedDirs } from './temp';
export { startTokenIssuer, type TokenIssuer, type TokenRequest } from './token-issuer';

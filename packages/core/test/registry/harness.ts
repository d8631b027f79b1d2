/**
 * Moved to testkit/, the real-parts kit shared with the e2e tests. This re-export (no code of
 * its own) keeps the tests written against the old path compiling; import testkit instead.
 */
export {
  freePort,
  makeCert,
  makeHtpasswd,
  REGISTRY_BIN,
  startRegistry,
  startTokenIssuer,
  tempDir,
  tool,
  type RunningRegistry,
  type TokenIssuer,
} from '../../../../testkit';

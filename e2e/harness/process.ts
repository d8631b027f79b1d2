/**
 * Moved to testkit/process.ts, shared with the core's integration tests. This re-export (no
 * code of its own) keeps the tests written against the old path compiling; import testkit instead.
 */
export { baseEnv, exec, execOk, stripAnsi, type ExecOptions, type ExecResult } from '../../testkit';

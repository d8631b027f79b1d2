import type { ExecResult } from '../../testkit';

/** A failed command fails the test with its whole output, not just "expected 0, got 1". */
export function expectSuccess(r: ExecResult, what = 'the command'): void {
  if (r.exitCode !== 0) throw new Error(`${what} exited with ${r.exitCode}:\n${r.output}`);
}

export function expectFailure(r: ExecResult, what = 'the command'): void {
  if (r.exitCode === 0) throw new Error(`${what} should have failed but exited 0:\n${r.output}`);
}

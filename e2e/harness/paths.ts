import { join } from 'node:path';
import { REPO_ROOT } from '../../testkit';

export { REPO_ROOT };
export const FIXTURES = join(REPO_ROOT, 'e2e', 'fixtures');
/** The e2e workspaces and packed tarballs live under os.tmpdir(), in folders starting with this (pack.ts removes stale ones). */
export const TMP_PREFIX = 'nx-fnbuild-e2e-';

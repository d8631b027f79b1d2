import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const FIXTURES = join(REPO_ROOT, 'e2e', 'fixtures');
/** Everything the e2e tests create lives under os.tmpdir(), in folders starting with this. */
export const TMP_PREFIX = 'nx-fnbuild-e2e-';

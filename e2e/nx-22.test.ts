/** nx-fnbuild as an Nx plugin on Nx 22 (see harness/nx-suite.ts). */
import { nxSuite } from './harness/nx-suite';

nxSuite({ nx: '22.7.12', devkit: '22.7.12' });

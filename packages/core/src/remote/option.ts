import { z } from 'zod';

/**
 * The `remoteCache` option as executors validate it: `oci://<registry>/<repository>` or
 * `http(s)://<host>[:port]/<prefix>`. The rest (repository syntax, credentials) is checked by
 * remoteCacheFrom when the remote is opened, with the same kind of message.
 */
export const remoteCacheOption = z
  .string()
  .regex(/^(oci|https?):\/\/[^\s/]+\/?\S*$/i, 'a remote cache is "oci://<registry>/<repository>" or "http(s)://<host>[:port]/<prefix>" (a Bazel HTTP cache)');

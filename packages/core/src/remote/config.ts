import { FnbuildError } from '../util/errors';
import type { RemoteCache, RemoteCacheMode, RemoteTimeouts } from '../cache/remote';

// The backends load when a remote is configured: a build without one (and the plan's
// startup) never loads the HTTP(S)/TLS client or the registry client.
const httpBackend = () => require('./http') as typeof import('./http');
const ociBackend = () => require('./oci') as typeof import('./oci');

type Env = Record<string, string | undefined>;

export interface RemoteCacheSettings {
  /** The `remoteCache` option; wins over NX_FNBUILD_REMOTE_CACHE. */
  option?: string;
  env: Env;
  /** For oci:// (plus NX_FNBUILD_INSECURE_REGISTRIES) and https:// (caFile). */
  insecureRegistries?: readonly string[];
  caFile?: string;
  timeouts?: Partial<RemoteTimeouts>;
}

const VALID =
  'Valid: "oci://<registry>/<repository>" (an OCI registry) or "http(s)://<host>[:port]/<prefix>" (a Bazel HTTP cache: bazel-remote, nginx WebDAV, …).';

/** The URL as it may appear in an error: userinfo hidden, and only when it parses at all. */
function shown(value: string): string {
  try {
    return httpBackend().redactUrl(new URL(value));
  } catch {
    return value.replace(/\/\/[^/@]*@/, '//***@');
  }
}

/**
 * The remote tier the settings name, or undefined when none is set. `remoteCache` (option)
 * or NX_FNBUILD_REMOTE_CACHE: `oci://…` or `http(s)://…`. A bad value is an error naming where
 * it came from and what is valid; credentials in it are never repeated.
 */
export function remoteCacheFrom(s: RemoteCacheSettings): RemoteCache | undefined {
  const fromOption = s.option !== undefined && s.option.trim() !== '';
  const value = (fromOption ? s.option! : (s.env.NX_FNBUILD_REMOTE_CACHE ?? '')).trim();
  if (!value) return undefined;
  const where = fromOption ? 'option "remoteCache"' : 'NX_FNBUILD_REMOTE_CACHE';
  const bad = (why: string) => new FnbuildError(`${where} (got "${shown(value)}"): ${why}`, VALID);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'oci') {
    if (/^oci:\/\/[^/]*@/.test(value)) throw bad('an oci:// URL takes no credentials; they come from docker login (Docker config, credential helpers)');
    try {
      return new (ociBackend().OciRemoteCache)({ url: value, env: s.env, ...pick(s) });
    } catch (err) {
      throw bad((err as Error).message.split('\n')[0]!);
    }
  }
  if (scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw bad('not a URL');
    }
    if (!url.hostname) throw bad('no host');
    if (url.search || url.hash) throw bad('a remote cache URL has no query or fragment');
    const header = s.env.NX_FNBUILD_REMOTE_CACHE_HEADER?.trim();
    if (header) httpBackend().parseHeader(header, 'NX_FNBUILD_REMOTE_CACHE_HEADER');
    return new (httpBackend().HttpRemoteCache)({
      url: value,
      ...(header ? { header } : {}),
      ...(s.caFile ? { caFile: s.caFile } : {}),
      ...(s.timeouts ? { timeouts: s.timeouts } : {}),
    });
  }
  throw bad(scheme ? `unknown scheme "${scheme}://"` : 'not a URL');
}

function pick(s: RemoteCacheSettings) {
  return {
    ...(s.insecureRegistries ? { insecureRegistries: s.insecureRegistries } : {}),
    ...(s.caFile ? { caFile: s.caFile } : {}),
    ...(s.timeouts ? { timeouts: s.timeouts } : {}),
  };
}

/** NX_FNBUILD_REMOTE_CACHE_MODE: `read-write` (default) or `read` (pull requests from forks: read, never write). */
export function remoteCacheModeFrom(env: Env): RemoteCacheMode {
  const v = env.NX_FNBUILD_REMOTE_CACHE_MODE?.trim();
  if (!v) return 'read-write';
  if (v === 'read' || v === 'read-write') return v;
  throw new FnbuildError(
    `NX_FNBUILD_REMOTE_CACHE_MODE (got "${v}") is not a remote cache mode`,
    'Valid: "read-write" (the default) or "read" (read, never write: for untrusted builds such as pull requests from forks).',
  );
}

import { FnbuildError } from '../util/errors';
import { redactCredentials } from '../util/redact';

/**
 * Upload Locations come back relative (`/v2/r/blobs/uploads/<id>?_state=…`) or absolute, often
 * with a query the registry signed. Resolve against the URL the response came from, and add
 * parameters by appending text: re-serializing the query (URLSearchParams) would re-encode
 * what the registry wrote ("+", "~", "%2B") and can break a signature.
 */
export function resolveLocation(base: URL, location: string | undefined, what = 'upload'): URL {
  if (!location) throw new FnbuildError(`${base.host} started an ${what} but sent no Location header`);
  try {
    return new URL(location, base);
  } catch {
    throw new FnbuildError(`${base.host} sent an ${what} Location that is not a URL: ${JSON.stringify(redactCredentials(location).slice(0, 200))}`);
  }
}

/** Adds `key=value` to the URL's query, keeping the existing query byte for byte. */
export function appendQuery(url: URL, key: string, value: string): URL {
  const href = url.href.replace(/#.*$/, '');
  const param = `${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
  const q = href.indexOf('?');
  const sep = q < 0 ? '?' : q === href.length - 1 || href.endsWith('&') ? '' : '&';
  return new URL(`${href}${sep}${param}`);
}

/** Same scheme, host and port: the only URLs a registry's credentials may be sent to. */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host;
}

import { FnbuildError } from '../util/errors';
import type { Redactor } from '../util/redact';

/** One entry of a registry's JSON error body: `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

export interface RegistryErrorInfo {
  /** HTTP status, when the registry answered at all. */
  status?: number;
  /** The registry's error codes (UNAUTHORIZED, NAME_UNKNOWN, ...). */
  codes: string[];
  /** Worth another attempt (408, 429, 5xx, connection resets, timeouts). */
  retryable: boolean;
  /** How long the registry asked us to wait (Retry-After). */
  retryAfterMs?: number;
  /** The Node error code for network failures (ECONNRESET, ...). */
  errno?: string;
}

export class RegistryError extends FnbuildError {
  override name = 'RegistryError';
  constructor(
    message: string,
    hint: string | undefined,
    readonly info: RegistryErrorInfo,
  ) {
    super(message, hint);
  }

  get status(): number | undefined {
    return this.info.status;
  }

  hasCode(code: string): boolean {
    return this.info.codes.includes(code);
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Reads the registry's JSON error body; anything else yields no entries. */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  try {
    const doc = JSON.parse(text) as { errors?: unknown; details?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: typeof e.code === 'string' ? e.code : 'UNKNOWN', message: typeof e.message === 'string' ? e.message : '' }));
  } catch {
    return [];
  }
}

export interface ErrorContext {
  /** What we were doing, e.g. `pulling manifest 127.0.0.1:5000/app:v1`. */
  action: string;
  /** The registry host (as the user wrote it). */
  host: string;
  /** Who answered, when not the registry itself (a token service). */
  server?: string;
  /** The repository involved, if any. */
  repository?: string;
  /** Where the credentials came from ("none found" when there were none); shown on 401/403. */
  credentialSource?: string;
}

const HINTS: Record<string, (c: ErrorContext) => string> = {
  UNAUTHORIZED: (c) =>
    c.credentialSource && !c.credentialSource.startsWith('none')
      ? `The registry refused the credentials from ${c.credentialSource}; check the username and password or token.`
      : `No credentials were found for ${c.host}${c.credentialSource?.startsWith('none found in ') ? ` (looked in ${c.credentialSource.slice(14)})` : ''}; run \`docker login ${c.host}\` or pass a username and a password environment variable.`,
  DENIED: (c) =>
    `The credentials${c.credentialSource && !c.credentialSource.startsWith('none') ? ` from ${c.credentialSource}` : ''} are not allowed this on ${c.host}/${c.repository ?? ''}; check the repository name and your permissions.`,
  NAME_UNKNOWN: (c) => `Check the repository name "${c.repository ?? ''}" on ${c.host}.`,
  MANIFEST_UNKNOWN: () => 'Check the tag or digest.',
  TOOMANYREQUESTS: () => 'The registry is rate limiting; log in or try again later.',
};

/** An HTTP status the operation did not expect, as an error that names host, repository and registry codes. */
export function httpError(ctx: ErrorContext, status: number, body: string, redactor: Redactor, retryAfterMs?: number): RegistryError {
  const entries = parseErrorBody(body);
  const codes = entries.map((e) => e.code);
  if (codes.length === 0) {
    if (status === 401) codes.push('UNAUTHORIZED');
    if (status === 403) codes.push('DENIED');
    if (status === 429) codes.push('TOOMANYREQUESTS');
  }
  const detail =
    entries.length > 0
      ? entries.map((e) => (e.message ? `${e.code} (${e.message})` : e.code)).join(', ')
      : body.trim() && !body.trim().startsWith('<')
        ? redactor.redact(body.trim()).slice(0, 200) // redacted whole: a cut could leave part of a secret
        : '';
  const message = redactor.redact(`${ctx.action}: ${ctx.server ?? ctx.host} answered HTTP ${status}${detail ? ` ${detail}` : ''}`);
  const hintCode = codes.find((c) => HINTS[c]);
  const hint = hintCode ? redactor.redact(HINTS[hintCode]!(ctx)) : undefined;
  return new RegistryError(message, hint, {
    status,
    codes,
    retryable: isRetryableStatus(status),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

const RETRYABLE_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const TLS_UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/** A failure below HTTP (refused, reset, timed out, TLS) as a RegistryError; resets and timeouts are retryable. */
export function networkError(ctx: ErrorContext, err: unknown, redactor: Redactor): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const text = redactor.redact(e?.message ?? String(err));
  if (code && TLS_UNTRUSTED.has(code)) {
    return new RegistryError(
      `${ctx.action}: the TLS certificate of ${ctx.host} is not trusted (${code}: ${text})`,
      `Pass the registry's CA certificate with caFile, or, for a test registry only, list "${ctx.host}" in insecureRegistries.`,
      { codes: [], retryable: false, errno: code },
    );
  }
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(text)) {
    return new RegistryError(
      `${ctx.action}: ${ctx.host} does not speak TLS (${text})`,
      `If it is a plain-http registry (a local test one), list "${ctx.host}" in insecureRegistries; nothing is plain http unless listed there.`,
      { codes: [], retryable: false, errno: code ?? 'EPROTO' },
    );
  }
  const retryable = (code !== undefined && RETRYABLE_ERRNO.has(code)) || /socket hang up|aborted|timed out/i.test(text);
  const what = code === 'ECONNREFUSED' ? `cannot connect to ${ctx.host} (connection refused)` : `connection to ${ctx.host} failed: ${text}`;
  return new RegistryError(`${ctx.action}: ${what}`, code === 'ECONNREFUSED' ? `Is the registry at ${ctx.host} running?` : undefined, {
    codes: [],
    retryable,
    ...(code ? { errno: code } : {}),
  });
}

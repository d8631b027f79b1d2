/**
 * Keeps secrets out of messages and logs: the one redactor. Two kinds of protection:
 * - by shape (redactCredentials): credentials inside URLs (`https://user:token@host`),
 *   secret-bearing query parameters (`?access_token=…`, `X-Amz-Signature=…`), Authorization
 *   header values, and `"token": "…"` fields of JSON bodies;
 * - by value (Redactor): the secrets actually in play (passwords, tokens) and the encodings they
 *   travel in (URL-encoded, base64 of user:password), wherever they show up.
 * Every string that reaches an error or a log line from code that handles credentials goes through one of them.
 */

export const MASK = '***';

/** `scheme://anything-without-slash@`: the userinfo of a URL, with or without a password. */
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;

const SHAPES: readonly [RegExp, string][] = [
  [URL_USERINFO, `$1${MASK}@`],
  // Query parameters named like secrets (tokens, passwords, signed-URL signatures and credentials).
  [/([?&][\w.-]*?(?:token|password|passwd|secret|signature|credential|sig|api[_-]?key)=)[^&#\s"'<>]+/gi, `$1${MASK}`],
  // Authorization / Proxy-Authorization header values as printed ("Authorization: Bearer abc").
  [/\b((?:proxy-)?authorization\s*[:=]\s*(?:(?:basic|bearer|token)\s+)?)[^\s,;"']+/gi, `$1${MASK}`],
  // JSON fields a token service or config answers with.
  [/("[\w-]*(?:token|password|secret)"\s*:\s*")(?:[^"\\]|\\.)*(")/gi, `$1${MASK}$2`],
];

/** The text with every credential that can be recognized by its shape replaced by ***. */
export function redactCredentials(text: string): string {
  let out = text;
  for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
  return out;
}

/** The URL without its userinfo: for cache keys and folder names, where even *** would make two keys of one repository. */
export function withoutCredentials(url: string): string {
  return url.replace(URL_USERINFO, '$1');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The secrets in play for one registry, remote or repository. `redact` replaces them in every
 * form they are sent in, then applies redactCredentials.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers a secret and the forms it is sent in. Empty strings are ignored. */
  add(secret: string | undefined): this {
    if (!secret) return this;
    for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
      if (form) this.secrets.add(form);
    }
    return this;
  }

  /** Registers a username/password pair: the password and "user:password" in every form. */
  addBasic(username: string | undefined, password: string | undefined): this {
    this.add(password);
    if (password) this.add(`${username ?? ''}:${password}`);
    return this;
  }

  /**
   * Registers the password a URL carries (`https://user:<password>@host`), as written and URL-decoded.
   * A bare userinfo is left to the URL shape: it is as often a user name (`ssh://git@host`) as a token.
   */
  addUrl(url: string): this {
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:([^/@\s]+)@/i.exec(url)?.[1];
    if (password) for (const s of new Set([password, safeDecode(password)])) this.add(s);
    return this;
  }

  redact(text: string): string {
    // Longest first, so a secret that contains another is replaced whole.
    let out = text;
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    return redactCredentials(out);
  }

  /** Copy of another redactor's secrets into this one. */
  merge(other: Redactor): this {
    for (const s of other.secrets) this.secrets.add(s);
    return this;
  }
}

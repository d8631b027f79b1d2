/**
 * WWW-Authenticate (RFC 7235): one or more challenges, each a scheme and either a token68 or
 * comma-separated `key=value` params whose values may be quoted strings holding commas,
 * spaces and escapes: `Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"`.
 */
export interface Challenge {
  /** Lowercased: "bearer", "basic". */
  scheme: string;
  /** Param names lowercased. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseWwwAuthenticate(input: string | readonly string[] | undefined): Challenge[] {
  if (input === undefined) return [];
  if (typeof input !== 'string') return input.flatMap((h) => parseWwwAuthenticate(h));
  const s = input;
  let i = 0;
  const out: Challenge[] = [];

  const skipSpace = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i++];
    }
    i++; // closing quote (or end)
    return v;
  };
  /** Is a `name =` coming up (as opposed to a new challenge's scheme)? */
  const paramAhead = (): boolean => {
    const save = i;
    skipSpace();
    const name = readToken();
    skipSpace();
    const yes = name !== '' && s[i] === '=';
    i = save;
    return yes;
  };

  while (i < s.length) {
    skipSpace();
    while (s[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= s.length) break;
    const scheme = readToken();
    if (scheme === '') {
      i++; // not a token character where a scheme should be: skip it
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skipSpace();
    // token68: `Negotiate abc==` (a token followed by "=" padding only, then end or comma).
    const t68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(s.slice(i));
    if (t68 && !/^[A-Za-z0-9\-._~+/]+\s*=\s*[^=,\s]/.test(s.slice(i))) {
      challenge.token68 = t68[0];
      i += t68[0].length;
      continue;
    }
    for (;;) {
      skipSpace();
      if (!paramAhead()) break;
      skipSpace();
      const name = readToken().toLowerCase();
      skipSpace();
      i++; // "="
      skipSpace();
      const value = s[i] === '"' ? readQuoted() : readToken();
      challenge.params[name] = value;
      skipSpace();
      if (s[i] !== ',') break;
      const save = i;
      i++;
      if (!paramAhead()) {
        i = save;
        break;
      }
    }
  }
  return out;
}

/** The challenge we answer: Bearer over Basic, others ignored. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

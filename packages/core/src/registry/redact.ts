/**
 * Keeps secrets out of messages. Every string that reaches an error or a log line from the
 * registry code passes through a Redactor that knows the secrets in play: passwords, tokens,
 * and the encodings they travel in (base64 of user:password, URL-encoded forms).
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

  redact(text: string): string {
    // Longest first, so a secret that contains another is replaced whole.
    let out = text;
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
    return out;
  }

  /** Copy of another redactor's secrets into this one. */
  merge(other: Redactor): this {
    for (const s of other.secrets) this.secrets.add(s);
    return this;
  }
}

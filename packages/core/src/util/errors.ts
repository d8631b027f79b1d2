import { redactCredentials } from './redact';

/**
 * An error the user can act on: the message says what was wrong and where, the hint what to do.
 * Every such error is this class or a subclass of it (PlatformError, RegistryError, ...), so
 * user errors and bugs are told apart by type: anything else reaching the top is a bug and is
 * shown with its stack.
 */
export class FnbuildError extends Error {
  override name = 'FnbuildError';
  readonly hint?: string;

  /** The message and hint are shown to the user as they are, so credentials with a recognizable shape are masked here, for every user error. */
  constructor(message: string, hint?: string) {
    super(redactCredentials(hint ? `${message}\n  ${hint}` : message));
    if (hint !== undefined) this.hint = redactCredentials(hint);
  }
}

/** Errors whose message is the whole story for the user (no stack trace needed). */
export function isUserError(err: unknown): err is FnbuildError {
  return err instanceof FnbuildError;
}

import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from './errors';

export interface RetryPolicy {
  /** Total attempts, the first included (1 = no retries). */
  attempts: number;
  /** Backoff before the second attempt; doubles for each one after. */
  baseDelayMs: number;
  /** Ceiling of one backoff. */
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is reported instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };

export function retryPolicy(overrides?: Partial<RetryPolicy>): RetryPolicy {
  const p = { ...DEFAULT_RETRY, ...overrides };
  return { ...p, attempts: Math.max(1, Math.floor(p.attempts)) };
}

/**
 * Retry-After as milliseconds to wait: delta-seconds ("120") or an HTTP-date. Undefined when
 * absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date always names a weekday and GMT; this keeps "12abc" from reading as a date.
  if (!/^[A-Za-z]{3},? .*(GMT|UTC)$/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so clients that failed together spread out. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface RetryHooks {
  /** Called before waiting; for progress reporting and tests. */
  onRetry?: (err: RegistryError, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Runs fn until it succeeds, throws something not retryable, or attempts run out. Only
 * RegistryErrors marked retryable are retried; the wait honours the registry's Retry-After.
 */
export async function withRetry<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.info.retryable || attempt >= policy.attempts) throw err;
      const asked = err.info.retryAfterMs;
      if (asked !== undefined && asked > policy.maxRetryAfterMs) throw err;
      const delay = asked !== undefined ? Math.max(asked, 0) : backoffDelay(attempt, policy);
      hooks.onRetry?.(err, attempt, delay);
      await (hooks.sleep ?? sleep)(delay);
    }
  }
}

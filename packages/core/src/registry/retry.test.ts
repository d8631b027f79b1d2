import { RegistryError } from './errors';
import { backoffDelay, parseRetryAfter, retryPolicy, withRetry } from './retry';

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  it.each([
    ['1', 1000],
    ['0', 0],
    [' 120 ', 120_000],
    ['Wed, 21 Oct 2015 07:28:30 GMT', 30_000],
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0], // in the past: no wait
    [undefined, undefined],
    ['', undefined],
    ['soon', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    ['12abc', undefined],
  ])('%j → %j ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});

describe('backoffDelay', () => {
  const p = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1000 });
  it('doubles, within [half, full] of the ceiling, capped', () => {
    expect(backoffDelay(1, p, () => 0)).toBe(50);
    expect(backoffDelay(1, p, () => 1)).toBe(100);
    expect(backoffDelay(3, p, () => 0)).toBe(200);
    expect(backoffDelay(3, p, () => 1)).toBe(400);
    expect(backoffDelay(10, p, () => 1)).toBe(1000);
  });
});

describe('withRetry', () => {
  const retryable = (retryAfterMs?: number) =>
    new RegistryError('boom', undefined, { codes: [], retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

  it('retries retryable errors up to the attempt limit, honouring Retry-After', async () => {
    const waits: number[] = [];
    let calls = 0;
    await expect(
      withRetry(
        retryPolicy({ attempts: 3, baseDelayMs: 10 }),
        async () => {
          calls++;
          throw retryable(calls === 1 ? 1500 : undefined);
        },
        { sleep: async (ms) => waits.push(ms) },
      ),
    ).rejects.toThrow('boom');
    expect(calls).toBe(3);
    expect(waits[0]).toBe(1500);
    expect(waits[1]).toBeGreaterThanOrEqual(5);
  });

  it('does not retry other errors, nor waits longer than allowed', async () => {
    let calls = 0;
    await expect(
      withRetry(
        retryPolicy(),
        async () => {
          calls++;
          throw new Error('plain');
        },
        { sleep: async () => {} },
      ),
    ).rejects.toThrow('plain');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      withRetry(
        retryPolicy({ maxRetryAfterMs: 1000 }),
        async () => {
          calls++;
          throw retryable(3_600_000);
        },
        { sleep: async () => {} },
      ),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });

  it('returns the first success', async () => {
    let calls = 0;
    const v = await withRetry(
      retryPolicy(),
      async () => {
        if (++calls < 3) throw retryable();
        return 'ok';
      },
      { sleep: async () => {} },
    );
    expect([v, calls]).toEqual(['ok', 3]);
  });
});

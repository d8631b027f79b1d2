import type { Store } from './store';

/**
 * A value that is a pure function of its key's inputs (a parsed go.mod, `go env` for one
 * environment): computed once, then read back. This is what lets a no-op build start no
 * process at all.
 */
export async function pureMemo<T>(store: Store | undefined, key: string, compute: () => Promise<T>): Promise<T> {
  if (!store) return compute();
  const saved = await store.getMemo<{ value: T }>(key);
  if (saved && 'value' in saved) return saved.value;
  const value = await compute();
  await store.putMemo(key, { value });
  return value;
}

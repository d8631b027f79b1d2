import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Everything the kit creates lives under os.tmpdir(), in folders starting with this. */
export const TMP_PREFIX = 'nx-fnbuild-test-';

/** A fresh folder <tmp>/nx-fnbuild-test-<what>-XXXXXX. */
export function tempDir(what: string): string {
  return mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${what}-`));
}

/** Whether E2E_KEEP asks to keep temp folders (and workspaces) for a look after the run. */
export const keepTemp = (): boolean => Boolean(process.env.E2E_KEEP);

/**
 * Removes a folder the tests made, Go module caches included (read-only, so made writable
 * first); kept, and said so, with E2E_KEEP set.
 */
export function removeDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (keepTemp()) {
    process.stderr.write(`kept ${dir}\n`);
    return;
  }
  try {
    execFileSync('chmod', ['-R', 'u+w', dir]);
  } catch {
    /* best effort: rm reports what is really in the way */
  }
  rmSync(dir, { recursive: true, force: true });
}

export interface SavedDirs {
  /** Puts every folder back as it was saved (one that did not exist then is removed). */
  restore(): void;
}

/**
 * Saves these folders (copies, timestamps kept) into `store`, so that a shared setup made
 * once can be put back before each test: tests then start from the same state in any order.
 */
export function saveDirs(dirs: string[], store: string): SavedDirs {
  const copies = dirs.map((dir, i) => ({ dir, copy: join(store, String(i)) }));
  for (const { dir, copy } of copies) if (existsSync(dir)) cpSync(dir, copy, { recursive: true, preserveTimestamps: true });
  return {
    restore() {
      const present = dirs.filter((d) => existsSync(d));
      if (present.length) execFileSync('chmod', ['-R', 'u+w', ...present]); // Go's module cache is read-only
      for (const { dir, copy } of copies) {
        rmSync(dir, { recursive: true, force: true });
        if (existsSync(copy)) cpSync(copy, dir, { recursive: true, preserveTimestamps: true });
      }
    },
  };
}

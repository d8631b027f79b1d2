import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryPath, layoutUnder, outputPath } from './layout';
import { trimIfDue } from './trim';

const DAY = 24 * 3600 * 1000;
const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fnb-gotrim-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function file(path: string, ageMs: number): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'x');
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
  return path;
}

test('once a day, entries and outputs unused for 5 days go; recent ones stay', async () => {
  const layout = layoutUnder(root);
  const paths = [
    file(entryPath(layout, OLD), 6 * DAY),
    file(outputPath(layout, OLD), 6 * DAY),
    file(entryPath(layout, NEW), 1 * DAY),
    file(outputPath(layout, NEW), 0),
  ];
  expect(await trimIfDue(layout)).toBe(0); // a new folder: the stamp is written, nothing judged yet
  file(join(layout.root, 'trim.txt'), 2 * DAY);
  expect(await trimIfDue(layout)).toBe(2);
  expect(paths.map((p) => existsSync(p))).toEqual([false, false, true, true]);
  file(entryPath(layout, OLD), 6 * DAY);
  expect(await trimIfDue(layout)).toBeUndefined(); // trimmed less than a day ago
  expect(existsSync(entryPath(layout, OLD))).toBe(true);
});

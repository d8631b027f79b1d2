/** go.mod and go.work texts read by the tokenizer, checked against what the real go command reads from the same files. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk } from '../process/run';
import { addWorkUse, hasReplaceDirective, parseModDirectives, readModText } from './modfile';

jest.setTimeout(60_000);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fnbuild-modfile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const env = (): Record<string, string | undefined> => {
  const e: Record<string, string | undefined> = { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '' };
  delete e.GOWORK;
  return e;
};

/** What `go mod edit -json` / `go work edit -json` reads from a file with this text. */
interface EditJson {
  Module?: { Path: string };
  Go?: string;
  Use?: { DiskPath: string }[];
  Replace?: { Old: { Path: string }; New: { Path: string; Version?: string } }[];
}

async function goReads(verb: 'mod' | 'work', text: string): Promise<EditJson> {
  const file = join(dir, verb === 'mod' ? 'go.mod' : 'go.work');
  writeFileSync(file, text);
  return JSON.parse(await runOk(process.env.GO?.trim() || 'go', [verb, 'edit', '-json', file], { cwd: dir, env: env() }));
}

const GO_MODS = [
  'module example.com/hello // the demo\n\ngo 1.22\n',
  '// Package comment\nmodule "example.com/quoted"\n\ngo 1.22.3\n',
  'module example.com/team/my-svc.v2\ngo 1.22\n',
  'module example.com/r\n\ngo 1.22\n\nrequire (\n\texample.com/a v1.0.0 // indirect\n\texample.com/b v1.2.0\n)\n\nreplace example.com/a => ./a\n\n' +
    'replace (\n\t// local copies\n\texample.com/b v1.2.0 => ../b\n\texample.com/c => example.com/c2 v1.0.0\n)\n',
  'module example.com/crlf\r\n\r\ngo 1.22\r\n',
];

test.each(GO_MODS.map((t) => [JSON.stringify(t.slice(0, 40)), t]))(
  'go.mod %s: the module path, go line and replaces the go command reads',
  async (_name, text) => {
    const json = await goReads('mod', text);
    const mine = readModText(text);
    expect(mine.module).toBe(json.Module?.Path);
    expect(mine.go).toBe(json.Go);
    expect(hasReplaceDirective(text)).toBe((json.Replace ?? []).length > 0);
    expect(mine.replace).toEqual((json.Replace ?? []).map((r) => ({ old: r.Old.Path, new: r.New.Path, ...(r.New.Version && { newVersion: r.New.Version }) })));
  },
);

test('go.work: use directives (single and block, quoted, commented) as the go command reads them', async () => {
  for (const d of ['a', 'b c', 'd']) mkdirSync(join(dir, d), { recursive: true });
  const text = 'go 1.22\n\nuse ./a // first\n\nuse (\n\t// the others\n\t"./b c"\n\t./d\n)\n\nreplace example.com/x => ./d\n';
  const json = await goReads('work', text);
  expect(readModText(text).use).toEqual((json.Use ?? []).map((u) => u.DiskPath));
  expect(readModText(text).go).toBe(json.Go);
  expect(readModText(text).replace).toEqual([{ old: 'example.com/x', new: './d' }]);
});

test('no module line, an unterminated string, a stray parenthesis: read as far as it goes, never thrown', () => {
  expect(readModText('go 1.22\n').module).toBeUndefined();
  expect(hasReplaceDirective('module example.com/replace // replace x => ./y\n')).toBe(false);
  expect(readModText('module "example.com/open\n').module).toBe('example.com/open');
  expect(readModText(')\nmodule example.com/x\n').module).toBe('example.com/x');
  expect(parseModDirectives('require (\n\ta v1\n')).toEqual([{ verb: 'require', args: ['a', 'v1'] }]);
  // An identifier ends where a comment starts, as in the go command's lexer.
  expect(readModText('module example.com/x//comment\n').module).toBe('example.com/x');
});

test('addWorkUse: into the use block (before its closing parenthesis), else a directive of its own; the go command reads the result', async () => {
  for (const d of ['a', 'b', 'c']) mkdirSync(join(dir, d), { recursive: true });
  const block = addWorkUse('go 1.22\n\nuse (\n\t./a\n)\n', './b');
  expect(block).toBe('go 1.22\n\nuse (\n\t./a\n\t./b\n)\n');
  expect((await goReads('work', block)).Use?.map((u) => u.DiskPath)).toEqual(['./a', './b']);
  const single = addWorkUse('go 1.22\n\nuse ./a', './c');
  expect(single).toBe('go 1.22\n\nuse ./a\n\nuse ./c\n');
  expect((await goReads('work', single)).Use?.map((u) => u.DiskPath)).toEqual(['./a', './c']);
  // A parenthesis inside a comment is no block.
  expect(addWorkUse('go 1.22\n// use (\n', './a')).toBe('go 1.22\n// use (\n\nuse ./a\n');
});

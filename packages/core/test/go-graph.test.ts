/**
 * The Go import graph with the real go command: a go.work joining modules, a local replace,
 * packages of one module, and the files go list sets aside (other platforms, tests,
 * `//go:build ignore` scripts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { goImportGraph, readGoWork, readModReplaces } from '../src/go/graph';
import { removeDir, tempDir } from '../../../testkit';
import { testEnv } from './fixtures/helpers';

jest.setTimeout(60_000);

let tmp: string;
const write = (rel: string, text: string) => {
  mkdirSync(dirname(join(tmp, rel)), { recursive: true });
  writeFileSync(join(tmp, rel), text);
};
const env = () => testEnv({ GOPROXY: 'off' });

beforeEach(() => {
  tmp = tempDir('graph');
  write('go.work', 'go 1.22\n\nuse (\n\t./libs/shared\n\t./services/api\n)\n\nreplace example.com/shared v0.0.0 => ./libs/shared\n');
  write('libs/shared/go.mod', 'module example.com/shared\n\ngo 1.22\n');
  write('libs/shared/shared.go', 'package shared\n\nfunc Hello() string { return "hi" }\n');
  write('libs/shared/log/log.go', 'package log\n');
  write('libs/shared/win/win.go', 'package win\n');
  write('libs/shared/testonly/t.go', 'package testonly\n');
  write('services/api/go.mod', 'module example.com/api\n\ngo 1.22\n\nrequire example.com/shared v0.0.0\n');
  write(
    'services/api/main.go',
    'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/api/internal/handlers"\n\t"example.com/shared"\n)\n\nfunc main() { fmt.Println(shared.Hello(), handlers.X) }\n',
  );
  write('services/api/other.go', 'package main\n\nimport _ "example.com/shared/log"\n');
  write('services/api/main_windows.go', 'package main\n\nimport _ "example.com/shared/win"\n');
  write('services/api/main_test.go', 'package main\n\nimport (\n\t"testing"\n\n\t_ "example.com/shared/testonly"\n)\n\nfunc TestX(t *testing.T) {}\n');
  write('services/api/gen.go', '//go:build ignore\n\npackage main\n\nimport _ "example.com/shared/log"\n');
  write('services/api/internal/handlers/h.go', 'package handlers\n\nconst X = 1\n');
});
afterEach(() => removeDir(tmp));

test('a go.work: each file and the local folders it imports, resolved by the go command', async () => {
  const g = await goImportGraph({ cwd: tmp, patterns: ['./libs/shared/...', './services/api/...'], env: env() });
  const rel = (p: string) => p.slice(tmp.length + 1);
  expect(g.files.map((f) => [rel(f.file), f.imports.map(rel)])).toEqual([
    ['services/api/main.go', ['libs/shared', 'services/api/internal/handlers']],
    // Test imports count (the graph is for every target); another platform's file counts (we cross-compile).
    ['services/api/main_test.go', ['libs/shared/testonly']],
    ['services/api/main_windows.go', ['libs/shared/win']],
    ['services/api/other.go', ['libs/shared/log']],
  ]);
  expect(g.packages['example.com/shared']).toBe(join(tmp, 'libs/shared'));
  expect(g.errors).toEqual([]);
});

test('without the go.work, a local replace joins the modules the same way', async () => {
  write('services/api/go.mod', 'module example.com/api\n\ngo 1.22\n\nrequire example.com/shared v0.0.0\n\nreplace example.com/shared => ../../libs/shared\n');
  const g = await goImportGraph({ cwd: join(tmp, 'services/api'), patterns: ['./...'], env: { ...env(), GOWORK: 'off' } });
  expect(g.files.find((f) => f.file.endsWith('api/main.go'))?.imports).toEqual([join(tmp, 'libs/shared'), join(tmp, 'services/api/internal/handlers')]);
  expect(await readModReplaces(join(tmp, 'services/api/go.mod'), env())).toEqual([join(tmp, 'libs/shared')]);
});

test('a missing package is a complaint, not a failure: the rest of the graph is there', async () => {
  write('services/api/broken.go', 'package main\n\nimport _ "example.com/nowhere/pkg"\n');
  const g = await goImportGraph({ cwd: tmp, patterns: ['./services/api/...'], env: env() });
  expect(g.errors.join('\n')).toContain('example.com/nowhere/pkg');
  expect(g.files.find((f) => f.file.endsWith('api/main.go'))?.imports).toContain(join(tmp, 'libs/shared'));
});

test('readGoWork: the modules it uses and its local replacements, absolute', async () => {
  expect(await readGoWork(join(tmp, 'go.work'), env())).toEqual({
    use: [join(tmp, 'libs/shared'), join(tmp, 'services/api')],
    replace: [join(tmp, 'libs/shared')],
  });
});

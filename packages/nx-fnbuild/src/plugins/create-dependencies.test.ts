import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CreateDependenciesContext, ProjectConfiguration } from '@nx/devkit';

type GraphRequest = { cwd: string; patterns: string[]; env: Record<string, string | undefined> };
const calls: GraphRequest[] = [];
let graphFor: (cwd: string) => { files: { file: string; imports: string[] }[]; packages: Record<string, string>; errors: string[] };
// The go processes (go list, go work edit) are the core's: stand-ins record what the plugin asks for.
jest.mock('@nx-fnbuild/core/workspace', () => ({
  ...jest.requireActual('@nx-fnbuild/core/workspace'),
  goImportGraphs: async (reqs: GraphRequest[]) =>
    reqs.map((req) => {
      calls.push(req);
      return graphFor(req.cwd);
    }),
  readGoWork: async (file: string) => ({ use: [join(dirname(file), 'libs/shared'), join(dirname(file), 'services/api')], replace: [] }),
  readModReplaces: async () => [],
}));
import { createDependencies } from './create-dependencies';

let ws: string;
const write = (rel: string, text = '') => {
  mkdirSync(dirname(join(ws, rel)), { recursive: true });
  writeFileSync(join(ws, rel), text);
};
const projects: Record<string, ProjectConfiguration> = {
  shared: { root: 'libs/shared' },
  api: { root: 'services/api' },
  hello: { root: 'apps/hello' },
  server: { root: 'apps/hello/cmd/server' },
  client: { root: 'apps/hello/cmd/client' },
};
function context(hashes: Record<string, string>): CreateDependenciesContext {
  const projectFileMap: Record<string, { file: string; hash: string }[]> = {};
  const nonProjectFiles: { file: string; hash: string }[] = [];
  for (const [file, hash] of Object.entries(hashes)) {
    const owner = Object.entries(projects)
      .filter(([, p]) => file.startsWith(p.root + '/'))
      .sort(([, a], [, b]) => b.root.length - a.root.length)[0]?.[0];
    if (owner) (projectFileMap[owner] ??= []).push({ file, hash });
    else nonProjectFiles.push({ file, hash });
  }
  return {
    workspaceRoot: ws,
    projects,
    nxJsonConfiguration: {},
    externalNodes: {},
    fileMap: { projectFileMap, nonProjectFiles },
    filesToProcess: { projectFileMap, nonProjectFiles },
  };
}
const files = {
  'go.work': 'w1',
  'libs/shared/go.mod': 'm1',
  'libs/shared/shared.go': 's1',
  'services/api/go.mod': 'm2',
  'services/api/main.go': 'a1',
  'services/api/main_test.go': 't1',
  'apps/hello/go.mod': 'm3',
  'apps/hello/internal/greeting/greeting.go': 'g1',
  'apps/hello/cmd/server/main.go': 'sv1',
  'apps/hello/cmd/client/main.go': 'c1',
};

beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), 'nx-fnbuild-deps-'));
  process.env.NX_WORKSPACE_DATA_DIRECTORY = join(ws, '.nx', 'workspace-data');
  delete process.env.GOWORK;
  write('go.work', 'go 1.22\n');
  for (const f of ['libs/shared/go.mod', 'services/api/go.mod', 'apps/hello/go.mod']) write(f, 'module x\n');
  calls.length = 0;
  graphFor = (cwd) =>
    cwd === ws
      ? {
          files: [
            { file: join(ws, 'services/api/main.go'), imports: [join(ws, 'libs/shared')] },
            { file: join(ws, 'services/api/main_test.go'), imports: [join(ws, 'libs/shared'), join(ws, 'services/api/internal')] },
            { file: join(ws, 'services/api/generated.go'), imports: [join(ws, 'libs/shared')] }, // not in Nx's file map
            { file: join(ws, 'libs/shared/shared.go'), imports: ['/elsewhere/module/cache/pkg'] },
          ],
          packages: {},
          errors: [],
        }
      : {
          files: [
            { file: join(ws, 'apps/hello/cmd/server/main.go'), imports: [join(ws, 'apps/hello/internal/greeting')] },
            { file: join(ws, 'apps/hello/cmd/client/main.go'), imports: [join(ws, 'apps/hello/internal/greeting')] },
          ],
          packages: {},
          errors: [],
        };
});
afterEach(() => {
  rmSync(ws, { recursive: true, force: true });
  delete process.env.NX_WORKSPACE_DATA_DIRECTORY;
});

const edges = async (hashes: Record<string, string>) =>
  (await createDependencies(undefined, context(hashes))).map((d) => `${d.source} -> ${d.target} (${'sourceFile' in d ? d.sourceFile : ''}, ${d.type})`).sort();

test('static edges from the file that imports, across modules of a go.work and packages of one module', async () => {
  expect(await edges(files)).toEqual([
    'api -> shared (services/api/main.go, static)',
    'api -> shared (services/api/main_test.go, static)',
    'client -> hello (apps/hello/cmd/client/main.go, static)',
    'server -> hello (apps/hello/cmd/server/main.go, static)',
  ]);
  // One go list for the go.work (both its modules), one for the module no go.work uses (with the workspace off).
  expect(calls.map((c) => [c.cwd, c.patterns, c.env.GOWORK])).toEqual([
    [join(ws, 'apps/hello'), ['./...'], 'off'],
    [ws, ['./libs/shared/...', './services/api/...'], undefined],
  ]);
});

test('memoized by the file hashes: unchanged, no go list; a changed file re-lists only its listing', async () => {
  await edges(files);
  calls.length = 0;
  await edges(files);
  expect(calls).toEqual([]);
  await edges({ ...files, 'apps/hello/README.md': 'r1' }); // not Go
  expect(calls).toEqual([]);
  const edited: Record<string, string> = { ...files, 'apps/hello/cmd/server/main.go': 'sv2' };
  await edges(edited);
  expect(calls.map((c) => c.cwd)).toEqual([join(ws, 'apps/hello')]);
  // In a go.work, only the module that changed is listed again; the others' edges stay.
  calls.length = 0;
  edited['services/api/main.go'] = 'a2';
  expect(await edges(edited)).toEqual([
    'api -> shared (services/api/main.go, static)',
    'api -> shared (services/api/main_test.go, static)',
    'client -> hello (apps/hello/cmd/client/main.go, static)',
    'server -> hello (apps/hello/cmd/server/main.go, static)',
  ]);
  expect(calls.map((c) => [c.cwd, c.patterns])).toEqual([[ws, ['./services/api/...']]]);
  // A go.mod changes how imports resolve: every module of the go.work is listed again.
  calls.length = 0;
  edited['libs/shared/go.mod'] = 'm1b';
  await edges(edited);
  expect(calls.map((c) => [c.cwd, c.patterns])).toEqual([[ws, ['./libs/shared/...', './services/api/...']]]);
  calls.length = 0;
  // A git-ignored go.work is not in Nx's file map: hashed from disk.
  delete edited['go.work'];
  await edges(edited);
  calls.length = 0;
  await edges(edited);
  expect(calls).toEqual([]);
  write('go.work', 'go 1.22\n// edited\n');
  await edges(edited);
  expect(calls.map((c) => c.cwd)).toEqual([ws]);
});

test('no Go module, no edges and no go process', async () => {
  expect(await edges({ 'README.md': 'x' })).toEqual([]);
  expect(calls).toEqual([]);
});

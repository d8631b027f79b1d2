import type { ModuleFacts } from './modules';
import { planProjects } from './projects';

const mod = (dir: string, over: Partial<ModuleFacts> = {}): { goMod: string; facts: ModuleFacts } => ({
  goMod: dir === '.' ? 'go.mod' : `${dir}/go.mod`,
  facts: {
    dir,
    path: `example.com/${dir.split('/').pop()}`,
    rootIsMain: false,
    cmdMains: [],
    rootHasGo: false,
    subDirs: [],
    projectJson: {},
    functions: {},
    replaces: [],
    ...over,
  },
});
const summary = (ps: ReturnType<typeof planProjects>) => ps.map((p) => `${p.root} ${p.name} ${p.projectType}${p.namedByProjectJson ? ' (project.json)' : ''}`);

test('one main package (root or cmd/) → one application; none → one library', () => {
  expect(
    summary(
      planProjects([mod('services/api', { rootIsMain: true }), mod('services/worker', { cmdMains: ['services/worker/cmd/worker'] }), mod('libs/shared')]),
    ),
  ).toEqual(['libs/shared shared library', 'services/api api application', 'services/worker worker application']);
});

test('several main packages under cmd/ → one application each (named after the folder) plus the module as a library', () => {
  expect(summary(planProjects([mod('apps/hello', { cmdMains: ['apps/hello/cmd/client', 'apps/hello/cmd/server'] })]))).toEqual([
    'apps/hello hello library',
    'apps/hello/cmd/client client application',
    'apps/hello/cmd/server server application',
  ]);
  // A root main package plus commands: the module is an application too.
  expect(summary(planProjects([mod('tool', { rootIsMain: true, cmdMains: ['tool/cmd/gen'] })]))).toEqual([
    'tool tool application',
    'tool/cmd/gen gen application',
  ]);
});

test('a project.json keeps its name; the root module is named after its module path', () => {
  expect(
    summary(planProjects([mod('.', { path: 'example.com/acme/platform', cmdMains: ['cmd/a', 'cmd/b'], projectJson: { 'cmd/a': 'alpha', '.': null } })])),
  ).toEqual(['. platform library', 'cmd/a alpha application (project.json)', 'cmd/b b application']);
});

test('colliding names: commands by their module, modules by their path, project.json names untouched', () => {
  const ps = planProjects([
    mod('billing', { cmdMains: ['billing/cmd/server', 'billing/cmd/migrate'] }),
    mod('shop', { cmdMains: ['shop/cmd/server', 'shop/cmd/shop'] }),
    mod('services/api', { rootIsMain: true }),
    mod('tools/api', { rootIsMain: true }),
    mod('named', { rootIsMain: true, projectJson: { named: 'migrate' } }),
  ]);
  expect(summary(ps)).toEqual([
    'billing billing library',
    'billing/cmd/migrate billing-migrate application',
    'billing/cmd/server billing-server application',
    'named migrate application (project.json)',
    'services/api services-api application',
    'shop shop library',
    'shop/cmd/server shop-server application',
    'shop/cmd/shop shop-shop application',
    'tools/api tools-api application',
  ]);
});

test('a func.yaml folder is an application: the module itself at its root (counting as its main package), else a project of its own', () => {
  expect(summary(planProjects([mod('hello', { functions: { hello: 'hello' } }), mod('libs/plain')]))).toEqual([
    'hello hello application',
    'libs/plain plain library',
  ]);
  expect(
    summary(
      planProjects([
        mod('apps', {
          cmdMains: ['apps/cmd/tool'],
          functions: { 'apps/functions/greet': null, 'apps/cmd/fn': 'fn' },
          projectJson: { 'apps/functions/greet': 'greeter' },
        }),
      ]),
    ),
  ).toEqual(['apps apps application', 'apps/cmd/fn fn application', 'apps/functions/greet greeter application (project.json)']);
  // A function module root plus a command: two applications, like a main root plus a command.
  expect(summary(planProjects([mod('svc', { cmdMains: ['svc/cmd/migrate'], functions: { svc: 'svc' } })]))).toEqual([
    'svc svc application',
    'svc/cmd/migrate migrate application',
  ]);
});

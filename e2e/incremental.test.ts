/**
 * What rebuilds after an edit, counted from the go wrapper's log (not from what nx-fnbuild
 * reports): a main package's own file rebuilds that target only; the shared internal package
 * and its embedded file rebuild both; go.mod/go.sum changes run `go mod download` again,
 * and nothing else does.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { expectSuccess } from './harness/assert';
import { goModSumLine, moduleProxy } from '../testkit';
import { FIXTURES } from './harness/paths';
import { fileStates, runBinary, Workspace } from './harness/workspace';

const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const folder = (p: string) => p.replace(/\//g, '_');
const builds = (target: string) => PLATFORMS.map((p) => `./cmd/${target} ${p}`);
const BOTH = [...builds('client'), ...builds('server')].sort();

let ws: Workspace;
const bin = (target: string, platform = 'linux/amd64') => ws.projectPath('bin', folder(platform), target);
const binaries = (target: string) => PLATFORMS.map((p) => bin(target, p));

/** A build of both targets for two platforms; Nx's cache is skipped so the executor always runs. */
async function build() {
  const r = await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', `--platforms=${PLATFORMS.join(',')}`]);
  expectSuccess(r, 'nx run demo:build-binaries');
  return r;
}

/** The go builds one build ran, as sorted "<package> <platform>". */
async function buildsOf(change: () => Promise<void>): Promise<{ builds: string[]; output: string }> {
  await build(); // whatever came before is built and cached
  await change();
  await ws.goLog.reset();
  const r = await build();
  return { builds: await ws.goLog.buildSet(), output: r.output };
}

beforeAll(async () => {
  // Go modules come from a file:// proxy inside the workspace (and nowhere else).
  ws = await Workspace.create({ env: (root) => ({ GOPROXY: `file://${join(root, '.e2e', 'goproxy')}`, GONOSUMDB: 'example.com' }) });
  moduleProxy(join(FIXTURES, 'goproxy'), ws.path('.e2e', 'goproxy'));
}, 5 * 60_000);

afterAll(async () => {
  await ws?.dispose();
});

test(
  "editing cmd/client/main.go rebuilds the client only, on every platform; the server's binaries are not touched",
  async () => {
    await build();
    const server = await fileStates(binaries('server'));
    const client = await fileStates(binaries('client'));

    const r = await buildsOf(() =>
      ws.edit('cmd/client/main.go', (s) => s.replace('fmt.Println(greeting.For(*name))', 'fmt.Println(greeting.For(*name), "(edited)")')),
    );
    expect(r.builds).toEqual(builds('client'));
    expect(r.output).toContain('4 binaries (2 built, 2 cached)');
    for (const p of PLATFORMS) {
      expect(r.output).toMatch(new RegExp(`built +compile client ${p} `));
      expect(r.output).toMatch(new RegExp(`cached +compile server ${p} `));
    }

    expect(await fileStates(binaries('server'))).toEqual(server);
    const after = await fileStates(binaries('client'));
    for (const p of binaries('client')) expect(after[p].sha256).not.toBe(client[p].sha256);
    expect(await runBinary(bin('client'), ['-name', 'e2e'])).toBe('Hello, e2e! (edited)\n');
  },
  5 * 60_000,
);

test(
  'editing the embedded file of the shared internal package rebuilds client and server',
  async () => {
    const r = await buildsOf(() => ws.edit('internal/greeting/greeting.txt', (s) => s.replace('Hello', 'Howdy')));
    expect(r.builds).toEqual(BOTH);
    expect(await runBinary(bin('client'), ['-name', 'e2e'])).toBe('Howdy, e2e! (edited)\n');
    expect(await runBinary(bin('server'), ['-greet', 'e2e'])).toBe('Howdy, e2e!\n');
  },
  5 * 60_000,
);

test(
  'editing a .go file of the shared internal package rebuilds client and server',
  async () => {
    const r = await buildsOf(() => ws.edit('internal/greeting/greeting.go', (s) => s.replace('name = "world"', 'name = "stranger"')));
    expect(r.builds).toEqual(BOTH);
    expect(await runBinary(bin('client'), [])).toBe('Howdy, stranger! (edited)\n');
  },
  5 * 60_000,
);

test(
  'a new .go file in the shared package rebuilds both; a new test file or README rebuilds nothing',
  async () => {
    const added = await buildsOf(() =>
      fs.writeFile(
        ws.projectPath('internal/greeting/wink.go'),
        'package greeting\n\nimport "strings"\n\nfunc init() { template = strings.TrimSpace(template) + " ;)" }\n',
      ),
    );
    expect(added.builds).toEqual(BOTH);
    expect(await runBinary(bin('server'), ['-greet', 'e2e'])).toBe('Howdy, e2e! ;)\n');

    const before = await fileStates([...binaries('client'), ...binaries('server')]);
    const unrelated = await buildsOf(async () => {
      await fs.writeFile(ws.projectPath('internal/greeting/README.md'), '# greeting\n');
      await fs.writeFile(
        ws.projectPath('internal/greeting/greeting_test.go'),
        'package greeting\n\nimport "testing"\n\nfunc TestFor(t *testing.T) { _ = For("x") }\n',
      );
    });
    expect(unrelated.builds).toEqual([]);
    expect(await fileStates([...binaries('client'), ...binaries('server')])).toEqual(before);
  },
  5 * 60_000,
);

describe('modules: go mod download runs when go.mod/go.sum change, and only then', () => {
  const modCache = () => ws.env.GOMODCACHE!;
  const downloaded = () => join(modCache(), 'cache', 'download', 'example.com', 'quote', '@v', 'v1.0.0.zip');

  test(
    'unchanged go.mod and go.sum: no go mod download',
    async () => {
      await build();
      await ws.goLog.reset();
      await build();
      expect(await ws.goLog.modDownloads()).toEqual([]);
      expect(await ws.goLog.builds()).toEqual([]);
    },
    5 * 60_000,
  );

  test(
    'a new requirement (go.mod and go.sum) runs go mod download, which fetches it from the proxy',
    async () => {
      await build();
      // `go get` by the real go, with its own module cache: the workspace's stays empty until nx-fnbuild downloads.
      await ws.go(['get', 'example.com/quote@v1.0.0'], { env: { GOMODCACHE: ws.path('.e2e', 'setup-modcache') } });
      const goSum = await fs.readFile(ws.projectPath('go.sum'), 'utf8');
      const quoteGoMod = await fs.readFile(join(FIXTURES, 'goproxy', 'example.com', 'quote@v1.0.0', 'go.mod'), 'utf8');
      // goModSumLine computes the same hash go does (the next test relies on it for a real go.sum line).
      expect(goSum).toContain(goModSumLine('example.com/quote', 'v1.0.0', quoteGoMod) + '\n');
      expect(existsSync(downloaded())).toBe(false);

      await ws.goLog.reset();
      await build();
      expect((await ws.goLog.modDownloads()).map((c) => c.args)).toEqual(['mod download -json']);
      expect(existsSync(downloaded())).toBe(true);

      await ws.goLog.reset();
      await build();
      expect(await ws.goLog.modDownloads()).toEqual([]);
      expect(await ws.goLog.builds()).toEqual([]);
    },
    5 * 60_000,
  );

  test(
    'a go.sum change alone runs go mod download again',
    async () => {
      await build();
      const extra = goModSumLine('example.com/unused', 'v0.1.0', 'module example.com/unused\n\ngo 1.21\n');
      await fs.appendFile(ws.projectPath('go.sum'), extra + '\n');
      await ws.goLog.reset();
      await build();
      expect((await ws.goLog.modDownloads()).map((c) => c.args)).toEqual(['mod download -json']);
    },
    5 * 60_000,
  );

  test(
    'using the downloaded module in the client rebuilds the client only, without downloading again',
    async () => {
      const r = await buildsOf(() =>
        ws.edit('cmd/client/main.go', (s) =>
          s
            .replace('"example.com/demo/internal/greeting"', '"example.com/demo/internal/greeting"\n\t"example.com/quote"')
            .replace(
              'flag.Parse()',
              'proverb := flag.Bool("proverb", false, "print a Go proverb")\n\tflag.Parse()\n\tif *proverb {\n\t\tfmt.Println(quote.Go())\n\t\treturn\n\t}',
            ),
        ),
      );
      expect(r.builds).toEqual(builds('client'));
      expect(await ws.goLog.modDownloads()).toEqual([]);
      expect(await runBinary(bin('client'), ['-proverb'])).toBe("Don't communicate by sharing memory, share memory by communicating.\n");
    },
    5 * 60_000,
  );
});

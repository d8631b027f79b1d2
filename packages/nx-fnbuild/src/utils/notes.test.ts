import { execFileSync } from 'node:child_process';
import type { ExecutorContext } from '@nx/devkit';
import type { FuncYamlPins, ResolvedSource } from '@nx-fnbuild/core';
import { executorNotes, lsRemoteInput, shellWord } from './notes';

/** The parts of an executor context the notes read: the workspace root, the project's target and its inputs. */
function contextWith(inputs?: unknown[]): ExecutorContext {
  const target = { executor: 'nx-fnbuild:build-image', ...(inputs ? { inputs } : {}) };
  return {
    root: '/ws',
    cwd: '/ws',
    isVerbose: false,
    projectName: 'hello-fn',
    targetName: 'build-image',
    projectsConfigurations: { version: 2, projects: { 'hello-fn': { root: 'apps/hello-fn', targets: { 'build-image': target } } } },
  } as unknown as ExecutorContext;
}

const commit = 'a'.repeat(40);
const branch: ResolvedSource = { url: 'https://git.example.com/fns.git', revision: 'main', ref: 'refs/heads/main', commit };
const notes = (source: ResolvedSource | undefined, ctx: ExecutorContext) => executorNotes(source ? { source } : {}, ctx);

describe('executorNotes', () => {
  let savedCI: string | undefined;
  beforeAll(() => {
    savedCI = process.env.CI;
    delete process.env.CI;
  });
  afterAll(() => {
    if (savedCI !== undefined) process.env.CI = savedCI;
  });

  it('nothing for a project built from its own folder that wrote no pins', () => {
    expect(notes(undefined, contextWith())).toEqual([]);
  });

  it('a tag or a commit: just the commit it built', () => {
    const tag: ResolvedSource = { url: 'file:///r.git', revision: 'v1', ref: 'refs/tags/v1', commit };
    expect(notes(tag, contextWith())).toEqual([`source file:///r.git v1 → ${commit}`]);
    expect(notes({ url: 'file:///r.git', revision: commit, commit }, contextWith())).toEqual([`source file:///r.git ${commit} → ${commit}`]);
  });

  it('a branch without an ls-remote input: a warning naming the input to add to that target', () => {
    const [line, warning] = notes(branch, contextWith(['default', { env: 'FUNC_NAME' }]));
    expect(line).toBe(`source https://git.example.com/fns.git main → ${commit}`);
    expect(warning).toContain('warning: revision "main" is a branch (refs/heads/main)');
    expect(warning).toContain('Add {"runtime":"git ls-remote https://git.example.com/fns.git refs/heads/main"} to the inputs of hello-fn:build-image');
    expect(warning).toContain('or pin a tag or a full commit');
    expect(warning).not.toContain('credential');
  });

  it("no warning once the target has an ls-remote runtime input (the one suggested, or the user's own)", () => {
    expect(notes(branch, contextWith(['default', lsRemoteInput(branch)]))).toHaveLength(1);
    expect(notes(branch, contextWith([{ runtime: 'git ls-remote origin main | cut -f1' }]))).toHaveLength(1);
    expect(notes(branch, contextWith([{ runtime: 'date +%F' }]))).toHaveLength(2);
  });

  it("the remote's HEAD, and a URL with credentials: the suggestion never carries them and says how to keep them out", () => {
    const head: ResolvedSource = { url: 'https://***@git.example.com/fns.git', ref: 'HEAD', commit };
    const [line, warning] = notes(head, contextWith());
    expect(line).toBe(`source https://***@git.example.com/fns.git HEAD → ${commit}`);
    expect(warning).toContain(`revision "HEAD" is the remote's HEAD`);
    expect(warning).toContain('use a git credential helper');
  });

  it('pins written into func.yaml come after the source, relative to the workspace; the Nx warning last', () => {
    const pinned: FuncYamlPins = { path: '/ws/apps/hello-fn/func.yaml', fields: { runtime: 'go1.26' } };
    const lines = executorNotes({ source: branch, pinned }, contextWith());
    expect(lines.slice(0, 3)).toEqual([
      `source https://git.example.com/fns.git main → ${commit}`,
      'apps/hello-fn/func.yaml: pinned runtime: go1.26',
      'Commit func.yaml to keep them; edit them to upgrade.',
    ]);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^warning: revision "main" is a branch/);
    expect(executorNotes({ pinned }, contextWith())).toHaveLength(2);
  });
});

describe('shellWord', () => {
  it('the shell Nx runs a runtime input in reads each word back as it was', () => {
    const words = ['file:///tmp/a b/r.git', "it's", 'refs/heads/main', 'https://h/x.git?a=1&b=$HOME', '`id`;ls'];
    for (const w of words) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellWord(w)}`], { encoding: 'utf8' })).toBe(w);
    }
    expect(shellWord('refs/heads/main')).toBe('refs/heads/main');
  });
});

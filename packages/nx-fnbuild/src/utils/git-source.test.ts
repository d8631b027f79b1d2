import { execFileSync } from 'node:child_process';
import type { ExecutorContext } from '@nx/devkit';
import type { ResolvedSource } from '@nx-fnbuild/core';
import { gitSourceLines, lsRemoteInput, shellWord } from './git-source';

/** The parts of an executor context the lines read: the project's target and its inputs. */
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
const branch: ResolvedSource = { url: 'https://git.example.com/fns.git', revision: 'main', ref: 'refs/heads/main', commit, movable: true };

describe('gitSourceLines', () => {
  it('nothing for a project built from its own folder', () => {
    expect(gitSourceLines(undefined, contextWith())).toEqual([]);
  });

  it('a tag or a commit: just the commit it built', () => {
    const tag: ResolvedSource = { url: 'file:///r.git', revision: 'v1', ref: 'refs/tags/v1', commit, movable: false };
    expect(gitSourceLines(tag, contextWith())).toEqual([`source file:///r.git v1 → ${commit}`]);
    expect(gitSourceLines({ url: 'file:///r.git', revision: commit, commit, movable: false }, contextWith())).toHaveLength(1);
  });

  it('a branch without an ls-remote input: a warning naming the input to add to that target', () => {
    const [line, warning] = gitSourceLines(branch, contextWith(['default', { env: 'FUNC_NAME' }]));
    expect(line).toBe(`source https://git.example.com/fns.git main → ${commit}`);
    expect(warning).toContain('warning: revision "main" is a branch (refs/heads/main)');
    expect(warning).toContain('Add {"runtime":"git ls-remote https://git.example.com/fns.git refs/heads/main"} to the inputs of hello-fn:build-image');
    expect(warning).toContain('or pin a tag or a full commit');
    expect(warning).not.toContain('credential');
  });

  it('no warning once the target has an ls-remote runtime input (the one suggested, or the user\'s own)', () => {
    expect(gitSourceLines(branch, contextWith(['default', lsRemoteInput(branch)]))).toHaveLength(1);
    expect(gitSourceLines(branch, contextWith([{ runtime: 'git ls-remote origin main | cut -f1' }]))).toHaveLength(1);
    expect(gitSourceLines(branch, contextWith([{ runtime: 'date +%F' }]))).toHaveLength(2);
  });

  it("the remote's HEAD, and a URL with credentials: the suggestion never carries them and says how to keep them out", () => {
    const head: ResolvedSource = { url: 'https://***@git.example.com/fns.git', ref: 'HEAD', commit, movable: true };
    const [line, warning] = gitSourceLines(head, contextWith());
    expect(line).toBe(`source https://***@git.example.com/fns.git HEAD → ${commit}`);
    expect(warning).toContain(`revision "HEAD" is the remote's HEAD`);
    expect(warning).toContain('use a git credential helper');
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

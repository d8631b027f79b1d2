import { FnbuildError } from '../util/errors';
import type { SourceInfo } from './source-info';
import { expandTemplate, placeholdersIn, TEMPLATE_HELP } from './templates';

const INFO: SourceInfo = {
  version: '1.2.3',
  commit: '0123456789abcdef0123456789abcdef01234567',
  shortCommit: '0123456',
  date: '2024-03-04T05:06:07Z',
  epoch: 1709528767,
};

/** An info function that counts its calls. */
const infoFn = () => jest.fn(async () => INFO);
/** An info function that must not be called: git is not to be consulted. */
const noGit = () =>
  jest.fn(async (): Promise<SourceInfo> => {
    throw new Error('git was consulted');
  });

async function errorOf(p: Promise<unknown>): Promise<FnbuildError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FnbuildError);
    return e as FnbuildError;
  }
  throw new Error('expected an FnbuildError');
}

describe('expandTemplate', () => {
  test('expands {version} {commit} {shortCommit} {date} and {env.NAME}, asking for source info once', async () => {
    const info = infoFn();
    const out = await expandTemplate(
      '-s -w -X main.version={version} -X main.commit={commit} -X main.short={shortCommit} -X main.date={date} -X main.by={env.BUILDER} -X main.v2={version}',
      'ldflags',
      info,
      { BUILDER: 'ci-7' },
    );
    expect(out).toBe(
      '-s -w -X main.version=1.2.3 -X main.commit=0123456789abcdef0123456789abcdef01234567 -X main.short=0123456 -X main.date=2024-03-04T05:06:07Z -X main.by=ci-7 -X main.v2=1.2.3',
    );
    expect(info).toHaveBeenCalledTimes(1);
  });

  test('text without placeholders does not consult git', async () => {
    const info = noGit();
    expect(await expandTemplate('-s -w', 'ldflags', info, {})).toBe('-s -w');
    expect(await expandTemplate('', 'ldflags', info, {})).toBe('');
    expect(info).not.toHaveBeenCalled();
  });

  test('only {env.NAME} placeholders: git is not consulted', async () => {
    const info = noGit();
    expect(await expandTemplate('-X main.region={env.REGION}', 'ldflags', info, { REGION: 'eu-west-1' })).toBe('-X main.region=eu-west-1');
    expect(info).not.toHaveBeenCalled();
  });

  test('an explicit version is all {version} needs: git is not consulted', async () => {
    const info = noGit();
    expect(await expandTemplate('-X main.version={version}', 'ldflags', info, {}, '9.9.9')).toBe('-X main.version=9.9.9');
    expect(info).not.toHaveBeenCalled();
  });

  test('an explicit version with {commit} still asks git for the commit', async () => {
    // sourceInfo(dir, env, '9.9.9') reports the explicit version itself.
    const info = jest.fn(async () => ({ ...INFO, version: '9.9.9' }));
    expect(await expandTemplate('{version}+{shortCommit}', 'ldflags', info, {}, '9.9.9')).toBe('9.9.9+0123456');
    expect(info).toHaveBeenCalledTimes(1);
  });

  test('an env variable set to the empty string expands to it', async () => {
    expect(await expandTemplate('a{env.EMPTY}b', 'ldflags', noGit(), { EMPTY: '' })).toBe('ab');
  });

  test('an unset env variable is an error naming it', async () => {
    const e = await errorOf(expandTemplate('-X main.token={env.DEPLOY_TOKEN}', 'ldflags', noGit(), { OTHER: 'x' }));
    expect(e.message).toBe('ldflags uses {env.DEPLOY_TOKEN} but DEPLOY_TOKEN is not set\n  Set DEPLOY_TOKEN in the environment or the "env" option.');
  });

  test('an unknown placeholder is an error naming it and the valid ones', async () => {
    const e = await errorOf(expandTemplate('-X main.v={Version}', 'ldflags', infoFn(), {}));
    expect(e.message).toBe(`ldflags has an unknown placeholder {Version}\n  ${TEMPLATE_HELP}`);
    expect(TEMPLATE_HELP).toBe('valid placeholders: {version}, {commit}, {shortCommit}, {date}, {env.NAME}');
  });

  // Minor (templates.ts:24-27): any non-env name, known or not, triggers the git lookup
  // before the name is checked, so a typo like {Version} runs three git processes first.
  test('an unknown placeholder is refused without consulting git', async () => {
    const info = noGit();
    const e = await errorOf(expandTemplate('-X main.v={Version}', 'ldflags', info, {}));
    expect(e.message).toBe(`ldflags has an unknown placeholder {Version}\n  ${TEMPLATE_HELP}`);
    expect(info).not.toHaveBeenCalled();
  });

  test('braces that are not placeholders are left alone', async () => {
    const info = noGit();
    expect(await expandTemplate('{} {1x} { version } {-a}', 'ldflags', info, {})).toBe('{} {1x} { version } {-a}');
    expect(info).not.toHaveBeenCalled();
  });

  test('a failing source lookup surfaces instead of baking in a blank', async () => {
    await expect(expandTemplate('{commit}', 'ldflags', noGit(), {})).rejects.toThrow('git was consulted');
  });
});

describe('placeholdersIn', () => {
  test('lists the non-env placeholders once each', () => {
    expect(placeholdersIn('{version} {env.X} {commit} {version} {date}')).toEqual(['version', 'commit', 'date']);
    expect(placeholdersIn('-s -w {env.A}')).toEqual([]);
  });
});

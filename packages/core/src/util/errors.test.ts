import { LayoutError } from '../oci/read-layout';
import { ImageReferenceError, parseReference } from '../oci/reference';
import { parsePlatform, PlatformError } from '../platform/platform';
import { runOk } from '../process/run';
import { RegistryError } from '../registry/errors';
import { FnbuildError, isUserError } from './errors';

/** The thrown value of fn; fails the test when nothing is thrown. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected fn to throw');
}

describe('one error taxonomy: a user error is an FnbuildError, by type', () => {
  const user: [name: string, err: unknown][] = [
    ['FnbuildError', new FnbuildError('bad input', 'fix it')],
    ['PlatformError from parsePlatform', thrownBy(() => parsePlatform('linux'))],
    ['ImageReferenceError from parseReference', thrownBy(() => parseReference('Bad/Name'))],
    ['LayoutError', new LayoutError('not a layout')],
    ['RegistryError', new RegistryError('denied', undefined, { codes: ['DENIED'], retryable: false })],
  ];
  it.each(user)('%s is a user error', (_name, err) => {
    expect(err).toBeInstanceOf(FnbuildError);
    expect(isUserError(err)).toBe(true);
  });

  it('PlatformError keeps its own name and class', () => {
    const err = thrownBy(() => parsePlatform('linux'));
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as Error).name).toBe('PlatformError');
    expect((err as Error).message).toMatch(/^invalid platform "linux": expected os\/arch/);
  });

  it('keeps the hint on its own line', () => {
    expect(new FnbuildError('bad input', 'fix it').message).toBe('bad input\n  fix it');
  });

  const bugs: [name: string, err: unknown][] = [
    ['a plain Error', new Error('boom')],
    ['a TypeError', thrownBy(() => (null as unknown as { x: number }).x)],
    ['an Error that only calls itself PlatformError', Object.assign(new Error('spoof'), { name: 'PlatformError' })],
    ['an Error that only calls itself FnbuildError', Object.assign(new Error('spoof'), { name: 'FnbuildError' })],
    ['the global ReferenceError', new ReferenceError('x is not defined')],
    ['a string', 'failed'],
    ['undefined', undefined],
  ];
  it.each(bugs)('%s is a bug (shown with its stack)', (_name, err) => {
    expect(isUserError(err)).toBe(false);
  });

  it("a bad reference is an ImageReferenceError, not JavaScript's ReferenceError", () => {
    const err = thrownBy(() => parseReference('Bad/Name'));
    expect(err).toBeInstanceOf(ImageReferenceError);
    expect(err).not.toBeInstanceOf(globalThis.ReferenceError);
  });
});

describe('a user error never carries a credential it can recognize', () => {
  it('masks URL userinfo and secret-named parameters in the message and the hint', () => {
    const err = new FnbuildError('cannot fetch https://me:hunter2@git.example/r.git', 'retry https://h/x?access_token=abc123');
    expect(err.message).toBe('cannot fetch https://***@git.example/r.git\n  retry https://h/x?access_token=***');
    expect(err.hint).toBe('retry https://h/x?access_token=***');
    expect(err.stack ?? '').not.toContain('hunter2');
  });

  it("holds for a failed command's line and output, whoever built the message (process/run.ts)", async () => {
    const url = 'https://deploy:t0ps3cret@git.example/r.git';
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this is source for the child node process, which fills in the placeholder
    const script = 'console.error(`fatal: cannot reach ${process.argv[1]}`); process.exit(3)';
    const err = (await runOk(process.execPath, ['-e', script, url], { cwd: process.cwd(), env: process.env }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(FnbuildError);
    expect(err.message).toContain('failed (exit 3)');
    expect(err.message).toContain('fatal: cannot reach https://***@git.example/r.git');
    expect(`${err.message}\n${err.stack}`).not.toContain('t0ps3cret');
  });

  it('holds for subclasses too', () => {
    expect(new PlatformError('see https://u:p4ss@h/').message).toBe('see https://***@h/');
  });
});

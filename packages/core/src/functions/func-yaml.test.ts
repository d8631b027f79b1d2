import { describePins, parseFuncYaml } from './func-yaml';
import { parameterTypes, parseDeclaration } from './handler';

const parse = (text: string) => () => parseFuncYaml(text, '/p/func.yaml');

describe('describePins', () => {
  const pins = { path: '/ws/apps/fn/func.yaml', fields: { runtime: 'go1.26', run_image: 'reg/base:1@sha256:' + 'b'.repeat(64) } };
  test('names the file (relative to the workspace) and each pin, and says to commit it', () => {
    expect(describePins(pins, {}, '/ws')).toEqual([
      `apps/fn/func.yaml: pinned runtime: go1.26, run_image: reg/base:1@sha256:${'b'.repeat(64)}`,
      'Commit func.yaml to keep them; edit them to upgrade.',
    ]);
    expect(describePins(pins, { CI: 'false' }, '/ws')[1]).toMatch(/^Commit func\.yaml/);
  });
  test('in CI, warns that the pins go away with the checkout', () => {
    for (const CI of ['true', '1'])
      expect(describePins(pins, { CI }, '/ws')[1]).toMatch(
        /^warning: func\.yaml had no pins, and this CI checkout is thrown away with them: build once locally and commit func\.yaml/,
      );
  });
});

describe('func.yaml (Fn schema 20180708)', () => {
  test('reads the fields nx-fnbuild uses and accepts the rest of Fn', () => {
    const f = parseFuncYaml(
      'schema_version: 20180708\nname: team/hello\nversion: 0.0.1\nruntime: go1.26\nrun_image: reg.example/base:1@sha256:' +
        'a'.repeat(64) +
        '\nconfig:\n  GREETING: hi\n  RETRIES: 3\nmemory: 256\ntriggers:\n  - name: hello\n    type: http\n    source: /hello\n',
      '/p/func.yaml',
    );
    expect(f.data).toMatchObject({ name: 'team/hello', version: '0.0.1', runtime: 'go1.26', config: { GREETING: 'hi', RETRIES: '3' }, memory: 256 });
    expect(f.data.triggers).toEqual([{ name: 'hello', type: 'http', source: '/hello' }]);
  });

  test('a Knative func.yaml is named as such, not misread', () => {
    expect(parse('specVersion: 0.36.0\nname: hello\nruntime: go\nimage: docker.io/me/hello:latest\ncreated: 2024-01-01T00:00:00Z\n')).toThrow(
      /Knative Functions func\.yaml \(specVersion 0\.36\.0\): not supported yet[\s\S]*schema_version: 20180708/,
    );
  });

  test.each([
    ['schema_version: 20180708\nname: Hello\n', /func\.yaml:2:7: field "name": name is the image name/],
    ['schema_version: 20180708\nname: hello\nversion: 1 2\n', /func\.yaml:3:10: field "version": a version is used as the image tag/],
    ['schema_version: 20180708\nname: hello\nruntime: java11\n', /func\.yaml:3:10: field "runtime": runtime is "go" or a Go version/],
    ['schema_version: 20180708\nname: hello\nconfig:\n  bad-key: x\n', /func\.yaml:4:\d+: field "config.bad-key"/],
    ['schema_version: 20180708\nname: hello\nimage_name: x\n', /func\.yaml:3:1: unknown field "image_name"[\s\S]*fields: schema_version, name, version/],
    ['schema_version: 20180708\nversion: 0.1.0\n', /func\.yaml:1:1: field "name" is required/],
    ['schema_version: 1\nname: hello\n', /func\.yaml:1:17: field "schema_version": only Fn's schema_version 20180708/],
    ['name: hello\n  version: 1\n', /func\.yaml:\d+:\d+: not valid YAML/],
    ['- a\n- b\n', /func\.yaml:1:1: func\.yaml is a mapping/],
  ])('%j is refused with its line and field', (text, message) => {
    expect(parse(text)).toThrow(message);
  });
});

describe('handler signatures as go doc prints them', () => {
  test.each([
    ['func Hello(w http.ResponseWriter, r *http.Request)', true],
    ['func Hello(http.ResponseWriter, *http.Request)', true],
    ['func Hello(w nethttp.ResponseWriter, req *nethttp.Request)', true],
    ['func Hello(w http.ResponseWriter, r *http.Request) error', false],
    ['func Hello(r *http.Request, w http.ResponseWriter)', false],
    ['func Hello(ctx context.Context, in []byte) (ofctx.Out, error)', false],
    ['var Hello http.HandlerFunc', true],
    ['var Hello = http.HandlerFunc(serve)', true],
    ['var Hello = 3', false],
  ])('%s → handler %s', (line, handler) => {
    expect(parseDeclaration(line)?.handler).toBe(handler);
  });
  test('parameter names are dropped, grouped names share their type', () => {
    expect(parameterTypes('a, b int, m map[string]int, f func(x, y int) error')).toEqual(['int', 'int', 'map[string]int', 'func(x, y int) error']);
    expect(parseDeclaration('type T struct{}')).toBeUndefined();
  });
});

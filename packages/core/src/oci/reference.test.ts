import { parseFuncYaml } from '../functions/func-yaml';
import { buildImageOptionsSchema } from '../images/options';
import { FnbuildError } from '../util/errors';
import {
  apiHost,
  checkTag,
  formatReference,
  ImageReferenceError,
  isRepositoryPath,
  isTag,
  manifestReference,
  parseReference,
  parseRepoTag,
  parseRepository,
  tagFault,
} from './reference';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  const ok: [input: string, formatted: string, parts: { registry: string; repository: string; tag?: string; digest?: string }][] = [
    ['busybox', 'index.docker.io/library/busybox:latest', { registry: 'index.docker.io', repository: 'library/busybox', tag: 'latest' }],
    ['busybox:1.36', 'index.docker.io/library/busybox:1.36', { registry: 'index.docker.io', repository: 'library/busybox', tag: '1.36' }],
    ['library/busybox', 'index.docker.io/library/busybox:latest', { registry: 'index.docker.io', repository: 'library/busybox', tag: 'latest' }],
    ['docker.io/busybox', 'index.docker.io/library/busybox:latest', { registry: 'index.docker.io', repository: 'library/busybox', tag: 'latest' }],
    ['index.docker.io/library/busybox:1', 'index.docker.io/library/busybox:1', { registry: 'index.docker.io', repository: 'library/busybox', tag: '1' }],
    ['registry-1.docker.io/team/app', 'index.docker.io/team/app:latest', { registry: 'index.docker.io', repository: 'team/app', tag: 'latest' }],
    ['team/app:v2', 'index.docker.io/team/app:v2', { registry: 'index.docker.io', repository: 'team/app', tag: 'v2' }],
    ['localhost:5000/x', 'localhost:5000/x:latest', { registry: 'localhost:5000', repository: 'x', tag: 'latest' }],
    ['localhost/x', 'localhost/x:latest', { registry: 'localhost', repository: 'x', tag: 'latest' }],
    ['127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t', { registry: '127.0.0.1:5000', repository: 'a/b', tag: 't' }],
    ['ghcr.io/org/app/sub:1.2.3-rc.1', 'ghcr.io/org/app/sub:1.2.3-rc.1', { registry: 'ghcr.io', repository: 'org/app/sub', tag: '1.2.3-rc.1' }],
    [`ghcr.io/org/app@${D}`, `ghcr.io/org/app@${D}`, { registry: 'ghcr.io', repository: 'org/app', digest: D }],
    [`ghcr.io/org/app:v1@${D}`, `ghcr.io/org/app:v1@${D}`, { registry: 'ghcr.io', repository: 'org/app', tag: 'v1', digest: D }],
    [`busybox@${D}`, `index.docker.io/library/busybox@${D}`, { registry: 'index.docker.io', repository: 'library/busybox', digest: D }],
    ['GHCR.IO/org/app', 'ghcr.io/org/app:latest', { registry: 'ghcr.io', repository: 'org/app', tag: 'latest' }],
    [
      'reg.example.com:443/a_b/c__d/e-f/g.h:Tag_1',
      'reg.example.com:443/a_b/c__d/e-f/g.h:Tag_1',
      { registry: 'reg.example.com:443', repository: 'a_b/c__d/e-f/g.h', tag: 'Tag_1' },
    ],
    ['x/a--b', 'index.docker.io/x/a--b:latest', { registry: 'index.docker.io', repository: 'x/a--b', tag: 'latest' }],
    [
      `app:${'t'.repeat(128)}`,
      `index.docker.io/library/app:${'t'.repeat(128)}`,
      { registry: 'index.docker.io', repository: 'library/app', tag: 't'.repeat(128) },
    ],
    ['[::1]:5000/app:1', '[::1]:5000/app:1', { registry: '[::1]:5000', repository: 'app', tag: '1' }],
    ['my-registry.local/app', 'my-registry.local/app:latest', { registry: 'my-registry.local', repository: 'app', tag: 'latest' }],
  ];
  it.each(ok)('%s', (input, formatted, parts) => {
    const ref = parseReference(input);
    expect(ref).toEqual(parts);
    expect(formatReference(ref)).toBe(formatted);
    expect(parseReference(formatted)).toEqual(ref); // round trip
  });

  const bad: [input: string, message: RegExp][] = [
    ['', /image reference is empty/],
    ['Team/Server', /repository "Team\/Server" must be lowercase: try "team\/server"/],
    ['ghcr.io/Org/App:v1', /repository "Org\/App" must be lowercase: try "org\/app"/],
    ['app:v1+build', /tag "v1\+build" has invalid character "\+"/],
    ['app:.hidden', /tag "\.hidden" starts with "\."/],
    ['app:-x', /tag "-x" starts with "-"/],
    [`app:${'t'.repeat(129)}`, /is 129 characters long; the limit is 128/],
    ['app:', /the tag after ":" is empty/],
    ['app@sha256:abc', /digest "sha256:abc" is malformed: expected 64 hex characters, got 3/],
    [`app@sha256:${'AB'.repeat(32)}`, /hex must be lowercase/],
    [`app@sha256:${'zz'.repeat(32)}`, /got 64 with non-hex ones/],
    [`app@sha512:${'ab'.repeat(64)}`, /digest algorithm "sha512" is not supported/],
    ['app@', /the digest after "@" is empty/],
    ['app@latest', /digest "latest" is malformed/],
    ['ghcr.io//app', /empty path component/],
    ['ghcr.io/app/', /empty path component/],
    ['ghcr.io/', /the repository name is empty/],
    ['a-/b', /invalid component "a-"/],
    ['ghcr.io/_app', /invalid component "_app"/],
    ['ghcr.io/a...b', /invalid component "a...b"/],
    ['exa_mple.com/app', /registry "exa_mple.com" is not a valid host\[:port\]/],
    ['localhost:50x0/app', /port "50x0": a port is a number/],
    ['localhost:99999/app', /port 99999, above 65535/],
    ['https://ghcr.io/app', /without a URL scheme/],
    ['ghcr.io/my app', /whitespace/],
    [`ghcr.io/${'a'.repeat(250)}`, /the limit is 255/],
  ];
  it.each(bad)('rejects %j', (input, message) => {
    expect(() => parseReference(input)).toThrow(ImageReferenceError);
    expect(() => parseReference(input)).toThrow(message);
  });

  it('names the whole reference in errors', () => {
    expect(() => parseReference('ghcr.io/x:bad!tag')).toThrow('invalid image reference "ghcr.io/x:bad!tag": tag "bad!tag" has invalid character "!"');
  });
});

describe('helpers', () => {
  it('Docker Hub is reached at registry-1.docker.io', () => {
    expect(apiHost(parseReference('busybox').registry)).toBe('registry-1.docker.io');
    expect(apiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
  it('asks manifests by digest over tag', () => {
    expect(manifestReference(parseReference(`a/b:v1@${D}`))).toBe(D);
    expect(manifestReference(parseReference('a/b:v1'))).toBe('v1');
  });
  it('parses repositories and refuses tags there', () => {
    expect(parseRepository('localhost:5000/app')).toEqual({ registry: 'localhost:5000', repository: 'app' });
    expect(parseRepository('busybox')).toEqual({ registry: 'index.docker.io', repository: 'library/busybox' });
    expect(() => parseRepository('ghcr.io/a/b:1')).toThrow(/takes no tag or digest/);
    expect(() => parseRepository(`ghcr.io/a@${D}`)).toThrow(/takes no tag or digest/);
  });
});

it('quotes a Docker Hub short name as written', () => {
  expect(() => parseReference('Busybox')).toThrow('repository "Busybox" must be lowercase: try "busybox"');
});

describe('tags on their own (layout tags, pushed tags, func.yaml versions)', () => {
  const accepted = ['latest', 'v1', '0.0.1', '1.2.3-rc.1', 'Tag_1', '_x', '9', 'a-.b_c', 't'.repeat(128)];
  it.each(accepted)('accepts %j', (tag) => {
    expect(isTag(tag)).toBe(true);
    expect(tagFault(tag)).toBeUndefined();
    expect(checkTag(tag)).toBe(tag);
    // The same string is a tag inside a reference too.
    expect(parseReference(`ghcr.io/a/b:${tag}`).tag).toBe(tag);
  });

  const refused: [tag: string, message: string][] = [
    ['', 'tag "" is not valid: it is empty; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    ['bad tag', 'tag "bad tag" is not valid: it has invalid character " "; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    ['v1+build', 'tag "v1+build" is not valid: it has invalid character "+"; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    ['.hidden', 'tag ".hidden" is not valid: it starts with "."; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    ['-x', 'tag "-x" is not valid: it starts with "-"; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    ['a:b', 'tag "a:b" is not valid: it has invalid character ":"; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    ['é', 'tag "é" is not valid: it has invalid character "é"; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters'],
    [
      't'.repeat(129),
      'tag "tttttttttttttttttttt…" is not valid: it is 129 characters long; the limit is 128; a tag is letters, digits, "_", "." and "-" (not first), up to 128 characters',
    ],
  ];
  it.each(refused)('refuses %j, saying why', (tag, message) => {
    expect(isTag(tag)).toBe(false);
    expect(() => checkTag(tag)).toThrow(ImageReferenceError);
    expect(() => checkTag(tag)).toThrow(message);
  });

  it('is a user error, not a bug', () => {
    expect(() => checkTag('a b')).toThrow(FnbuildError);
  });
});

describe('repository paths (func.yaml names)', () => {
  it.each(['hello', 'team/hello', 'a_b/c__d/e-f/g.h', 'x/a--b', '0'])('accepts %j', (path) => {
    expect(isRepositoryPath(path)).toBe(true);
    expect(parseRepository(path).repository.endsWith(path)).toBe(true); // the same rule as in a reference
  });
  it.each(['', 'Hello', 'team/', '/x', 'a//b', '_a', 'a-', 'a...b', 'a b', 'a:b'])('refuses %j', (path) => {
    expect(isRepositoryPath(path)).toBe(false);
  });
});

describe('parseRepoTag (docker archives)', () => {
  const ok: [input: string, familiar: string, full: string][] = [
    ['hello:1', 'hello:1', 'docker.io/library/hello:1'],
    ['docker.io/library/hello:1', 'hello:1', 'docker.io/library/hello:1'],
    ['index.docker.io/library/hello:1', 'hello:1', 'docker.io/library/hello:1'],
    ['team/hello:1', 'team/hello:1', 'docker.io/team/hello:1'],
    ['docker.io/team/hello:1', 'team/hello:1', 'docker.io/team/hello:1'],
    ['library/a/b:1', 'library/a/b:1', 'docker.io/library/a/b:1'],
    ['localhost:5000/hello:dev', 'localhost:5000/hello:dev', 'localhost:5000/hello:dev'],
    ['registry.example.com/team/hello:latest', 'registry.example.com/team/hello:latest', 'registry.example.com/team/hello:latest'],
  ];
  it.each(ok)('%s is %s, in full %s', (input, familiar, full) => {
    expect(parseRepoTag(input)).toEqual({ familiar, full, tag: input.slice(input.lastIndexOf(':') + 1) });
  });

  const bad: [input: string, message: string][] = [
    ['localhost:5000/hello', 'repo tag "localhost:5000/hello" needs a tag and no digest, e.g. "hello:latest"'],
    ['x', 'repo tag "x" needs a tag and no digest, e.g. "hello:latest"'],
    [`x:1@${D}`, `repo tag "x:1@${D}" needs a tag and no digest, e.g. "hello:latest"`],
    ['Hello:1', 'invalid image reference "Hello:1": repository "Hello" must be lowercase: try "hello"'],
    ['hello:bad!', 'invalid image reference "hello:bad!": tag "bad!" has invalid character "!"'],
    ['', 'image reference is empty'],
  ];
  it.each(bad)('refuses %j', (input, message) => {
    expect(() => parseRepoTag(input)).toThrow(ImageReferenceError);
    expect(() => parseRepoTag(input)).toThrow(message);
  });
});

describe('the other places that name images ask the same rules', () => {
  const yaml = (field: string) => `schema_version: 20180708\n${field}\n`;

  it('func.yaml: a version is a tag, and the message says what is wrong with it', () => {
    expect(() => parseFuncYaml(yaml('name: hello\nversion: 1 2'), '/p/func.yaml')).toThrow(
      'field "version": a version is used as the image tag: letters, digits, "_", "." or "-", e.g. "0.0.1" ("1 2" has invalid character " ")',
    );
    expect(() => parseFuncYaml(yaml('name: hello\nversion: ".1"'), '/p/func.yaml')).toThrow('(".1" starts with ".")');
    expect(parseFuncYaml(yaml(`name: hello\nversion: ${'v'.repeat(128)}`), '/p/func.yaml').data.version).toBe('v'.repeat(128));
    expect(() => parseFuncYaml(yaml(`name: hello\nversion: ${'v'.repeat(129)}`), '/p/func.yaml')).toThrow('is 129 characters long; the limit is 128');
  });

  it('func.yaml and build-image options: a name is a repository path, as in a reference', () => {
    for (const name of ['hello', 'team/hello', 'a__b', 'x/a--b']) {
      expect(parseFuncYaml(yaml(`name: ${name}`), '/p/func.yaml').data.name).toBe(name);
      expect(buildImageOptionsSchema.parse({ imageName: name }).imageName).toBe(name);
      expect(() => parseReference(name)).not.toThrow();
    }
    for (const name of ['Hello', 'team/', '-x', 'a...b']) {
      expect(() => parseFuncYaml(yaml(`name: "${name}"`), '/p/func.yaml')).toThrow('field "name": name is the image name');
      expect(buildImageOptionsSchema.safeParse({ imageName: name }).success).toBe(false);
      expect(() => parseReference(name)).toThrow(ImageReferenceError);
    }
  });
});

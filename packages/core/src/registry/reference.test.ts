import { apiHost, formatReference, manifestReference, parseReference, parseRepository, ReferenceError } from './reference';

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
    ['reg.example.com:443/a_b/c__d/e-f/g.h:Tag_1', 'reg.example.com:443/a_b/c__d/e-f/g.h:Tag_1', { registry: 'reg.example.com:443', repository: 'a_b/c__d/e-f/g.h', tag: 'Tag_1' }],
    ['x/a--b', 'index.docker.io/x/a--b:latest', { registry: 'index.docker.io', repository: 'x/a--b', tag: 'latest' }],
    [`app:${'t'.repeat(128)}`, `index.docker.io/library/app:${'t'.repeat(128)}`, { registry: 'index.docker.io', repository: 'library/app', tag: 't'.repeat(128) }],
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
    expect(() => parseReference(input)).toThrow(ReferenceError);
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

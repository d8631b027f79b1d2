import { MASK, redactCredentials, Redactor, withoutCredentials } from './redact';

describe('redactCredentials: secrets recognized by their shape', () => {
  const cases: [name: string, text: string, redacted: string][] = [
    ['user:password in a URL', 'fatal: unable to access https://u:p@h/x/', 'fatal: unable to access https://***@h/x/'],
    ['a URL-encoded password', 'https://user:tok%40en@github.com/o/r.git', 'https://***@github.com/o/r.git'],
    ['a bare token as userinfo', 'https://ghp_abc@github.com/o/r.git', 'https://***@github.com/o/r.git'],
    ['userinfo in any scheme', 'ssh://git:pw@host/r.git and git+https://a:b@h/x', 'ssh://***@host/r.git and git+https://***@h/x'],
    ['several URLs on a line', 'https://a:1@x/ then http://b:2@y/', 'https://***@x/ then http://***@y/'],
    [
      'a token in the query',
      'GET https://h/v2/r/blobs/uploads/1?_state=abc&access_token=s3cr3t&x=1',
      'GET https://h/v2/r/blobs/uploads/1?_state=abc&access_token=***&x=1',
    ],
    [
      'a signed URL',
      'https://s3/b?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef&X-Amz-Expires=60',
      'https://s3/b?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60',
    ],
    ['a password parameter', 'https://h/login?user=me&password=hunter2', 'https://h/login?user=me&password=***'],
    ['an Authorization header', 'sent Authorization: Bearer eyJhbGciOi.x.y to h', 'sent Authorization: Bearer *** to h'],
    ['a Basic header, any case', 'authorization=basic dXNlcjpwYXNz', 'authorization=basic ***'],
    ['a token field in JSON', '{"token":"abc\\"def","expires_in":300,"access_token":"xyz"}', '{"token":"***","expires_in":300,"access_token":"***"}'],
  ];
  it.each(cases)('masks %s', (_name, text, redacted) => {
    expect(redactCredentials(text)).toBe(redacted);
  });

  const untouched = [
    'https://github.com/o/r.git',
    'git@github.com:o/r.git',
    'pulling index.docker.io/library/busybox@sha256:abc',
    'WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry"',
    'https://h/v2/r/blobs/uploads/1?_state=abc&digest=sha256%3Aab',
    'no Authorization header was sent; a bearer token is needed',
    'contact admin@example.com',
  ];
  it.each(untouched)('leaves %j alone', (text) => {
    expect(redactCredentials(text)).toBe(text);
  });
});

describe('withoutCredentials', () => {
  it('drops the userinfo, so one repository is one key whoever fetches it', () => {
    expect(withoutCredentials('https://user:secret@host/r.git')).toBe('https://host/r.git');
    expect(withoutCredentials('https://tok@host/r.git')).toBe('https://host/r.git');
    expect(withoutCredentials('git@host:r.git')).toBe('git@host:r.git');
  });
});

describe('Redactor: the secrets in play, in every form', () => {
  it('masks a password raw, URL-encoded and as base64 of user:password', () => {
    const r = new Redactor().addBasic('me', 'p@ss word');
    const basic = Buffer.from('me:p@ss word').toString('base64');
    expect(r.redact(`p@ss word | p%40ss%20word | Basic ${basic}`)).toBe(`${MASK} | ${MASK} | Basic ${MASK}`);
  });

  it('replaces the longest secret first', () => {
    const r = new Redactor().add('abc').add('abcdef');
    expect(r.redact('x abcdef y abc')).toBe('x *** y ***');
  });

  it('also applies the shapes', () => {
    expect(new Redactor().redact('https://u:unknown@h/')).toBe('https://***@h/');
  });

  it('learns the password of a URL, raw and decoded, but not a bare user name', () => {
    const r = new Redactor().addUrl('https://user:tok%40en@github.com/o/r.git');
    expect(r.redact('remote said tok@en and tok%40en')).toBe('remote said *** and ***');
    expect(new Redactor().addUrl('ssh://git@github.com/o/r.git').redact('git fetch failed')).toBe('git fetch failed');
  });

  it('ignores empty secrets and merges others', () => {
    const a = new Redactor().add('').add(undefined).addBasic('u', undefined);
    expect(a.redact('u: nothing')).toBe('u: nothing');
    const b = new Redactor().add('tok123');
    expect(a.merge(b).redact('tok123')).toBe(MASK);
  });
});

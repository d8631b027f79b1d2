import { parseWwwAuthenticate, pickChallenge } from './challenge';

describe('parseWwwAuthenticate', () => {
  it('reads a Distribution Bearer challenge with a comma inside a quoted scope', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:team/app:pull,push' } },
    ]);
  });

  it('reads Basic', () => {
    expect(parseWwwAuthenticate('Basic realm="basic-realm"')).toEqual([{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
  });

  it('splits several challenges in one header, whatever their order and spacing', () => {
    const got = parseWwwAuthenticate('Basic realm="a, b", Bearer  realm = "https://t/token" , service=reg,error="insufficient_scope"');
    expect(got).toEqual([
      { scheme: 'basic', params: { realm: 'a, b' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'reg', error: 'insufficient_scope' } },
    ]);
    expect(pickChallenge(got)?.scheme).toBe('bearer');
  });

  it('reads several headers (Node gives an array for repeated ones)', () => {
    expect(parseWwwAuthenticate(['Basic realm="x"', 'Bearer realm="y"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });

  it('unescapes quoted-pairs and lowercases scheme and param names', () => {
    expect(parseWwwAuthenticate('BEARER Realm="a \\"quoted\\" \\\\ realm",SCOPE="repository:x:pull repository:y:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'a "quoted" \\ realm', scope: 'repository:x:pull repository:y:pull' } },
    ]);
  });

  it('keeps token68 challenges apart from params', () => {
    expect(parseWwwAuthenticate('Negotiate abc==, Basic realm="r"')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'abc==' },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
  });

  it('a scheme with no params, then another challenge', () => {
    expect(parseWwwAuthenticate('Basic, Bearer realm="r"')).toEqual([
      { scheme: 'basic', params: {} },
      { scheme: 'bearer', params: { realm: 'r' } },
    ]);
  });

  it('nothing for an absent or empty header', () => {
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(pickChallenge([])).toBeUndefined();
  });
});

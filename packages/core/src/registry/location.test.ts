import { appendQuery, resolveLocation, sameOrigin } from './location';

const base = new URL('https://reg.example.com:5000/v2/app/blobs/uploads/');

describe('resolveLocation + appendQuery', () => {
  it.each([
    ['/v2/app/blobs/uploads/u1', 'https://reg.example.com:5000/v2/app/blobs/uploads/u1?digest=sha256%3Aab'],
    ['/v2/app/blobs/uploads/u1?_state=a%2Bb~c+d', 'https://reg.example.com:5000/v2/app/blobs/uploads/u1?_state=a%2Bb~c+d&digest=sha256%3Aab'],
    ['u2?x=1', 'https://reg.example.com:5000/v2/app/blobs/uploads/u2?x=1&digest=sha256%3Aab'],
    ['https://storage.example.net/up/3?sig=AbC%3D%3D&exp=9', 'https://storage.example.net/up/3?sig=AbC%3D%3D&exp=9&digest=sha256%3Aab'],
    ['http://reg.example.com:5000/v2/app/blobs/uploads/u4?', 'http://reg.example.com:5000/v2/app/blobs/uploads/u4?digest=sha256%3Aab'],
    ['/v2/app/blobs/uploads/u5?a=1&', 'https://reg.example.com:5000/v2/app/blobs/uploads/u5?a=1&digest=sha256%3Aab'],
    ['/v2/app/blobs/uploads/u6#frag', 'https://reg.example.com:5000/v2/app/blobs/uploads/u6?digest=sha256%3Aab'],
  ])('%s', (location, expected) => {
    expect(appendQuery(resolveLocation(base, location), 'digest', 'sha256:ab').href).toBe(expected);
  });

  it('a missing or broken Location is a clear error', () => {
    expect(() => resolveLocation(base, undefined)).toThrow('reg.example.com:5000 started an upload but sent no Location header');
    expect(() => resolveLocation(base, 'http://[bad')).toThrow(/Location that is not a URL/);
    // A signed Location is quoted with its signature masked.
    expect(() => resolveLocation(base, 'http://[::1/up?X-Amz-Signature=sekrit&exp=9')).toThrow(
      'reg.example.com:5000 sent an upload Location that is not a URL: "http://[::1/up?X-Amz-Signature=***&exp=9"',
    );
  });

  it('same origin means same scheme, host and port', () => {
    expect(sameOrigin(base, new URL('https://reg.example.com:5000/x'))).toBe(true);
    expect(sameOrigin(base, new URL('https://reg.example.com/x'))).toBe(false);
    expect(sameOrigin(base, new URL('http://reg.example.com:5000/x'))).toBe(false);
    expect(sameOrigin(base, new URL('https://storage.example.com:5000/x'))).toBe(false);
  });
});

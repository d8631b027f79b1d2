import { parseJsonStream } from './json-stream';

describe('parseJsonStream', () => {
  test('splits concatenated pretty-printed objects as `go list -json` prints them', () => {
    const text = `{
\t"ImportPath": "example.com/m/cmd/a",
\t"Deps": [
\t\t"fmt"
\t]
}
{
\t"ImportPath": "example.com/m/internal/x",
\t"Error": {
\t\t"Err": "boom"
\t}
}
`;
    expect(parseJsonStream(text)).toEqual([
      { ImportPath: 'example.com/m/cmd/a', Deps: ['fmt'] },
      { ImportPath: 'example.com/m/internal/x', Error: { Err: 'boom' } },
    ]);
  });

  test('braces inside strings never cut an object', () => {
    const text = '{"a":"}{"}{"b":"{{{","c":{"d":"}"}}';
    expect(parseJsonStream(text)).toEqual([{ a: '}{' }, { b: '{{{', c: { d: '}' } }]);
  });

  test('escaped quotes and escaped backslashes are tracked', () => {
    // "x\"}" is one string; "y\\" ends at its second quote, so the following } closes the object.
    const text = String.raw`{"x":"a\"}b"}{"y":"c\\"}{"z":"\\\"}"}`;
    expect(parseJsonStream(text)).toEqual([{ x: 'a"}b' }, { y: 'c\\' }, { z: '\\"}' }]);
  });

  test('unicode and escapes survive', () => {
    expect(parseJsonStream('{"s":"h\\u00e9llo \\n ✓"}')).toEqual([{ s: 'héllo \n ✓' }]);
  });

  test('empty or whitespace-only input is no objects', () => {
    expect(parseJsonStream('')).toEqual([]);
    expect(parseJsonStream(' \n\t ')).toEqual([]);
  });

  test('a truncated stream throws rather than dropping the tail silently', () => {
    expect(() => parseJsonStream('{"a":1}{"b":{"c":2}')).toThrow('truncated JSON stream');
    expect(() => parseJsonStream('{"a":"unterminated}')).toThrow('truncated JSON stream');
  });

  test('an object that is not valid JSON inside throws', () => {
    expect(() => parseJsonStream('{"a":}')).toThrow(SyntaxError);
  });
});

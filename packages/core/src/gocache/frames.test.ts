import { createHash } from 'node:crypto';
import { RequestReader } from './frames';
import { ProtocolError, responseLine, type GoCacheRequest } from './protocol';

const AID = 'a1'.repeat(32);
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What cmd/go writes (cache/prog.go writeToChild): the JSON object, a newline from the encoder, one more, then `"<base64 body>"\n` for a put. */
function frame(req: Record<string, unknown>, body?: Buffer): Buffer {
  const head = JSON.stringify(req) + '\n' + '\n';
  return Buffer.from(body?.length ? head + `"${body.toString('base64')}"\n` : head);
}

function readAll(bytes: Buffer, chunkSize = bytes.length): GoCacheRequest[] {
  const reader = new RequestReader();
  const out: GoCacheRequest[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) reader.push(bytes.subarray(i, i + chunkSize), (r) => out.push(r));
  reader.end();
  return out;
}

describe('RequestReader', () => {
  const body = Buffer.from('compiled package bytes, long enough to span chunks: ' + 'x'.repeat(100));
  const stream = Buffer.concat([
    frame({ ID: 1, Command: 'get', ActionID: b64(AID) }),
    frame({ ID: 2, Command: 'put', ActionID: b64(AID), OutputID: b64(sha(body)), BodySize: body.length }, body),
    frame({ ID: 3, Command: 'put', ActionID: b64(AID), OutputID: b64(sha(Buffer.alloc(0))) }),
    frame({ ID: 4, Command: 'close' }),
  ]);
  const expected: GoCacheRequest[] = [
    { id: 1, command: 'get', actionId: AID },
    { id: 2, command: 'put', actionId: AID, outputId: sha(body), body },
    { id: 3, command: 'put', actionId: AID, outputId: sha(Buffer.alloc(0)), body: Buffer.alloc(0) },
    { id: 4, command: 'close' },
  ];

  test('reads gets, puts with and without a body, and close, in order', () => {
    expect(readAll(stream)).toEqual(expected);
  });

  test('chunks may cut anywhere: inside a header, inside the base64, around the padding', () => {
    for (const size of [1, 2, 3, 5, 7, 64]) expect(readAll(stream, size)).toEqual(expected);
  });

  test('an unknown command is passed on (to be answered with an error), not dropped', () => {
    expect(readAll(frame({ ID: 9, Command: 'get2', ActionID: b64(AID) }))).toEqual([{ id: 9, command: 'get2', unknown: true }]);
  });

  const bad: [string, Buffer, RegExp][] = [
    ['a line that is not JSON', Buffer.from('{"ID": 1, "Command": \n'), /request line 1: not JSON/],
    ['no ID', frame({ Command: 'get', ActionID: b64(AID) }), /ID must be a non-negative integer/],
    ['a short ActionID', frame({ ID: 1, Command: 'get', ActionID: b64('ab') }), /ActionID is not 32 base64-encoded bytes/],
    ['a put without OutputID', frame({ ID: 1, Command: 'put', ActionID: b64(AID) }), /a put request needs an OutputID/],
    [
      'a body that is not base64',
      Buffer.concat([frame({ ID: 1, Command: 'put', ActionID: b64(AID), OutputID: b64(AID), BodySize: 3 }), Buffer.from('"a*b="\n')]),
      /not base64/,
    ],
    [
      'a body shorter than BodySize',
      Buffer.concat([frame({ ID: 1, Command: 'put', ActionID: b64(AID), OutputID: b64(AID), BodySize: 4 }), Buffer.from('"YWJj"\n')]),
      /BodySize is 4 but the body holds 3 bytes/,
    ],
    [
      'a body that is not on the next line',
      Buffer.concat([frame({ ID: 1, Command: 'put', ActionID: b64(AID), OutputID: b64(AID), BodySize: 3 }), Buffer.from('{"ID":2}\n')]),
      /expected the put body/,
    ],
    [
      'input ending inside a body',
      Buffer.concat([frame({ ID: 1, Command: 'put', ActionID: b64(AID), OutputID: b64(AID), BodySize: 3 }), Buffer.from('"YW')]),
      /input ended inside the put body/,
    ],
  ];
  test.each(bad)('%s is a ProtocolError naming the problem', (_what, bytes, message) => {
    expect(() => readAll(bytes)).toThrow(ProtocolError);
    expect(() => readAll(bytes)).toThrow(message);
  });
});

describe('responseLine', () => {
  test("uses Go's field names and base64 for byte fields", () => {
    const time = new Date('2026-01-02T03:04:05.678Z');
    expect(JSON.parse(responseLine({ id: 7, outputId: AID, size: 3, time, diskPath: '/c/go/o/a1/x' }))).toEqual({
      ID: 7,
      OutputID: b64(AID),
      Size: 3,
      Time: '2026-01-02T03:04:05.678Z',
      DiskPath: '/c/go/o/a1/x',
    });
    expect(responseLine({ id: 8, miss: true })).toBe('{"ID":8,"Miss":true}\n');
    expect(responseLine({ id: 9, error: 'disk full' })).toBe('{"ID":9,"Err":"disk full"}\n');
  });
});

import { parseRequestHead, ProtocolError, toRequest, type GoCacheRequest, type RequestHead } from './protocol';

/** A header line is a small JSON object; anything this long without a newline is not one. */
const MAX_HEAD_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A put's body being read: `"<base64>"` on the line after its header (cmd/go writes a blank line between). */
interface BodyInProgress {
  head: RequestHead;
  where: string;
  opened: boolean;
  /** Base64 characters not yet decoded (fewer than 4, or the tail of a chunk). */
  carry: string;
  parts: Buffer[];
  decoded: number;
}

/**
 * Splits the bytes cmd/go writes to the program's stdin into requests. Streaming: chunks
 * may cut anywhere (inside a header, inside a body), and a body is decoded 4 characters at
 * a time as it arrives, so a large compiled package never sits in memory as one base64
 * string. Malformed input throws a ProtocolError naming the line.
 */
export class RequestReader {
  private head: Buffer[] = [];
  private headBytes = 0;
  private lineNo = 0;
  private body: BodyInProgress | undefined;

  /** Hands each complete request to `emit` as soon as it is read, so those before a malformed line are still answered. */
  push(chunk: Buffer, emit: (req: GoCacheRequest) => void): void {
    let i = 0;
    while (i < chunk.length) {
      const out: GoCacheRequest[] = [];
      i = this.body ? this.readBody(chunk, i, out) : this.readHead(chunk, i, out);
      out.forEach(emit);
    }
  }

  /** stdin closed: fine between requests, a protocol error inside one. */
  end(): void {
    if (this.body) throw new ProtocolError(`${this.body.where}: input ended inside the put body (${this.body.decoded} of ${this.body.head.bodySize} bytes)`);
    if (this.head.some((b) => b.toString('utf8').trim() !== '')) throw new ProtocolError(`request line ${this.lineNo + 1}: input ended inside a request line`);
  }

  private readHead(chunk: Buffer, from: number, out: GoCacheRequest[]): number {
    const nl = chunk.indexOf(NEWLINE, from);
    const end = nl < 0 ? chunk.length : nl;
    this.head.push(chunk.subarray(from, end));
    this.headBytes += end - from;
    if (this.headBytes > MAX_HEAD_BYTES) throw new ProtocolError(`request line ${this.lineNo + 1}: longer than ${MAX_HEAD_BYTES} bytes without a newline`);
    if (nl < 0) return chunk.length;
    const text = Buffer.concat(this.head).toString('utf8').trim();
    this.head = [];
    this.headBytes = 0;
    this.lineNo++;
    if (text) this.onHead(text, out);
    return nl + 1;
  }

  private onHead(text: string, out: GoCacheRequest[]): void {
    const where = `request line ${this.lineNo}`;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ProtocolError(`${where}: not JSON (${(err as Error).message}): ${text.slice(0, 80)}`);
    }
    const head = parseRequestHead(raw, where);
    if (head.bodySize > 0) this.body = { head, where, opened: false, carry: '', parts: [], decoded: 0 };
    else out.push(toRequest(head, Buffer.alloc(0)));
  }

  private readBody(chunk: Buffer, from: number, out: GoCacheRequest[]): number {
    const body = this.body!;
    let i = from;
    if (!body.opened) {
      while (i < chunk.length && (chunk[i] === NEWLINE || chunk[i] === 0x0d || chunk[i] === 0x20)) {
        if (chunk[i] === NEWLINE) this.lineNo++;
        i++;
      }
      if (i === chunk.length) return i;
      if (chunk[i] !== QUOTE) throw new ProtocolError(`${body.where}: expected the put body (a base64 JSON string) on the next line`);
      body.opened = true;
      i++;
    }
    const close = chunk.indexOf(QUOTE, i);
    this.decode(body, chunk.subarray(i, close < 0 ? chunk.length : close).toString('latin1'), close >= 0);
    if (close < 0) return chunk.length;
    this.body = undefined;
    this.lineNo++;
    out.push(toRequest(body.head, Buffer.concat(body.parts, body.decoded)));
    return close + 1;
  }

  private decode(body: BodyInProgress, text: string, last: boolean): void {
    const all = body.carry + text;
    let usable = last ? all.length : all.length - (all.length % 4);
    if (!last && all[usable - 1] === '=') usable -= 4; // padding: only valid at the very end, so wait for the closing quote
    const piece = all.slice(0, usable);
    body.carry = all.slice(usable);
    if (last && piece.length % 4 !== 0) throw new ProtocolError(`${body.where}: the put body is not padded base64`);
    if (!BASE64.test(piece)) throw new ProtocolError(`${body.where}: the put body is not base64`);
    if (piece) {
      const bytes = Buffer.from(piece, 'base64');
      body.parts.push(bytes);
      body.decoded += bytes.length;
    }
    if (body.decoded > body.head.bodySize || (last && body.decoded !== body.head.bodySize)) {
      throw new ProtocolError(`${body.where}: BodySize is ${body.head.bodySize} but the body holds ${last ? '' : 'more than '}${body.decoded} bytes`);
    }
  }
}

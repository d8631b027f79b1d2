/**
 * The messages of Go's cache-program protocol (cmd/go/internal/cacheprog, Go ≥ 1.24), as
 * plain values. On the wire every message is one JSON object on a line; byte fields
 * ([]byte in Go) are base64 strings; a put with BodySize > 0 is followed by a line holding
 * the body as a base64 JSON string (see frames.ts).
 */

/** What this program declares in its first message (ID 0); cmd/go sends nothing else. */
export const KNOWN_COMMANDS = ['get', 'put', 'close'] as const;
export type GoCacheCommand = (typeof KNOWN_COMMANDS)[number];

/** Go's ActionID and OutputID are both sha256-sized ([32]byte). */
const ID_BYTES = 32;

export interface GetRequest {
  id: number;
  command: 'get';
  /** 64 hex chars. */
  actionId: string;
}

export interface PutRequest {
  id: number;
  command: 'put';
  actionId: string;
  /** 64 hex chars: cmd/go sets it to the sha256 of the body (cache/prog.go, ProgCache.Put). */
  outputId: string;
  body: Buffer;
}

export interface CloseRequest {
  id: number;
  command: 'close';
}

/** A command this program did not declare: answered with an error, never guessed at. */
export interface UnknownRequest {
  id: number;
  command: string;
  unknown: true;
}

export type GoCacheRequest = GetRequest | PutRequest | CloseRequest | UnknownRequest;

/** A request line before its body (if any) has been read. */
export interface RequestHead {
  id: number;
  command: string;
  actionId?: string;
  outputId?: string;
  bodySize: number;
}

export type GoCacheResponse =
  | { id: number; miss: true }
  | { id: number; outputId: string; size: number; time: Date; diskPath: string }
  | { id: number; diskPath: string }
  | { id: number; error: string }
  | { id: number };

/** The input broke the protocol: the program reports it on stderr and exits non-zero, as cmd/go expects of a broken helper. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

function idField(raw: Record<string, unknown>, field: 'ActionID' | 'OutputID', where: string): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  const bytes = typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value) ? Buffer.from(value, 'base64') : undefined;
  if (!bytes || bytes.length !== ID_BYTES) throw new ProtocolError(`${where}: ${field} is not ${ID_BYTES} base64-encoded bytes`);
  return bytes.toString('hex');
}

/** Validates one parsed request line; `where` names it in errors ("request line 3"). */
export function parseRequestHead(raw: unknown, where: string): RequestHead {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ProtocolError(`${where}: expected a JSON object`);
  const r = raw as Record<string, unknown>;
  if (typeof r.ID !== 'number' || !Number.isSafeInteger(r.ID) || r.ID < 0) throw new ProtocolError(`${where}: ID must be a non-negative integer`);
  if (typeof r.Command !== 'string' || !r.Command) throw new ProtocolError(`${where}: Command must be a non-empty string`);
  const bodySize = r.BodySize ?? 0;
  if (typeof bodySize !== 'number' || !Number.isSafeInteger(bodySize) || bodySize < 0)
    throw new ProtocolError(`${where}: BodySize must be a non-negative integer`);
  const head: RequestHead = { id: r.ID, command: r.Command, bodySize, actionId: idField(r, 'ActionID', where), outputId: idField(r, 'OutputID', where) };
  if ((head.command === 'get' || head.command === 'put') && !head.actionId) throw new ProtocolError(`${where}: a ${head.command} request needs an ActionID`);
  if (head.command === 'put' && !head.outputId) throw new ProtocolError(`${where}: a put request needs an OutputID`);
  if (head.command !== 'put' && bodySize > 0) throw new ProtocolError(`${where}: only a put request carries a body`);
  return head;
}

/** The request a head (plus the body of a put) stands for. */
export function toRequest(head: RequestHead, body: Buffer): GoCacheRequest {
  const { id, command } = head;
  if (command === 'get') return { id, command, actionId: head.actionId! };
  if (command === 'put') return { id, command, actionId: head.actionId!, outputId: head.outputId!, body };
  if (command === 'close') return { id, command };
  return { id, command, unknown: true };
}

/** The capabilities message this program writes first. */
export function helloLine(): string {
  return JSON.stringify({ ID: 0, KnownCommands: KNOWN_COMMANDS }) + '\n';
}

/** One response line, with Go's field names and base64 byte fields. */
export function responseLine(res: GoCacheResponse): string {
  const out: Record<string, unknown> = { ID: res.id };
  if ('error' in res) out.Err = res.error;
  if ('miss' in res) out.Miss = true;
  if ('outputId' in res) {
    out.OutputID = Buffer.from(res.outputId, 'hex').toString('base64');
    out.Size = res.size;
    out.Time = res.time.toISOString();
  }
  if ('diskPath' in res) out.DiskPath = res.diskPath;
  return JSON.stringify(out) + '\n';
}

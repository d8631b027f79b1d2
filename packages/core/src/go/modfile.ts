/**
 * go.mod and go.work read the way the go command's lexer reads them: `//` comments,
 * interpreted and raw strings, the punctuation `( ) [ ] { } ,`, identifiers (any other
 * run of printable characters), and blocks (`verb (` … `)`) whose lines each continue the
 * verb. Only what inference and the generators need is interpreted; a malformed file is
 * read as far as it goes (the go command reports it when a build runs).
 */

/** One directive, its block expanded: `require ( a v1 )` is { verb: 'require', args: ['a', 'v1'] }. Strings are unquoted. */
export interface ModDirective {
  verb: string;
  args: string[];
}

/** What a go.mod or go.work says that inference and the generators use. */
export interface ModFileText {
  /** go.mod's module path. */
  module?: string;
  /** The go line ("1.22", "1.26.0"). */
  go?: string;
  /** go.work's use directives, as written (folders relative to the go.work). */
  use: string[];
  /** Replace directives: the new side as written (a folder when it starts with ./ or ../ or is absolute). */
  replace: { old: string; new: string; newVersion?: string }[];
}

/** A token and the offset it starts at. */
type Token = { kind: 'word' | 'string' | 'punct' | 'newline'; text: string; at: number };

const PUNCT = new Set(['(', ')', '[', ']', '{', '}', ',']);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r';

/** An interpreted string's value ("\t" and friends as Go reads them; an unknown escape keeps its character). */
function unquote(body: string): string {
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
  return body.replace(/\\(.)/g, (_m, c: string) => escapes[c] ?? c);
}

function readString(src: string, start: number): { end: number; text: string } {
  const quote = src[start];
  let i = start + 1;
  while (i < src.length && src[i] !== quote && src[i] !== '\n') i += src[i] === '\\' && quote === '"' ? 2 : 1;
  const body = src.slice(start + 1, Math.min(i, src.length));
  return { end: i < src.length && src[i] === quote ? i + 1 : i, text: quote === '"' ? unquote(body) : body };
}

function* tokens(src: string): Generator<Token> {
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (isSpace(c) || c === '\uFEFF') {
      i++;
    } else if (c === '\n') {
      yield { kind: 'newline', text: c, at: i++ };
    } else if (src.startsWith('//', i)) {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl;
    } else if (PUNCT.has(c)) {
      yield { kind: 'punct', text: c, at: i++ };
    } else if (c === '"' || c === '`') {
      const s = readString(src, i);
      yield { kind: 'string', text: s.text, at: i };
      i = s.end;
    } else {
      let j = i;
      while (j < src.length && !isSpace(src[j]) && src[j] !== '\n' && !PUNCT.has(src[j]) && !src.startsWith('//', j)) j++;
      yield { kind: 'word', text: src.slice(i, j), at: i };
      i = j;
    }
  }
}

/** The lines of a file as token lists (blank lines dropped). */
function lines(src: string): Token[][] {
  const out: Token[][] = [[]];
  for (const t of tokens(src)) {
    if (t.kind === 'newline') out.push([]);
    else out[out.length - 1].push(t);
  }
  return out.filter((l) => l.length);
}

const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;

/** Every directive of a go.mod or go.work, blocks expanded, in file order. */
export function parseModDirectives(src: string): ModDirective[] {
  const out: ModDirective[] = [];
  let block: string | undefined;
  for (const line of lines(src)) {
    if (block !== undefined) {
      if (line.length === 1 && isPunct(line[0], ')')) block = undefined;
      else out.push({ verb: block, args: line.map((t) => t.text) });
      continue;
    }
    const [head, ...rest] = line;
    if (head.kind !== 'word') continue;
    if (rest.length === 1 && isPunct(rest[0], '(')) block = head.text;
    else out.push({ verb: head.text, args: rest.map((t) => t.text) });
  }
  return out;
}

/** The module path, go version, use and replace directives of a go.mod or go.work text. */
export function readModText(src: string): ModFileText {
  const out: ModFileText = { use: [], replace: [] };
  for (const d of parseModDirectives(src)) {
    if (d.verb === 'module' && d.args.length === 1 && out.module === undefined) out.module = d.args[0];
    else if (d.verb === 'go' && d.args.length === 1) out.go = d.args[0];
    else if (d.verb === 'use' && d.args.length === 1) out.use.push(d.args[0]);
    else if (d.verb === 'replace') {
      const arrow = d.args.indexOf('=>');
      if (arrow < 1 || arrow === d.args.length - 1) continue;
      const [to, version] = d.args.slice(arrow + 1);
      out.replace.push({ old: d.args[0], new: to, ...(version && { newVersion: version }) });
    }
  }
  return out;
}

/**
 * A go.work's text with `use <dir>` added: inside its first use block when it has one
 * (before the block's closing parenthesis), else as a directive of its own at the end.
 */
export function addWorkUse(src: string, dir: string): string {
  let inUse = false;
  for (const line of lines(src)) {
    if (!inUse) {
      inUse = line.length === 2 && line[0].kind === 'word' && line[0].text === 'use' && isPunct(line[1], '(');
      continue;
    }
    if (line.length === 1 && isPunct(line[0], ')')) {
      const lineStart = src.lastIndexOf('\n', line[0].at) + 1;
      return `${src.slice(0, lineStart)}\t${dir}\n${src.slice(lineStart)}`;
    }
  }
  return `${src}${src.endsWith('\n') ? '' : '\n'}\nuse ${dir}\n`;
}

/** The text has a replace directive (a text without the word has none, and is not tokenized: most go.mod files have none). */
export const hasReplaceDirective = (src: string): boolean => src.includes('replace') && readModText(src).replace.length > 0;

/**
 * The head of a Go source file, read the way the Go scanner reads it: build constraints
 * (before the package clause), the package name and the import paths. Only the head is
 * tokenized (comments, interpreted and raw strings, semicolons), so a file's body never
 * matters and a string that looks like an import inside a function is never one.
 */
export interface GoFileHead {
  /** The package clause's name; undefined when the file has none (not Go, or broken). */
  packageName?: string;
  /** The `//go:build` expression (or the `// +build` lines joined with " && "), if any. */
  buildConstraint?: string;
  /** Import paths in source order, "C" included. */
  imports: string[];
}

type Token = { kind: 'ident' | 'string' | 'punct' | 'newline'; text: string };

function* tokens(src: string, comments: (text: string, ownLine: boolean) => void): Generator<Token> {
  let i = 0;
  let lineStart = true; // nothing but blanks since the last newline
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      lineStart = true;
      i++;
      yield { kind: 'newline', text: '\n' };
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\uFEFF') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      comments(src.slice(i, end < 0 ? src.length : end), lineStart);
      i = end < 0 ? src.length : end;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const body = src.slice(i, end < 0 ? src.length : end + 2);
      i = end < 0 ? src.length : end + 2;
      lineStart = false;
      // A block comment spanning lines acts as a newline (for semicolon insertion).
      if (body.includes('\n')) yield { kind: 'newline', text: '\n' };
      continue;
    }
    lineStart = false;
    if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < src.length && src[j] !== '"' && src[j] !== '\n') {
        if (src[j] === '\\' && j + 1 < src.length) {
          value += src[j + 1];
          j += 2;
        } else value += src[j++];
      }
      i = j + 1;
      yield { kind: 'string', text: value };
      continue;
    }
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      const value = src.slice(i + 1, end < 0 ? src.length : end);
      i = end < 0 ? src.length : end + 1;
      yield { kind: 'string', text: value };
      continue;
    }
    const ident = /^[\p{L}_][\p{L}\p{Nd}_]*/u.exec(src.slice(i, i + 256));
    if (ident) {
      i += ident[0].length;
      yield { kind: 'ident', text: ident[0] };
      continue;
    }
    i++;
    yield { kind: 'punct', text: c };
  }
}

/** Reads the head of a Go file: constraints, package name, imports. Never throws. */
export function parseGoHead(src: string): GoFileHead {
  const head: GoFileHead = { imports: [] };
  let sawPackage = false;
  const plusBuild: string[] = [];
  const onComment = (text: string, ownLine: boolean) => {
    if (sawPackage || !ownLine) return;
    const goBuild = /^\/\/go:build\s+(.+)$/.exec(text.trimEnd());
    if (goBuild) head.buildConstraint = goBuild[1].trim();
    const plus = /^\/\/\s*\+build\s+(.+)$/.exec(text.trimEnd());
    if (plus)
      plusBuild.push(
        plus[1]
          .trim()
          .split(/\s+/)
          .map((alt) => alt.split(',').join(' && '))
          .join(' || '),
      );
  };
  const it = tokens(src, onComment);
  const next = (): Token | undefined => {
    for (;;) {
      const r = it.next();
      if (r.done) return undefined;
      if (r.value.kind !== 'newline') return r.value;
    }
  };
  // Newlines and semicolons both end a declaration; skip either.
  const nextSkippingTerminators = (): Token | undefined => {
    for (;;) {
      const t = next();
      if (!t || !(t.kind === 'punct' && t.text === ';')) return t;
    }
  };

  let t = next();
  if (t?.kind !== 'ident' || t.text !== 'package') return finish();
  t = next();
  if (t?.kind !== 'ident') return finish();
  head.packageName = t.text;
  sawPackage = true;

  for (t = nextSkippingTerminators(); t?.kind === 'ident' && t.text === 'import'; t = nextSkippingTerminators()) {
    t = next();
    if (t?.kind === 'punct' && t.text === '(') {
      for (t = next(); t && !(t.kind === 'punct' && t.text === ')'); t = next()) {
        if (t.kind === 'string') head.imports.push(t.text);
      }
    } else {
      // import "p" | import name "p" | import . "p" | import _ "p"
      if (t && t.kind !== 'string') t = next();
      if (t?.kind === 'string') head.imports.push(t.text);
    }
  }
  return finish();

  function finish(): GoFileHead {
    if (!head.buildConstraint && plusBuild.length)
      head.buildConstraint = plusBuild.map((e) => (plusBuild.length > 1 && e.includes('||') ? `(${e})` : e)).join(' && ');
    return head;
  }
}

/**
 * True when a build constraint can never hold: `ignore` (the idiom for generator scripts
 * and examples: `//go:build ignore`) as a term every alternative needs.
 */
export function constraintExcludesAlways(expr: string | undefined): boolean {
  if (!expr) return false;
  const e = expr.replace(/\s+/g, '');
  if (e.includes('||')) return e.split('||').every((alt) => constraintExcludesAlways(alt.replace(/^\((.*)\)$/, '$1')));
  return e.replace(/[()]/g, '').split('&&').includes('ignore');
}

/** A file the go command builds as part of a package: .go, not a test, not hidden, not `//go:build ignore`. */
export function isBuildableGoFile(name: string): boolean {
  return name.endsWith('.go') && !name.endsWith('_test.go') && !name.startsWith('.') && !name.startsWith('_');
}

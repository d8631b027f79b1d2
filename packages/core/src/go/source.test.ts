import { constraintExcludesAlways, isBuildableGoFile, parseGoHead } from './source';

test('package name and imports: single, grouped, named, dot and blank imports, comments and raw strings', () => {
  const src = `// Copyright notice
/* a block
   comment */
package server // trailing

import "fmt"
import (
	// a comment "not/an/import"
	log "log/slog"
	. "strings"
	_ "embed"
	\`example.com/demo/internal/greeting\` /* why */
)
import x "example.com/x"; import "example.com/y"

var s = "import \\"example.com/not\\""

func main() {}
`;
  expect(parseGoHead(src)).toEqual({
    packageName: 'server',
    imports: ['fmt', 'log/slog', 'strings', 'embed', 'example.com/demo/internal/greeting', 'example.com/x', 'example.com/y'],
  });
});

test('a file with no imports and one with cgo', () => {
  expect(parseGoHead('package main\n\nfunc main() {}\n')).toEqual({ packageName: 'main', imports: [] });
  expect(parseGoHead('package c\n\n// #include <stdio.h>\nimport "C"\nimport "unsafe"\n').imports).toEqual(['C', 'unsafe']);
});

test('build constraints: //go:build before the package clause, // +build lines, not after it', () => {
  expect(parseGoHead('//go:build ignore\n\npackage main\n').buildConstraint).toBe('ignore');
  expect(parseGoHead('// +build linux,amd64 darwin\n// +build !cgo\n\npackage x\n').buildConstraint).toBe('(linux && amd64 || darwin) && !cgo');
  expect(parseGoHead('package x\n//go:build ignore\n').buildConstraint).toBeUndefined();
  expect(parseGoHead('x := 1 //go:build ignore\npackage x').buildConstraint).toBeUndefined();
});

test('not Go: no package name, no throw', () => {
  expect(parseGoHead('')).toEqual({ imports: [] });
  expect(parseGoHead('{"json": true}')).toEqual({ imports: [] });
  expect(parseGoHead('package')).toEqual({ imports: [] });
});

test('constraintExcludesAlways: ignore as a term every alternative needs', () => {
  expect(constraintExcludesAlways('ignore')).toBe(true);
  expect(constraintExcludesAlways('ignore && linux')).toBe(true);
  expect(constraintExcludesAlways('(ignore)')).toBe(true);
  expect(constraintExcludesAlways('ignore || linux')).toBe(false);
  expect(constraintExcludesAlways('!ignore')).toBe(false);
  expect(constraintExcludesAlways('linux')).toBe(false);
  expect(constraintExcludesAlways(undefined)).toBe(false);
});

test('isBuildableGoFile', () => {
  expect(['a.go', 'a_test.go', '.a.go', '_a.go', 'a.txt'].map(isBuildableGoFile)).toEqual([true, false, false, false, false]);
});

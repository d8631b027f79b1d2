import { FN_SCHEMA_VERSION } from '@nx-fnbuild/core';

/** An Fn func.yaml: the image's name and tag; the first build pins the rest. */
export function funcYaml(name: string): string {
  return `# An Fn Project func.yaml: name and version are the image's name and tag.
# runtime (go1.N), build_image (golang:1.N.P) and run_image (the base, by digest) get
# pinned here by the first build; edit them to upgrade.
schema_version: ${FN_SCHEMA_VERSION}
name: ${name}
version: 0.0.1
`;
}

/** The function's handler, gofmt-formatted: a package that is not main, one exported HTTP handler. */
export function handlerGo(pkg: string, functionName: string): string {
  return `// Package ${pkg} is a function: nx-fnbuild serves ${functionName} over HTTP (see func.yaml).
package ${pkg}

import (
	"fmt"
	"net/http"
)

// ${functionName} greets the caller named by the query parameter "name" (default: world).
func ${functionName}(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "Hello, %s!\\n", name)
}
`;
}

export function handlerTestGo(pkg: string, functionName: string): string {
  return `package ${pkg}

import (
	"net/http/httptest"
	"testing"
)

func Test${functionName}(t *testing.T) {
	for target, want := range map[string]string{"/": "Hello, world!\\n", "/?name=gopher": "Hello, gopher!\\n"} {
		rec := httptest.NewRecorder()
		${functionName}(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("GET %s = %d %q, want 200 %q", target, rec.Code, rec.Body.String(), want)
		}
	}
}
`;
}

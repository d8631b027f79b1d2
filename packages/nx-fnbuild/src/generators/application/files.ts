/** The new service's sources, gofmt-formatted. */
export function mainGo(name: string, port: number): string {
  return `// Command ${name} is an HTTP service, built by nx-fnbuild.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

// version is set when building: -ldflags "-X main.version=1.2.3", for instance with the
// nx-fnbuild plugin option "ldflags": "-X main.version={version}" in nx.json.
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	addr := ":" + envOr("PORT", "${port}")
	log.Printf("${name} %s listening on %s", version, addr)
	log.Fatal(http.ListenAndServe(addr, newHandler()))
}

func newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "${name} %s\\n", version)
	})
	return mux
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
`;
}

export function mainTestGo(name: string): string {
  return `package main

import (
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	for path, want := range map[string]string{"/healthz": "ok\\n", "/": "${name} " + version + "\\n"} {
		rec := httptest.NewRecorder()
		newHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, rec.Code, rec.Body.String(), want)
		}
	}
}
`;
}

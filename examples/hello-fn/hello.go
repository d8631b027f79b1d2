// Package hellofn is a Go function: an exported HTTP handler and no main package.
// nx-fnbuild generates the server that runs it (see project.json's functionName).
package hellofn

import (
	"fmt"
	"net/http"
)

// Hello greets the caller named by the "name" query parameter.
func Hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "Hello, %s!\n", name)
}

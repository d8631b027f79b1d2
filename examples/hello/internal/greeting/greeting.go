// Package greeting is the code the client and the server share.
package greeting

import (
	_ "embed"
	"strings"
)

//go:embed greeting.txt
var template string

// For returns the greeting for name.
func For(name string) string {
	if name == "" {
		name = "world"
	}
	return strings.ReplaceAll(strings.TrimSpace(template), "{name}", name)
}

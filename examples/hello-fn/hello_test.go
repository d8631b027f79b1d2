package hellofn

import (
	"net/http/httptest"
	"testing"
)

func TestHello(t *testing.T) {
	rec := httptest.NewRecorder()
	Hello(rec, httptest.NewRequest("GET", "/?name=nx", nil))
	if got := rec.Body.String(); got != "Hello, nx!\n" {
		t.Fatalf("Hello = %q", got)
	}
}

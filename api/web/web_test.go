package web

import (
	"strings"
	"testing"
)

// Every page parses, and both catalogues have the same keys.
func TestTemplatesParseAndCataloguesMatch(t *testing.T) {
	messages, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(messages)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.pages) < 12 {
		t.Fatalf("%d pages parsed", len(r.pages))
	}
	if got := messages.T("fa", "booking.free", 3); !strings.Contains(got, "۳") {
		t.Fatalf("Persian numbers are not in Persian digits: %q", got)
	}
}

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

// An email address in a Persian sentence keeps its ASCII digits (it would
// no longer be the address) and reads as one left-to-right run.
func TestEmailInAPersianSentenceKeepsItsDigits(t *testing.T) {
	c := Catalogue{"fa": {"k": "کد به {0} فرستاده شد؛ {1} دقیقه"}}
	got := c.T("fa", "k", LTR("ali123@example.org"), 10)
	if !strings.Contains(got, "\u2066ali123@example.org\u2069") || !strings.Contains(got, "۱۰") {
		t.Fatalf("T = %q", got)
	}
}

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

// Every Persian message that takes an argument keeps an email address or a
// file name as it was typed (ASCII digits, one left-to-right run), even when
// the call site passes it as a plain string; numbers, dates and clock times
// still get Persian digits.
func TestEveryMessageKeepsLatinArgumentsAsTyped(t *testing.T) {
	messages, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for key, text := range messages["fa"] {
		if !strings.Contains(text, "{0}") {
			continue
		}
		for _, arg := range []string{"ali123@example.com", "scan2024.jpg", "Scan 2024 (1).JPEG"} {
			args := []any{arg, arg, arg}
			if got := messages.T("fa", key, args...); !strings.Contains(got, "\u2066"+arg+"\u2069") {
				t.Errorf("%s with %q: %q", key, arg, got)
			}
			if got := messages.T("fa", key, LTR(arg)); !strings.Contains(got, arg) {
				t.Errorf("%s with LTR(%q): %q", key, arg, got)
			}
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d messages take arguments", checked)
	}
	c := Catalogue{"fa": {"k": "{0}"}}
	for arg, want := range map[any]string{3: "۳", "10:22 UTC": "۱۰:۲۲ UTC", "1405/12/12": "۱۴۰۵/۱۲/۱۲", "2.5": "۲.۵", "version 2.": "version ۲."} {
		if got := c.T("fa", "k", arg); got != want {
			t.Errorf("T(%v) = %q, want %q", arg, got, want)
		}
	}
}

// A page that shows an uploaded file's name keeps its digits in Persian.
func TestUploadedFileNameKeepsItsDigits(t *testing.T) {
	messages, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(messages)
	if err != nil {
		t.Fatal(err)
	}
	p := r.NewPage("fa")
	if f := p.Upload("passport", true, Upload{ObjectKey: "k", FileName: "scan2024.jpg"}); !strings.Contains(f.Hint, "scan2024.jpg") {
		t.Fatalf("upload hint: %q", f.Hint)
	}
	var b strings.Builder
	p.Title, p.Data = "staff.enrol.title", map[string]any{"Email": "ali123@example.com", "Secret": "S", "QR": ""}
	if err := r.pages["staff_enrol"].ExecuteTemplate(&b, "layout", p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "ali123@example.com") {
		t.Fatal("the enrolment page does not show the address as typed")
	}
}

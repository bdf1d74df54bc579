package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/openconsular/consular/internal/testenv"
)

// A correction at the visit, in headless Chromium, on a Persian and on an
// English page: the officer opens an attended request, picks the licence
// number in the correction form and types a wrong value, which is refused
// beside the field with what was typed kept; then the right value with a
// reason. The page shows the new answer and the timeline "old → new", and
// the applicant gets exactly one email (Persian first, then English) naming
// the old and the new value. Every state of the form is checked with
// axe-core and photographed at 390 and 1280 px.
func TestBrowserOfficerCorrectsALicenceNumberAtTheVisit(t *testing.T) {
	s := startSystem(t, nil)
	_, token := staffMember(t, s, "api-officer@mfa.example", "--role", "officer", "--mission", "AT-VIE")

	// Two attended requests, one corrected on each page language.
	type visit struct {
		lang, code, address string
		hint                string // the chosen field's own hint, shown with the refusal
		timeline            *regexp.Regexp
	}
	visits := []*visit{
		{lang: "fa", hint: "۶ تا ۱۲ رقم", timeline: regexp.MustCompile(`اصلاح «شماره گواهینامه»: 12345678 ← 87654321 \(دلیل: `)},
		{lang: "en", hint: "6 to 12 digits", timeline: regexp.MustCompile(`Licence number corrected: 12345678 → 87654321 \(reason: `)},
	}
	for _, v := range visits {
		nationalID := testenv.NationalID()
		v.address = v.lang + "-" + email(t)
		v.code = s.licenceRequest(nationalID, v.address)
		at := s.freeSlots(nationalID, v.code)[0]
		if status, out := s.staffCall(token, "POST", "/api/v1/requests/"+v.code+"/appointment", map[string]any{"at": at}); status != 200 {
			t.Fatalf("booking: %d %v", status, out)
		}
		if status, out := s.staffCall(token, "POST", "/api/v1/requests/"+v.code+"/attendance", nil); status != 200 {
			t.Fatalf("attendance: %d %v", status, out)
		}
		s.waitStatus(v.code, "attended", 10*time.Second)
	}

	// The officer at the desk.
	b, officer := officerAtTheDesk(t, s, "desk-officer", "AT-VIE")
	look := func(name string) {
		t.Helper()
		b.CheckAccessibility(t)
		b.ScreenshotBothWidths(name)
	}

	for _, v := range visits {
		b.Visit(s.url + "/lang/" + v.lang + "?next=/staff/requests/" + v.code)
		if b.Lang() != v.lang {
			t.Fatalf("the page is in %q, want %q", b.Lang(), v.lang)
		}
		if !b.Exists("#correction form") {
			t.Fatalf("%s: an attended request offers no correction form:\n%s", v.lang, b.Text("#actions"))
		}
		look("form-" + v.lang)

		// A wrong value: refused beside the field, what was typed kept.
		b.Select("#correction_field", "form.licence_number")
		b.Fill("#correction_value", "12AB")
		b.Fill("#correction_reason", "typo")
		if status := b.Submit("#correction button[type=submit]"); status != 422 {
			t.Fatalf("%s: a wrong licence number: %d, want 422", v.lang, status)
		}
		refusal := b.Text("#correction_value-error")
		if refusal == "" || (v.lang == "fa") != strings.ContainsFunc(refusal, func(r rune) bool { return unicode.In(r, unicode.Arabic) }) {
			t.Errorf("%s: the refusal beside the value is %q, want it in the page's language", v.lang, refusal)
		}
		if b.Value("#correction_value") != "12AB" || b.Value("#correction_field") != "form.licence_number" || b.Value("#correction_reason") != "typo" {
			t.Errorf("%s: what was typed is not kept: field %q, value %q, reason %q", v.lang,
				b.Value("#correction_field"), b.Value("#correction_value"), b.Value("#correction_reason"))
		}
		if hint := b.Text("#correction_value-hint"); !strings.Contains(hint, v.hint) {
			t.Errorf("%s: the refusal points at the hint, which does not say what a licence number is: %q", v.lang, hint)
		}
		if b.Attr("#correction_value", "aria-invalid") != "true" || !strings.Contains(b.Attr("#correction_value", "aria-describedby"), "correction_value-error") {
			t.Errorf("%s: the value field does not point at its error", v.lang)
		}
		if got := b.Text("#answers"); !strings.Contains(got, "12345678") || strings.Contains(got, "12AB") {
			t.Errorf("%s: a refused correction shows in the answers:\n%s", v.lang, got)
		}
		look("refused-" + v.lang)

		// The right value, with a reason.
		b.Fill("#correction_value", "87654321")
		b.Fill("#correction_reason", "One digit was misread from the licence.")
		if status := b.Submit("#correction button[type=submit]"); status != 200 || !strings.HasSuffix(strings.SplitN(b.URL(), "?", 2)[0], "/staff/requests/"+v.code) {
			t.Fatalf("%s: the correction: %d at %s\n%s", v.lang, status, b.URL(), b.Text("main"))
		}
		if got := b.Text("#answers"); !strings.Contains(got, "87654321") || strings.Contains(got, "12345678") {
			t.Errorf("%s: the answers do not show the corrected licence number:\n%s", v.lang, got)
		}
		if got := b.Text("#timeline"); !v.timeline.MatchString(stripIsolates(got)) || !strings.Contains(got, officer) {
			t.Errorf("%s: the timeline does not show old → new by %s:\n%s", v.lang, officer, got)
		}
		if v.lang == "fa" && !strings.Contains(b.Text("#timeline"), "\u2068One digit was misread from the licence.\u2069") {
			t.Errorf("the reason is not a run of its own: an English reason on a Persian page scrambles its full stop and bracket")
		}
		if s.answer(v.code, "form.licence_number") != "87654321" {
			t.Errorf("%s: the stored licence number is %q", v.lang, s.answer(v.code, "form.licence_number"))
		}
		look("corrected-" + v.lang)

		// One email, Persian first then English, naming old and new.
		text := mailTo(t, v.address, "اصلاح درخواست").Text
		time.Sleep(time.Second) // a second email would have arrived by now
		n := 0
		for _, m := range testenv.Mail(t).Search(t, "to:"+v.address) {
			if strings.Contains(m.Subject, "اصلاح درخواست") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d correction emails, want one", v.lang, n)
		}
		persian, english, _ := strings.Cut(stripIsolates(text), "----------")
		if !strings.Contains(persian, "شماره گواهینامه: 12345678 ← 87654321") || !strings.Contains(english, "Licence number: 12345678 → 87654321") {
			t.Errorf("%s: the email does not name the old and the new value:\n%s", v.lang, text)
		}
	}
	for _, e := range b.ConsoleErrors() {
		if !strings.Contains(e, "status of 422") { // the refused value's page, on purpose
			t.Errorf("the page reported: %s", e)
		}
	}
}

// stripIsolates removes the bidirectional isolates (U+2066..U+2069) that
// keep Latin values left to right inside Persian text.
func stripIsolates(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x2066 && r <= 0x2069 {
			return -1
		}
		return r
	}, s)
}

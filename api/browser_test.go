package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/testenv/browser"
)

// In headless Chromium, once in Persian and once in English: sign up with
// the emailed code, complete the profile with uploads, apply for a
// driving-licence inquiry, and download the receipt. Every page is checked
// with axe-core and photographed at phone and desktop widths
// (.artifacts/browser/).
func TestBrowserJourneyInPersianAndEnglish(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	for _, lang := range []string{i18n.Persian, i18n.English} {
		t.Run(lang, func(t *testing.T) {
			b := browser.New(t)
			look := func(name string) {
				t.Helper()
				b.CheckAccessibility(t)
				b.ScreenshotBothWidths(name)
			}
			digits := func(s string) string { // what a Persian keyboard types
				if lang == i18n.Persian {
					return i18n.PersianDigits(s)
				}
				return s
			}
			mail := email(t)

			b.Visit(s.url + "/lang/" + lang + "?next=/")
			if want := map[string]string{"fa": "rtl", "en": "ltr"}[lang]; b.Dir() != want || b.Lang() != lang {
				t.Fatalf("page is %s/%s, want %s/%s", b.Lang(), b.Dir(), lang, want)
			}
			look("home")
			if !b.Exists("#header-signin") {
				t.Error("the header has no sign-in link")
			}
			b.ClickAndWait(`a.button[href="/start"]`)
			look("start")
			b.Fill("#email", mail)
			b.Fill("#national_id", digits(testenv.NationalID()))
			b.Fill("#captcha", digits(testCaptcha))
			if code := b.Submit(`form[action="/start"] button[type=submit]`); code != 200 {
				t.Fatalf("start: %d", code)
			}
			if b.Direction("#code") != "ltr" {
				t.Error("the code field is not left to right")
			}
			look("code")
			msgs := testenv.Mail(t).WaitFor(t, "to:"+mail, 1, 15*time.Second)
			otp := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(msgs[0].Subject)[1]
			b.Fill("#code", digits(otp))
			b.Submit(`form[action="/start/code"] button`)
			if !strings.Contains(b.URL(), "/profile/identity") {
				t.Fatalf("after the code: %s", b.URL())
			}
			look("identity")

			// A forbidden file and a missing field: the errors are announced,
			// the summary takes focus, and what was typed stays.
			b.DisableClientValidation()
			fill := map[string]string{"#first_name_fa": "سارا", "#last_name_fa": "احمدی", "#first_name_en": "Sara", "#last_name_en": "Ahmadi",
				"#father_name": "رضا", "#birth_certificate_number": digits("4521"), "#birth_place": "تبریز"}
			for sel, v := range fill {
				b.Fill(sel, v)
			}
			b.Select("#gender", "female")
			setDate(b, "#birth_date", lang, "1991-08-03")
			b.UploadBytes("#document\\.passport", "passport.jpg", testenv.JPEG(t))
			b.UploadBytes("#document\\.birth_certificate", "scan2024.jpg", []byte("GIF89a not a photo"+strings.Repeat("x", 120<<10)))
			if code := b.Submit(`main form button[type=submit]`); code != 422 {
				t.Fatalf("identity with a bad file: %d, want 422", code)
			}
			if b.FocusedID() != "error-summary" {
				t.Errorf("focus is on %q, want the error summary", b.FocusedID())
			}
			if b.Value("#first_name_en") != "Sara" || !b.Exists("#document\\.birth_certificate-error") {
				t.Fatal("the form lost what was typed, or does not name the bad file")
			}
			// The file's name keeps its ASCII digits in a Persian sentence.
			if got := b.Text("#document\\.birth_certificate-error"); !strings.Contains(got, "scan2024.jpg") {
				t.Errorf("the error does not name scan2024.jpg as typed: %q", got)
			}
			look("identity-errors")
			b.UploadBytes("#document\\.birth_certificate", "shenasnameh.jpg", testenv.JPEG(t))
			b.Submit(`main form button[type=submit]`)
			if !strings.Contains(b.URL(), "/profile/residence") {
				t.Fatalf("after identity: %s\n%s", b.URL(), b.Text("main"))
			}
			look("residence")
			b.Fill("#country", map[string]string{"fa": "اتریش", "en": "Austria"}[lang])
			b.Fill("#city", map[string]string{"fa": "وین", "en": "Vienna"}[lang])
			b.Fill("#address", "Praterstraße 1, 1020 Wien")
			b.Select("#residence_type", "student")
			setDate(b, "#residence_since", lang, "2019-10-01")
			b.Fill("#phone", "+43 1 234 5678")
			b.Submit(`main form button[type=submit]`)
			look("review")
			b.Fill("#captcha", digits(testCaptcha))
			b.Submit(`form[action="/profile/review"] button`)
			look("profile-done")
			// The seed's flow: a tick box, not a button, leads to the
			// password page; left unticked, on to the services. Either way
			// the password page is in the account menu.
			if lang == i18n.Persian {
				b.Click("#fixed_password")
				b.Submit(`#after-profile button[type=submit]`)
				if !strings.HasSuffix(b.URL(), "/account/password") {
					t.Fatalf("the ticked box led to %s, want the password page", b.URL())
				}
				look("password")
				if !strings.Contains(b.Text("#username"), mail) {
					t.Errorf("the password page does not give the username as typed: %q", b.Text("#username"))
				}
				b.ClickAndWait(`header a[href="/services"]`)
			} else {
				b.Submit(`#after-profile button[type=submit]`)
				if !strings.HasSuffix(b.URL(), "/services") {
					t.Fatalf("the unticked box led to %s, want the services", b.URL())
				}
				b.Click("#account-menu summary")
				b.WaitVisible("#menu-password")
				look("account-menu")
				b.ClickAndWait("#menu-password")
				if !strings.HasSuffix(b.URL(), "/account/password") {
					t.Fatalf("the account menu's password link led to %s", b.URL())
				}
				look("password")
				if !strings.Contains(b.Text("#username"), mail) {
					t.Errorf("the password page does not give the username as typed: %q", b.Text("#username"))
				}
				b.ClickAndWait(`header a[href="/services"]`)
			}
			if b.Exists("#header-signin") || !b.Exists("#account-menu") {
				t.Error("signed in, the header still offers to sign in, or has no account menu")
			}
			look("services")
			b.ClickAndWait(`a[href="/services/driving_licence_inquiry/apply"]`)
			look("apply")
			// Resident in Austria: the missions offered are those serving
			// Austria (one, chosen already), with a way to see them all.
			if !b.Exists("#missions-narrowed") || b.Count("#mission option[value]:not([value=''])") != 1 || b.Value("#mission") != "AT-VIE" {
				t.Fatalf("the mission list is not narrowed to Austria's: %d options, %q chosen", b.Count("#mission option[value]:not([value=''])"), b.Value("#mission"))
			}
			if !strings.Contains(b.Text("#mission-AT-VIE"), "Jaurèsgasse 9") {
				t.Error("the form does not show the address of the one mission serving Austria")
			}
			b.ClickAndWait("#all-missions")
			if n := b.Count("#mission option[value]:not([value=''])"); n < 40 || b.Exists("#missions-narrowed") {
				t.Fatalf("show all missions: %d options", n)
			}
			b.CheckAccessibility(t)
			b.Select("#mission", "AT-VIE")
			b.Fill("#licence_number", digits("87654321"))
			b.Click("#include_driving_record")
			b.UploadBytes("#document\\.licence", "licence.jpg", testenv.JPEG(t))
			b.UploadBytes("#document\\.residence_proof", "meldezettel.jpg", testenv.JPEG(t))
			b.UploadBytes("#document\\.passport", "passport.jpg", testenv.JPEG(t))
			b.Fill("#captcha", digits(testCaptcha))
			if code := b.Submit(`form[enctype] button[type=submit]`); code != 200 || !b.Exists("#tracking-code") {
				t.Fatalf("submit: %d at %s\n%s", code, b.URL(), b.Text("main"))
			}
			look("submitted")
			code := b.Text("#tracking-code")
			if !strings.Contains(b.Text("#bring"), code) {
				t.Errorf("the submitted page does not tell to bring the tracking code: %q", b.Text("#bring"))
			}
			pdf := b.Download(b.Attr("#receipt", "href"))
			cmd := exec.Command("pdftotext", "-", "-")
			cmd.Stdin = bytes.NewReader(pdf)
			text, err := cmd.Output()
			if err != nil || !strings.Contains(string(text), code) {
				t.Fatalf("the receipt PDF does not show %s (%v)", code, err)
			}
		})
	}
}

// setDate types a date as the page asks for it: Solar Hijri text in Persian,
// the browser's date picker in English (set directly: keystrokes into a
// date input depend on the browser's locale).
func setDate(b *browser.Browser, sel, lang, iso string) {
	if lang == i18n.Persian {
		day, _ := time.Parse("2006-01-02", iso)
		b.Fill(sel, i18n.InputDate(day, lang))
		return
	}
	if _, err := chromedp.Run(b.Context(), chromedp.SetValue(sel, iso)); err != nil {
		panic(err)
	}
}

// A form sent after the session died is not lost: the applicant signs in
// again and finds what they typed.
func TestBrowserKeepsAFormPostedAfterTheSessionEnded(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	b := browser.New(t)
	mail := email(t)
	id := testenv.NationalID()
	signIn := func(n int) {
		b.Fill("#email", mail)
		b.Fill("#national_id", id)
		b.Fill("#captcha", testCaptcha)
		b.Submit(`form[action="/start"] button[type=submit]`)
		msgs := testenv.Mail(t).WaitFor(t, "to:"+mail, n, 15*time.Second)
		b.Fill("#code", regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(msgs[len(msgs)-1].Subject)[1])
		b.Submit(`form[action="/start/code"] button`)
	}
	b.Visit(s.url + "/lang/en?next=/start")
	signIn(1)
	b.Visit(s.url + "/profile/residence")
	b.Fill("#city", "Graz")
	b.Fill("#address", "Herrengasse 16")
	// The session times out while the applicant types (as if idle too long).
	if _, err := s.db.Exec(t.Context(), "UPDATE sessions SET seen_at = now() - interval '1 day'"); err != nil {
		t.Fatal(err)
	}
	b.DisableClientValidation()
	b.Submit(`main form button[type=submit]`)
	if !strings.Contains(b.URL(), "/start") || !strings.Contains(b.Text("main"), "Please sign in again") {
		t.Fatalf("after the timeout: %s\n%s", b.URL(), b.Text("main"))
	}
	b.CheckAccessibility(t)
	// What was typed is kept sealed: no session row shows it.
	var clear int
	if err := s.db.QueryRow(t.Context(), "SELECT count(*) FROM sessions WHERE data::text LIKE '%Herrengasse%'").Scan(&clear); err != nil || clear != 0 {
		t.Fatalf("%d session rows hold the kept form in clear (%v)", clear, err)
	}
	signIn(2)
	b.Visit(s.url + "/profile/residence")
	if b.Value("#city") != "Graz" || b.Value("#address") != "Herrengasse 16" || !strings.Contains(b.Text("main"), "has been kept") {
		t.Fatalf("the typed form was lost: city %q, address %q", b.Value("#city"), b.Value("#address"))
	}
}

// A form posted without its CSRF token gets a page saying what happened.
func TestBrowserFormWithoutCSRFTokenIsRefusedClearly(t *testing.T) {
	s := startSystem(t, nil)
	b := browser.New(t)
	b.Visit(s.url + "/lang/en?next=/start")
	if _, err := chromedp.Run(b.Context(), chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=_csrf]').remove()`)); err != nil {
		t.Fatal(err)
	}
	b.DisableClientValidation()
	b.Fill("#email", "someone@example.org")
	if code := b.Submit(`form[action="/start"] button[type=submit]`); code != 403 {
		t.Fatalf("status %d, want 403", code)
	}
	if !strings.Contains(b.Text("main"), "go back and send it again") && !strings.Contains(b.Text("main"), "Go back and send it again") {
		t.Fatalf("page says: %s", b.Text("main"))
	}
	b.CheckAccessibility(t)
}

// The appointment pages in a browser: find the request, book a slot, follow
// the signed link of the confirmation email, cancel; then withdraw.
func TestBrowserBooksAndCancelsAnAppointment(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	b := browser.New(t)
	find := func() {
		t.Helper()
		b.Fill("#national_id", i18n.PersianDigits(id))
		if b.Value("#tracking_code") == "" {
			b.Fill("#tracking_code", i18n.PersianDigits(code))
		}
		b.Fill("#captcha", testCaptcha)
		b.Submit(`main form button[type=submit]`)
	}
	b.Visit(s.url + "/appointments")
	b.CheckAccessibility(t)
	b.ScreenshotBothWidths("find")
	find()
	if !b.Exists(`input[name=starts_at]`) {
		t.Fatalf("no slots offered at %s:\n%s", b.URL(), b.Text("main"))
	}
	b.CheckAccessibility(t)
	b.ScreenshotBothWidths("slots")
	b.Click(`fieldset:nth-of-type(2) input[name=starts_at]`)
	if code := b.Submit(`form[action="/appointments/book"] button`); code != 200 || !b.Exists("#appointment") {
		t.Fatalf("booking: %d\n%s", code, b.Text("main"))
	}
	b.CheckAccessibility(t)
	b.ScreenshotBothWidths("booked")
	if !strings.Contains(b.Text("#bring"), code) {
		t.Errorf("the booked page does not tell to bring the tracking code: %q", b.Text("#bring"))
	}
	s.waitStatus(code, "appointment_booked", 10*time.Second)

	msgs := testenv.Mail(t).WaitFor(t, "to:"+code+"@example.org", 2, 15*time.Second)
	link := regexp.MustCompile(`http://\S+/appointments\?t=\S+`).FindString(msgs[1].Text)
	if link == "" {
		t.Fatalf("the booking email has no link to change the appointment:\n%s", msgs[1].Text)
	}
	other := browser.New(t) // the link opens in any browser, and still asks for the national ID
	other.Visit(link)
	if got := other.Value("#tracking_code"); got != code {
		t.Fatalf("the link did not fill in the tracking code: %q", got)
	}
	b = other
	find()
	b.Submit(`form[action="/appointments/cancel"] button`)
	if b.Exists("#appointment") {
		t.Fatal("the appointment is still shown after cancelling")
	}
	s.waitStatus(code, "awaiting_appointment", 10*time.Second)

	b.Visit(s.url + "/withdraw")
	b.CheckAccessibility(t)
	b.Fill("#national_id", id)
	b.Fill("#tracking_code", code)
	b.Fill("#captcha", testCaptcha)
	b.DisableClientValidation()
	if status := b.Submit(`main form button[type=submit]`); status != 422 {
		t.Fatalf("withdrawal without confirmation: %d, want 422", status)
	}
	b.Fill("#captcha", testCaptcha)
	b.Click("#confirm")
	if status := b.Submit(`main form button[type=submit]`); status != 200 {
		t.Fatalf("withdrawal: %d\n%s", status, b.Text("main"))
	}
	s.waitClosed(code, 30*time.Second)
	s.waitStatus(code, "withdrawn", time.Second)
}

// The missions' own pages, in Persian and English: the list by country, a
// mission with its address and a map link, one whose details are not yet
// confirmed, and an unknown code.
func TestBrowserShowsTheMissionsAndTheirDetails(t *testing.T) {
	s := startSystem(t, nil)
	for _, lang := range []string{i18n.Persian, i18n.English} {
		t.Run(lang, func(t *testing.T) {
			b := browser.New(t)
			b.Visit(s.url + "/lang/" + lang + "?next=/missions")
			b.CheckAccessibility(t)
			// Keyboard focus is visible: the first Tab shows the skip link,
			// the next ones ring the header's links.
			for i, want := range []string{"skip", "name", ""} {
				if _, err := chromedp.Run(b.Context(), chromedp.KeyEvent(kb.Tab)); err != nil {
					t.Fatal(err)
				}
				var focus struct {
					Class, Outline, Shadow, Background string
					Width                              float64
				}
				raw, err := chromedp.Run(b.Context(), chromedp.Evaluate[string](`(() => { const e = document.activeElement, s = getComputedStyle(e);
					return JSON.stringify({Class: e.className, Outline: s.outlineStyle, Shadow: s.boxShadow, Background: s.backgroundColor, Width: e.getBoundingClientRect().width}); })()`))
				if err != nil || json.Unmarshal([]byte(raw), &focus) != nil {
					t.Fatalf("read the focused element: %v (%s)", err, raw)
				}
				visible := focus.Outline != "none" || focus.Shadow != "none" || focus.Background == "rgb(255, 191, 71)"
				if !visible || focus.Width < 8 || (want != "" && !strings.Contains(focus.Class, want)) {
					t.Errorf("Tab %d: focus on %q is not visible (outline %s, shadow %s, background %s, width %.0f)",
						i+1, focus.Class, focus.Outline, focus.Shadow, focus.Background, focus.Width)
				}
			}
			b.ScreenshotBothWidths("missions")
			b.ClickAndWait(`a[href="/missions/AT-VIE"]`)
			if !strings.Contains(b.Text("main"), "Jaurèsgasse 9") || !strings.HasPrefix(b.Attr("#mission-map", "href"), "https://www.openstreetmap.org/") {
				t.Fatalf("the Vienna page has no address or map:\n%s", b.Text("main"))
			}
			b.CheckAccessibility(t)
			b.ScreenshotBothWidths("mission")
			b.Visit(s.url + "/missions/JP-TYO")
			if !b.Exists("#mission-unconfirmed") {
				t.Fatalf("a mission without confirmed details does not say so:\n%s", b.Text("main"))
			}
			b.CheckAccessibility(t)
			if code := b.Visit(s.url + "/missions/XX-XXX"); code != 404 {
				t.Fatalf("an unknown mission: %d", code)
			}
		})
	}
}

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/testenv/browser"
)

// press sends one key to the page.
func press(t *testing.T, b *browser.Browser, key string) {
	t.Helper()
	if _, err := chromedp.Run(b.Context(), chromedp.KeyEvent(key)); err != nil {
		t.Fatalf("press %q: %v", key, err)
	}
}

// tabTo presses Tab until the focused element matches selector, at most
// limit times, and reports how many presses it took (0: never reached).
func tabTo(t *testing.T, b *browser.Browser, selector string, limit int) int {
	t.Helper()
	for i := 1; i <= limit; i++ {
		press(t, b, kb.Tab)
		matched, err := chromedp.Run(b.Context(), chromedp.Evaluate[bool](`document.activeElement !== null && document.activeElement.matches(`+jsString(selector)+`)`))
		if err != nil {
			t.Fatal(err)
		}
		if matched {
			return i
		}
	}
	return 0
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// focusRingShown reports whether the focused radio's pill (its label) shows
// the focus ring, since the radio itself is unseen.
func focusRingShown(t *testing.T, b *browser.Browser) bool {
	t.Helper()
	outline, err := chromedp.Run(b.Context(), chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('label[for="' + document.activeElement.id + '"]')).outlineStyle`))
	if err != nil {
		t.Fatal(err)
	}
	return outline != "none"
}

// Booking from the calendar on a phone (390 px) with the keyboard only, in
// Persian and English: Tab reaches a time of the first free day (the full
// day before it offers none), Space chooses it, Enter on the button books.
// The time is taken by someone else meanwhile the first time: the calendar
// comes back with the reason and that day open, and the next free time is
// booked. Every page is checked with axe-core and photographed at 390 and
// 1280 px (.artifacts/browser/<TestName>/).
func TestBrowserBooksFromTheCalendarWithTheKeyboardOnAPhone(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	for _, lang := range []string{i18n.Persian, i18n.English} {
		t.Run(lang, func(t *testing.T) {
			f := newCalendarFixture(t, s)
			b := browser.New(t)
			b.SetViewport(390, 844)
			b.Visit(s.url + "/lang/" + lang + "?next=/appointments")
			b.Fill("#national_id", f.id)
			b.Fill("#tracking_code", f.code)
			b.Fill("#captcha", testCaptcha)
			b.Submit(`main form button[type=submit]`)
			if !b.Exists(`form.calendar`) {
				t.Fatalf("no calendar at %s:\n%s", b.URL(), b.Text("main"))
			}
			b.CheckAccessibility(t)
			b.ScreenshotBothWidths("calendar-" + lang)
			if !b.Exists("#day-"+f.free+"[open]") || b.Count("details[open]") != 1 {
				t.Fatalf("the first free day %s is not open", f.free)
			}
			if b.Exists("#day-" + f.full + " input") {
				t.Fatal("the full day offers a time")
			}

			// Keyboard only: Tab to a time, Space to choose it, Tab to the
			// button, Enter; meanwhile runs between choosing and sending.
			book := func(shot string, meanwhile func(chosen time.Time)) {
				t.Helper()
				if n := tabTo(t, b, `input[name=starts_at]`, 60); n == 0 {
					t.Fatal("Tab never reached a time")
				}
				if !focusRingShown(t, b) {
					t.Error("the focused time shows no focus ring")
				}
				press(t, b, " ")
				if !b.Exists(`input[name=starts_at]:checked`) {
					t.Fatal("Space did not choose the focused time")
				}
				if shot != "" {
					b.ScreenshotBothWidths(shot)
				}
				if meanwhile != nil {
					at, err := time.Parse(time.RFC3339, b.Value(`input[name=starts_at]:checked`))
					if err != nil {
						t.Fatal(err)
					}
					meanwhile(at)
				}
				if n := tabTo(t, b, `form.calendar button[type=submit]`, 40); n == 0 {
					t.Fatal("Tab never reached the booking button")
				}
				press(t, b, kb.Enter)
			}

			// Someone else takes the chosen time first.
			book("chosen-"+lang, func(chosen time.Time) {
				if day := chosen.In(mustZone(t, "Europe/Vienna")).Format("2006-01-02"); day != f.free {
					t.Errorf("the first time Tab reached is on %s, want the first free day %s", day, f.free)
				}
				s.fillSeats(chosen)
			})
			b.WaitVisible("#starts_at-error")
			if !b.Exists("#day-" + f.free + "[open]") {
				t.Errorf("after the refusal the chosen day %s is not open", f.free)
			}
			b.CheckAccessibility(t)
			b.ScreenshotBothWidths("refused-" + lang)

			book("", nil)
			b.WaitVisible("#appointment")
			if !b.Exists(`#mission-page a[href="/missions/AT-VIE"]`) || !strings.Contains(b.Text("main"), "Jaurèsgasse 9") {
				t.Errorf("the booked page does not say how to reach the mission:\n%s", b.Text("main"))
			}
			b.CheckAccessibility(t)
			b.ScreenshotBothWidths("booked-" + lang)
			s.waitStatus(f.code, "appointment_booked", 10*time.Second)
			b.ClickAndWait(`a[href="/appointments/slots"]`)
			if !b.Exists(".time.mine input:disabled") {
				t.Error("the calendar to move the appointment does not show the booked time as the applicant's own")
			}
			b.CheckAccessibility(t)
			b.ScreenshotBothWidths("move-" + lang)
		})
	}

	// Without script (turned off in the browser): a folded day opens by
	// its summary, a time is chosen by a click, the form books it.
	t.Run("without script", func(t *testing.T) {
		f := newCalendarFixture(t, s)
		b := browser.New(t)
		b.SetViewport(390, 844)
		if _, err := chromedp.Run(b.Context(), func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
			return cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		}); err != nil {
			t.Fatal(err)
		}
		b.Visit(s.url + "/lang/en?next=/appointments")
		b.Fill("#national_id", f.id)
		b.Fill("#tracking_code", f.code)
		b.Fill("#captcha", testCaptcha)
		b.Submit(`main form button[type=submit]`)
		// Sent with no time chosen: the reason beside the calendar; the
		// error summary is not focused, which only the script does, so
		// script is indeed off.
		if code := b.Submit(`form.calendar button[type=submit]`); code != 422 || !b.Exists("#starts_at-error") {
			t.Fatalf("booking with no time chosen: %d\n%s", code, b.Text("main"))
		}
		if b.FocusedID() == "error-summary" {
			t.Fatal("the error summary took focus: the page's script ran")
		}
		if !b.Exists("#day-" + f.free + "[open]") {
			t.Errorf("the first free day %s is not open", f.free)
		}
		if b.Exists("#day-" + f.partial + "[open]") {
			t.Fatalf("day %s is open before its summary is clicked", f.partial)
		}
		b.Click("#day-" + f.partial + " > summary")
		if !b.Exists("#day-" + f.partial + "[open]") {
			t.Fatalf("clicking day %s's summary did not open it", f.partial)
		}
		b.Click("#day-" + f.partial + " input:not([disabled])")
		b.ScreenshotBothWidths("without-script")
		if code := b.Submit(`form.calendar button[type=submit]`); code != 200 || !b.Exists("#appointment") {
			t.Fatalf("booking without script: %d\n%s", code, b.Text("main"))
		}
		s.waitStatus(f.code, "appointment_booked", 10*time.Second)
	})
}

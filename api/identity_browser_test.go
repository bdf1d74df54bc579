package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/testenv/browser"
)

// A national ID belongs to whoever proves it at the mission, not to whoever
// typed it first. In headless Chromium: A binds a national ID to their
// email; B, its holder, is refused by email (the page says what it says to
// everyone) and A hears of the attempt; an officer who has checked B's
// documents moves the national ID to B's email; both addresses are told,
// the audit log has the move, A's session is over and B signs in.
func TestBrowserOfficerMovesANationalIDToItsHolder(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	nationalID := testenv.NationalID()
	first, holder := "first-"+email(t), "holder-"+email(t)
	start := func(b *browser.Browser, address string) {
		t.Helper()
		b.Visit(s.url + "/lang/en?next=/start")
		b.Fill("#email", address)
		b.Fill("#national_id", nationalID)
		b.Fill("#captcha", testCaptcha)
		if status := b.Submit(`form[action="/start"] button[type=submit]`); status != 200 || !b.Exists("#code") {
			t.Fatalf("start as %s: %d\n%s", address, status, b.Text("main"))
		}
	}
	signInWithCode := func(b *browser.Browser, address string, n int) {
		t.Helper()
		msgs := testenv.Mail(t).WaitFor(t, "to:"+address+` subject:"Your one-time password"`, n, 20*time.Second)
		b.Fill("#code", regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(msgs[len(msgs)-1].Subject)[1])
		b.Submit(`form[action="/start/code"] button`)
		if !strings.Contains(b.URL(), "/profile/identity") {
			t.Fatalf("%s is not signed in: %s\n%s", address, b.URL(), b.Text("main"))
		}
	}

	// A binds the national ID.
	a := browser.New(t)
	start(a, first)
	signInWithCode(a, first, 1)

	// B, its holder, gets the page everyone gets; the refusal comes by mail.
	b := browser.New(t)
	start(b, holder)
	b.CheckAccessibility(t)
	b.Fill("#code", "000000")
	if status := b.Submit(`form[action="/start/code"] button`); status != 422 || !strings.Contains(b.Text("main"), "You can try 4 more times") {
		t.Fatalf("a wrong code for the refused pair: %d\n%s", status, b.Text("main"))
	}
	refusal := mailTo(t, holder, "Your sign-in to the consular portal")
	if !strings.Contains(refusal.Text, "go to your embassy or consulate in person") {
		t.Fatalf("the holder is not told where to turn: %q", refusal.Text)
	}
	mailTo(t, first, "Someone tried to register your national ID")

	// At the mission, an officer moves it.
	var out bytes.Buffer
	officer := uniqueEmail("officer")
	if err := addStaff(context.Background(), &out, s.db, testenv.Config(t).Keys.TOTP, []string{"add", "--email", officer, "--role", "officer", "--mission", "AT-VIE"}); err != nil {
		t.Fatal(err)
	}
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1]
	secret := regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]
	o := browser.New(t)
	o.Visit(s.url + "/lang/en?next=/staff/signin")
	o.Fill("#email", officer)
	o.Fill("#password", password)
	code, _ := totp.GenerateCode(secret, time.Now())
	o.Fill("#totp", code)
	if status := o.Submit(`main form button[type=submit]`); status != 200 || !o.Exists("table#queue") {
		t.Fatalf("officer sign-in: %d\n%s", status, o.Text("main"))
	}
	o.ClickAndWait(`a[href="/staff/identity"]`)
	o.CheckAccessibility(t)
	o.ScreenshotBothWidths("staff-identity")
	o.Fill("#national_id", nationalID)
	o.Fill("#new_email", holder)
	o.Fill("#identity_reason", "Passport and birth certificate seen at the counter")
	// Shown back first, with the address it leaves; nothing moves yet.
	if status := o.Submit(`form[action="/staff/identity"] button[type=submit]`); status != 200 ||
		!strings.Contains(o.Text("#identity-summary"), first) || !strings.Contains(o.Text("#identity-summary"), holder) {
		t.Fatalf("confirmation: %d\n%s", status, o.Text("main"))
	}
	o.CheckAccessibility(t)
	o.ScreenshotBothWidths("staff-identity-confirm")
	var bound string
	if err := s.db.QueryRow(context.Background(), "SELECT email FROM accounts WHERE national_id = $1", nationalID).Scan(&bound); err != nil || bound != first {
		t.Fatalf("before confirming, the national ID is bound to %q (%v), want still %s", bound, err, first)
	}
	if status := o.Submit(`#confirm-action`); status != 200 || !strings.Contains(o.Text("main"), "The national ID has been moved") {
		t.Fatalf("move: %d\n%s", status, o.Text("main"))
	}
	mailTo(t, first, "Your national ID was moved to another email address")
	mailTo(t, holder, "Your national ID is now bound to this email address")
	var audited int
	if err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'move_national_id' AND staff_email = $1
		AND outcome = 'ok' AND detail LIKE '%Passport and birth certificate seen at the counter%'`, officer).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("%d audit lines for the move (%v)", audited, err)
	}

	// A is out; B signs in with the national ID.
	a.Visit(s.url + "/profile/identity")
	if strings.Contains(a.URL(), "/profile/identity") {
		t.Fatal("the first address's session survived the move")
	}
	start(b, holder)
	signInWithCode(b, holder, 1)
}

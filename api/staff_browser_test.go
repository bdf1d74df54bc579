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

// The staff dashboard in headless Chromium: an admin invites an officer, the
// officer enrols an authenticator from the emailed link, signs in with a
// TOTP code, finds the request in the queue, opens one of its documents,
// records the attendance and approves, confirming each action; the
// applicant's result arrives by email. Every page is checked with axe-core.
func TestBrowserOfficerEnrolsSignsInAndDecides(t *testing.T) {
	s := startSystem(t, nil)
	applicant := email(t)
	code := s.mustSubmit(drivingLicenceInquiry(t, applicant)).TrackingCode
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	at := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	if status, out := s.staff("POST", "/api/v1/requests/"+code+"/appointment", map[string]any{"at": at}); status != 200 {
		t.Fatalf("booking: %d %v", status, out)
	}
	s.waitStatus(code, "appointment_booked", 10*time.Second)

	var out bytes.Buffer
	adminEmail := uniqueEmail("admin")
	if err := addStaff(context.Background(), &out, s.db, testenv.Config(t).Keys.TOTP, []string{"add", "--email", adminEmail, "--role", "admin"}); err != nil {
		t.Fatal(err)
	}
	adminPassword := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1]
	adminSecret := regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]

	b := browser.New(t)
	look := func(name string) {
		t.Helper()
		b.CheckAccessibility(t)
		b.ScreenshotBothWidths("staff-" + name)
	}
	signIn := func(email, password, secret string, steps int) { // steps: TOTP codes already used in this half-minute
		t.Helper()
		b.Visit(s.url + "/staff/signin")
		b.Fill("#email", email)
		b.Fill("#password", password)
		otp, _ := totp.GenerateCode(secret, time.Now().Add(time.Duration(steps)*30*time.Second))
		b.Fill("#totp", otp)
		if status := b.Submit(`main form button[type=submit]`); status != 200 || !b.Exists("table#queue") {
			t.Fatalf("sign-in as %s: %d\n%s", email, status, b.Text("main"))
		}
	}

	// The admin invites an officer of the request's mission.
	signIn(adminEmail, adminPassword, adminSecret, 0)
	b.Visit(s.url + "/staff/members")
	look("members")
	officer := uniqueEmail("officer")
	b.Fill("#email", officer)
	b.Select("#role", "officer")
	b.Select("#mission", "AT-VIE")
	if status := b.Submit(`form[action="/staff/members"] button[type=submit]`); status != 200 || !strings.Contains(b.Text("#members"), officer) {
		t.Fatalf("invite: %d\n%s", status, b.Text("main"))
	}
	b.Visit(s.url + "/staff/schedule?mission=AT-VIE")
	look("schedule")
	b.Submit(`header form[action="/staff/signout"] button`)

	// The officer accepts the invitation in a browser of their own.
	b = browser.New(t)
	b.Visit(s.url + invitationLink(t, officer))
	look("enrol")
	secret := b.Text("#secret")
	if b.Attr(`main img`, "src") == "" || secret == "" {
		t.Fatal("the enrolment page shows no QR code or key")
	}
	b.Fill("#staff_password", "correct horse battery")
	b.Fill("#staff_password_confirm", "correct horse battery")
	otp, _ := totp.GenerateCode(secret, time.Now())
	b.Fill("#totp", otp)
	if status := b.Submit(`main form button[type=submit]`); status != 200 || !strings.Contains(b.URL(), "/staff/signin") {
		t.Fatalf("enrol: %d at %s\n%s", status, b.URL(), b.Text("main"))
	}
	signIn(officer, "correct horse battery", secret, 1)
	look("queue")

	// The queue, the request, one of its documents.
	b.Fill("#code", code)
	b.Submit(`form.filters button[type=submit]`)
	b.ClickAndWait(`table#queue a[href="/staff/requests/` + code + `"]`)
	look("detail")
	doc := b.Attr(`#documents a.doc-thumb`, "href")
	if !strings.HasPrefix(doc, "/staff/requests/"+code+"/documents/") {
		t.Fatalf("the document link is not the desk's document route: %q", doc)
	}
	if resp := b.Fetch(doc); resp.Status != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("the document through its link: %d %s", resp.Status, resp.Header.Get("Content-Type"))
	}

	// Attendance, confirmed.
	b.Submit(`form[action$="/attendance"] button`)
	look("confirm")
	if !b.Exists("#confirm-action") {
		t.Fatalf("the action was not put up for confirmation:\n%s", b.Text("main"))
	}
	b.Submit("#confirm-action")
	s.waitStatus(code, "attended", 10*time.Second)

	// The approval, confirmed.
	b.Visit(s.url + "/staff/requests/" + code)
	b.Click("#d-approved")
	b.Submit(`form[action$="/decision"] button[type=submit]`)
	if !strings.Contains(b.Text("#confirm-summary"), "تأییدشده") { // "Approved", on a Persian page
		t.Fatalf("the confirmation does not say what is decided:\n%s", b.Text("main"))
	}
	b.Submit("#confirm-action")
	s.waitStatus(code, "approved", 10*time.Second)
	look("approved")

	last := testenv.Mail(t).WaitFor(t, "to:"+applicant+" subject:Outcome", 1, 30*time.Second)[0]
	if !strings.Contains(last.Subject, "Outcome") || !strings.Contains(last.Text, "approved") {
		t.Fatalf("the applicant's last email: %q", last.Subject)
	}
}

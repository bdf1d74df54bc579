package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/testenv/browser"
)

// officerAtTheDesk enrols an officer of mission from the command line and
// signs them in, password and authenticator code, in a browser of their
// own: it returns on the queue, with the officer's email.
func officerAtTheDesk(t *testing.T, s *system, name, mission string) (*browser.Browser, string) {
	t.Helper()
	var out bytes.Buffer
	officer := uniqueEmail(name)
	if err := addStaff(context.Background(), &out, s.db, testenv.Config(t).Keys.TOTP, []string{"add", "--email", officer, "--role", "officer", "--mission", mission}); err != nil {
		t.Fatal(err)
	}
	b := browser.New(t)
	b.Visit(s.url + "/staff/signin")
	b.Fill("#email", officer)
	b.Fill("#password", regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1])
	otp, _ := totp.GenerateCode(regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1], time.Now())
	b.Fill("#totp", otp)
	if status := b.Submit(`main form button[type=submit]`); status != 200 || !b.Exists("table#queue") {
		t.Fatalf("sign-in: %d\n%s", status, b.Text("main"))
	}
	return b, officer
}

package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/testenv"
)

// An open session is not enough to set or change the password: it takes the
// current password or a code sent to the account's email. A change ends
// every other session of the account, keeps this browser signed in (with a
// new session ID) and is emailed. Before: a session alone set it, silently,
// and every other session lived on.
func TestChangingThePasswordTakesProofEndsOtherSessionsAndIsEmailed(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	id := testenv.NationalID()
	a := newApplicant(t, s)
	a.signUp(id)
	// A second device, signed in on its own.
	phone := newApplicant(t, s)
	phone.email = a.email
	phone.get("/lang/en?next=/start")
	phone.post("/start", map[string]string{"email": a.email, "national_id": id})
	phone.post("/start/code", map[string]string{"code": phone.otp(2)})
	phone.want(200, `name="first_name_fa"`)

	set := func(fields map[string]string) {
		t.Helper()
		a.get("/account/password")
		fields["password"], fields["password_confirm"] = "a new fixed password", "a new fixed password"
		a.post("/account/password", fields)
	}
	set(map[string]string{})
	a.want(422, "Enter the code sent to your email")
	set(map[string]string{"code": "000000"})
	a.want(422, "This code has expired; ask for a new one") // no code was asked for: nothing to match

	a.get("/account/password")
	a.post("/account/password/code", nil)
	a.want(200, "A code has been sent to your email")
	code := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(mailTo(t, a.email, "Your code to change your password").Subject)[1]
	set(map[string]string{"code": code})
	a.want(200, "Your fixed password has been saved")

	u, _ := url.Parse(s.url)
	if cookie(a, u) == "" {
		t.Fatal("this browser lost its session")
	}
	a.get("/profile/identity")
	a.want(200, `name="first_name_fa"`)
	phone.get("/profile/identity")
	if strings.Contains(phone.page, `name="first_name_fa"`) {
		t.Fatal("the other device is still signed in after the password changed")
	}
	changed := mailTo(t, a.email, "Your password was changed")
	if !strings.Contains(changed.Text, "Every other session of the account was signed out") {
		t.Fatalf("the notice says %q", changed.Text)
	}

	// Now that there is a password, it proves the owner too; a wrong one does not.
	set(map[string]string{})
	a.want(422, "Enter your current password, or a code sent to your email")
	set(map[string]string{"current_password": "not the password"})
	a.want(422, "The current password is not right")
	set(map[string]string{"current_password": "a new fixed password"})
	a.want(200, "Your fixed password has been saved")
	testenv.Mail(t).WaitFor(t, "to:"+a.email+` subject:"Your password was changed"`, 2, 20*time.Second)
}

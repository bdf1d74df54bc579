package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/testenv"
)

// Anonymous pages must not tell whether an email has an account, whether a
// national ID is bound, or whether a request matches: not by status, words,
// next page, or time. These tests compare the whole answers for existing and
// missing accounts, and their times (see alike: the fastest quarters within
// 20 % and the medians within 50 %, with the samples interleaved, because on
// this shared machine a single answer varies by a factor of ten and noise
// only ever adds time).

// oracleEnv trusts the test as the ingress, so each sample can come from an
// address of its own (X-Forwarded-For) and the per-address limits, which
// would stop a run after 20 codes, do not cap the samples.
func oracleEnv() map[string]string {
	return map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha, "CONSULAR_TRUSTED_PROXIES": "127.0.0.1/32"}
}

// addresses hands out client addresses, one per sample.
type addresses struct{ n int }

func (a *addresses) next() string {
	a.n++
	return fmt.Sprintf("10.%d.%d.%d", a.n>>16&255, a.n>>8&255, a.n&255)
}

// postAs sends a form of the last page as if from client ip, and says how
// long the answer took (the redirect not followed when the client does not).
func (a *applicant) postAs(ip, path string, fields map[string]string) time.Duration {
	a.t.Helper()
	values := url.Values{"_csrf": {a.hiddenValue("_csrf")}, "captcha_id": {a.hiddenValue("captcha_id")}, "captcha": {testCaptcha}}
	for k, v := range fields {
		values.Set(k, v)
	}
	req, _ := http.NewRequest(http.MethodPost, a.s.url+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	start := time.Now()
	a.do(req)
	return time.Since(start)
}

// noRedirects makes the applicant see a 303 itself, so that a timed POST is
// the POST alone.
func (a *applicant) noRedirects() *applicant {
	a.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return a
}

func addAccount(t *testing.T, s *system, email, nationalID string) {
	t.Helper()
	if _, err := s.db.Exec(context.Background(), "INSERT INTO accounts (email, national_id) VALUES ($1, $2)", email, nationalID); err != nil {
		t.Fatal(err)
	}
}

// mailTo waits for a message to address whose subject contains subject.
func mailTo(t *testing.T, address, subject string) testenv.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, m := range testenv.Mail(t).Search(t, "to:"+address) {
			if strings.Contains(m.Subject, subject) {
				return testenv.Mail(t).Message(t, m.ID)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s with %q in its subject", address, subject)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Sign-up and sign-in by code: whatever the email and the national ID (no
// account, an account's own pair, an account's email with another national
// ID, a national ID bound to another email), the start answers with the same
// code page, and a wrong code with the same "4 more tries". Only mail, read
// by each address's owner after the answer, differs. Before: a pair that
// could not be used got "This code has expired" at once.
func TestSignUpAndCodeSignInAnswerAlikeWhateverTheAccounts(t *testing.T) {
	s := startSystem(t, oracleEnv())
	ips := &addresses{}
	owner, ownerID := "owner-"+email(t), testenv.NationalID()
	addAccount(t, s, owner, ownerID)
	other, otherID := "other-"+email(t), testenv.NationalID()
	addAccount(t, s, other, otherID)
	cases := []struct{ what, email, nationalID string }{
		{"no account", "new-" + email(t), testenv.NationalID()},
		{"an account's own email and national ID", owner, ownerID},
		{"an account's email with another national ID", other, testenv.NationalID()},
		{"a national ID bound to another email", "claimant-" + email(t), ownerID},
	}
	type answer struct {
		code, wrong       int
		codePage, tryPage string
	}
	var first answer
	for i, c := range cases {
		a := newApplicant(t, s)
		a.get("/lang/en?next=/start")
		ip := ips.next()
		a.postAs(ip, "/start", map[string]string{"email": c.email, "national_id": c.nationalID}) // followed to the code page
		got := answer{code: a.status, codePage: normalisedPage(a.page, c.email)}
		a.postAs(ip, "/start/code", map[string]string{"code": "000000"})
		got.wrong, got.tryPage = a.status, normalisedPage(a.page, c.email)
		if i == 0 {
			first = got
			if got.code != http.StatusOK || got.wrong != http.StatusUnprocessableEntity || !strings.Contains(got.tryPage, "You can try 4 more times") {
				t.Fatalf("%s: code page %d, wrong code %d:\n%.3000s", c.what, got.code, got.wrong, got.tryPage)
			}
			continue
		}
		if got != first {
			t.Errorf("%s: code page %d, wrong code %d; %s: %d, %d; the pages differ: %v, %v\n%.3000s",
				c.what, got.code, got.wrong, cases[0].what, first.code, first.wrong, got.codePage != first.codePage, got.tryPage != first.tryPage, got.tryPage)
		}
	}
	// The mail, after the answer, to each address's owner only.
	mailTo(t, cases[0].email, "Your one-time password")
	mailTo(t, owner, "Your one-time password")
	refused := mailTo(t, other, "Your sign-in to the consular portal")
	if !strings.Contains(refused.Text, "cannot be used together") || regexp.MustCompile(`\b\d{6}\b`).MatchString(refused.Subject) {
		t.Errorf("the refusal says %q", refused.Text)
	}
	claimant := mailTo(t, cases[3].email, "Your sign-in to the consular portal")
	if !strings.Contains(claimant.Text, "go to your embassy or consulate in person") {
		t.Errorf("the claimant is not told where to turn: %q", claimant.Text)
	}
	mailTo(t, owner, "Someone tried to register your national ID")

	// And the same time: the start for an existing account (its own pair, or
	// its email with another national ID) and for no account.
	// Every account exists, and has been read once, before any is timed: a
	// row read for the first time after its insert costs a write (its hint
	// bits), which would be counted against the existing accounts.
	const rounds = 24
	type round struct{ ownEmail, ownID, mismatchEmail string }
	var plan []round
	for i := -1; i < rounds; i++ {
		r := round{fmt.Sprintf("own-%d-%s", i, email(t)), testenv.NationalID(), fmt.Sprintf("mismatch-%d-%s", i, email(t))}
		addAccount(t, s, r.ownEmail, r.ownID)
		addAccount(t, s, r.mismatchEmail, testenv.NationalID())
		plan = append(plan, r)
	}
	if _, err := s.db.Exec(context.Background(), "SELECT count(*) FROM accounts"); err != nil {
		t.Fatal(err)
	}
	var own, mismatch, missing []timing
	for i := -1; i < rounds; i++ { // round -1 warms up and is not counted
		r := plan[i+1]
		samples := []struct {
			into              *[]timing
			email, nationalID string
		}{{&own, r.ownEmail, r.ownID}, {&mismatch, r.mismatchEmail, testenv.NationalID()}, {&missing, fmt.Sprintf("missing-%d-%s", i, email(t)), testenv.NationalID()}}
		for j := range samples { // each goes first in turn
			sample := samples[(i+1+j)%len(samples)]
			a := newApplicant(t, s).noRedirects()
			a.get("/lang/en?next=/start")
			a.get("/start")
			took := a.postAs(ips.next(), "/start", map[string]string{"email": sample.email, "national_id": sample.nationalID})
			if i >= 0 {
				*sample.into = append(*sample.into, timing{a.status, took})
			}
			time.Sleep(100 * time.Millisecond) // the mail of one sample is not sent during the next
		}
	}
	compareTimings(t, "code sign-in start, an account's own pair and no account", own, missing)
	compareTimings(t, "code sign-in start, an account's email with another national ID and no account", mismatch, missing)
}

// timing is one answer's status and time.
type timing struct {
	status int
	took   time.Duration
}

func compareTimings(t *testing.T, what string, a, b []timing) {
	t.Helper()
	var da, db []time.Duration
	for i := range a {
		if a[i].status != b[i].status {
			t.Fatalf("%s: sample %d answered %d and %d", what, i, a[i].status, b[i].status)
		}
		da, db = append(da, a[i].took), append(db, b[i].took)
	}
	alike(t, what, da, db)
}

// The lost-receipt page answers alike, in words and time, whether or not a
// request matches: the receipts go out after the answer. Before, a match
// sent them first (10.0 ms against 2.8 ms for no match).
func TestLostReceiptAnswersAlikeInTimeWhetherOrNotARequestMatches(t *testing.T) {
	s := startSystem(t, oracleEnv())
	ips := &addresses{}
	type applied struct{ nationalID, email string }
	var requests []applied
	for i := 0; i < 6; i++ { // an address may ask 3 times an hour: 6 requests give 18 samples
		id := testenv.NationalID()
		code := s.quickRequest(id)
		requests = append(requests, applied{id, code + "@example.org"})
	}
	for _, r := range requests {
		testenv.Mail(t).WaitFor(t, "to:"+r.email, 1, 60*time.Second) // the first receipt: the worker is done with it
	}
	var matched, missing []timing
	var firstPage string
	warm := newApplicant(t, s) // the first answers of a process are slow
	for i := 0; i < 3; i++ {
		warm.get("/lang/en?next=/receipt/lost")
		warm.postAs(ips.next(), "/receipt/lost", map[string]string{"national_id": testenv.NationalID(), "email": email(t)})
	}
	for i := 0; i < 18; i++ {
		r := requests[i/3]
		samples := []struct {
			into              *[]timing
			nationalID, email string
		}{{&matched, r.nationalID, r.email}, {&missing, testenv.NationalID(), fmt.Sprintf("nobody-%d-%s", i, email(t))}}
		for j := range samples {
			sample := samples[(i+j)%2]
			a := newApplicant(t, s)
			a.get("/lang/en?next=/receipt/lost")
			took := a.postAs(ips.next(), "/receipt/lost", map[string]string{"national_id": sample.nationalID, "email": sample.email})
			page := normalisedPage(a.page, sample.email)
			if firstPage == "" {
				firstPage = page
				if a.status != http.StatusOK || !strings.Contains(page, "If a request matches, its receipt has been emailed") {
					t.Fatalf("lost receipt: %d\n%.2000s", a.status, page)
				}
			} else if page != firstPage {
				t.Fatalf("lost receipt: the page differs\n%.3000s", page)
			}
			*sample.into = append(*sample.into, timing{a.status, took})
			time.Sleep(100 * time.Millisecond) // a receipt sent after the answer is not sent during the next sample
		}
	}
	compareTimings(t, "lost receipt, a matching request and none", matched, missing)
	for _, r := range requests {
		testenv.Mail(t).WaitFor(t, "to:"+r.email, 4, 60*time.Second) // the first and three again
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
)

// sessionRows counts the applicants' and the staff sessions stored.
func (s *staffApp) sessionRows() (applicants, staff int) {
	s.t.Helper()
	if err := s.db.QueryRow(s.ctx, "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM staff_sessions)").Scan(&applicants, &staff); err != nil {
		s.t.Fatal(err)
	}
	return applicants, staff
}

var (
	csrfField    = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	captchaField = regexp.MustCompile(`name="captcha_id" value="([^"]+)"`)
)

// cookieOf is the browser's newest cookie of that name ("" if none).
func cookieOf(l *staffLogin, name string) string {
	for _, c := range l.cookies { // newest first
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// proveBooking walks /appointments as a browser: the form, then national
// ID, tracking code and captcha; it answers the POST's response.
func (s *staffApp) proveBooking(v *staffLogin, nationalID string) *http.Response {
	s.t.Helper()
	page := body(s.call(v, http.MethodGet, "/appointments", nil))
	v.csrf = csrfField.FindStringSubmatch(page)[1]
	return s.call(v, http.MethodPost, "/appointments", url.Values{"national_id": {nationalID}, "tracking_code": {s.code},
		"captcha_id": {captchaField.FindStringSubmatch(page)[1]}, "captcha": {testCaptcha}})
}

func withTestCaptcha(c *config.Config) { c.Portal.CaptchaTestAnswer = testCaptcha }

// A visitor who only reads pages, or is shown a form, is stored nowhere:
// before, every cookie-less request to a page inserted a session row (100
// such requests: 100 rows, never deleted). Forms keep their CSRF
// protection through a stateless token bound to the visitor's own cookie.
func TestPageRequestsWithoutACookieCreateNoSession(t *testing.T) {
	s, _ := newStaffAppWith(t, withTestCaptcha)
	applicants, staff := s.sessionRows()
	for _, path := range []string{"/", "/no-such-page", "/static/site.css", "/static/missing.css", "/start", "/signin",
		"/appointments", "/receipt/lost", "/withdraw", "/lang/en?next=/start", "/services", "/profile/identity",
		"/staff/signin", "/staff/", "/staff/no-such-page"} {
		for range 5 {
			if resp := s.call(nil, http.MethodGet, path, nil); resp.StatusCode >= 500 {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
		}
	}

	if a, st := s.sessionRows(); a != applicants || st != staff {
		t.Fatalf("sessions stored after cookie-less page requests: applicants %d → %d, staff %d → %d; want no new row", applicants, a, staff, st)
	}

	// A visitor's form: its token works with the visitor's cookie only.
	visitor, other := &staffLogin{}, &staffLogin{}
	page := body(s.call(visitor, http.MethodGet, "/appointments", nil))
	visitor.csrf = csrfField.FindStringSubmatch(page)[1]
	body(s.call(other, http.MethodGet, "/appointments", nil))
	var seed *http.Cookie
	for _, c := range visitor.cookies {
		if c.Name == "consular_session_csrf" {
			seed = c
		}
	}
	if seed == nil || !seed.HttpOnly || seed.SameSite != http.SameSiteLaxMode || seed.Path != "/" {
		t.Fatalf("the visitor's token cookie: %+v, want HttpOnly, SameSite=Lax, Path=/", seed)
	}
	wrongCaptcha := url.Values{"national_id": {"0013542419"}, "tracking_code": {s.code}, "captcha_id": {"x"}, "captcha": {"00000"}}
	other.csrf = visitor.csrf
	for name, try := range map[string]*staffLogin{
		"no token":                          {cookies: visitor.cookies},
		"the token with another's cookie":   other,
		"the token without its cookie":      {csrf: visitor.csrf},
		"a token not made from that cookie": {cookies: visitor.cookies, csrf: strings.Repeat("A", len(visitor.csrf))},
	} {
		if resp := s.call(try, http.MethodPost, "/appointments", wrongCaptcha); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if resp := s.call(visitor, http.MethodPost, "/appointments", wrongCaptcha); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("the visitor's own form with a wrong captcha: %d, want 422 (past the CSRF check)", resp.StatusCode)
	}
	// The applicants' token cookie presented to the staff sign-in, with its token.
	onStaff := &staffLogin{csrf: visitor.csrf, cookies: []*http.Cookie{{Name: "consular_staff_csrf", Value: seed.Value}}}
	if resp := s.call(onStaff, http.MethodPost, "/staff/signin", url.Values{"email": {"x@mfa.example"}, "password": {"x"}, "totp": {"000000"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an applicant's form token on the staff sign-in: %d, want 403", resp.StatusCode)
	}

	if a, st := s.sessionRows(); a != applicants || st != staff {
		t.Fatalf("sessions stored after visitors' forms were refused: applicants %d → %d, staff %d → %d; want no new row", applicants, a, staff, st)
	}
}

// Proving a booking (national ID, tracking code, captcha) lets the browser
// see and change the request's appointment: the session ID changes, so an
// ID planted or copied before is worthless after, and the session keeps
// the tracking code, not the national ID.
func TestBookingProofRenewsTheSessionID(t *testing.T) {
	s, _ := newStaffAppWith(t, withTestCaptcha)
	v := &staffLogin{}
	if resp := s.proveBooking(v, "0013542419"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/appointments/slots" {
		t.Fatalf("the first proof: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	first := cookieOf(v, "consular_session")
	if resp := s.proveBooking(v, "0013542419"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the second proof: %d", resp.StatusCode)
	}
	second := cookieOf(v, "consular_session")
	if first == "" || first == second {
		t.Fatalf("session ID %q after the first proof, %q after the second: want a new one each time", first, second)
	}
	for id, want := range map[string]int{first: http.StatusSeeOther, second: http.StatusOK} {
		resp := s.call(&staffLogin{cookies: []*http.Cookie{{Name: "consular_session", Value: id}}}, http.MethodGet, "/appointments/slots", nil)
		if resp.StatusCode != want {
			t.Errorf("the slots with session ID %.8s…: %d, want %d", id, resp.StatusCode, want)
		}
	}
	var rows, withID int
	_ = s.db.QueryRow(s.ctx, "SELECT count(*), count(*) FILTER (WHERE data::text LIKE '%0013542419%') FROM sessions").Scan(&rows, &withID)
	if rows != 1 || withID != 0 {
		t.Fatalf("%d session rows (want 1: the old one ended), %d holding the national ID (want 0)", rows, withID)
	}
}

// A session that stays busy still ends at its absolute lifetime: 12 hours
// for applicants, 10 for staff. Before, a session used every few minutes
// lived for ever.
func TestAbsoluteLifetimeEndsABusySession(t *testing.T) {
	s, logins := newStaffAppWith(t, withTestCaptcha)
	officer := logins["officer"]
	s.mustSignIn(officer)
	v := &staffLogin{}
	s.proveBooking(v, "0013542419")
	for _, step := range []struct {
		who      *staffLogin
		path     string
		table    string
		age      string
		want, to string
	}{
		{officer, "/staff/", "staff_sessions", "9 hours 59 minutes", "", ""},
		{v, "/appointments/slots", "sessions", "11 hours 59 minutes", "", ""},
		{officer, "/staff/", "staff_sessions", "10 hours 1 minute", "303", "/staff/signin"},
		{v, "/appointments/slots", "sessions", "12 hours 1 minute", "303", "/appointments"},
	} {
		// Used a moment ago, begun age ago.
		if _, err := s.db.Exec(s.ctx, "UPDATE "+step.table+" SET created_at = now() - $1::interval, seen_at = now()", step.age); err != nil {
			t.Fatal(err)
		}
		resp := s.call(step.who, http.MethodGet, step.path, nil)
		switch {
		case step.want == "" && resp.StatusCode != http.StatusOK:
			t.Errorf("%s after %s: %d, want 200 (still within its lifetime)", step.path, step.age, resp.StatusCode)
		case step.want != "" && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != step.to):
			t.Errorf("%s after %s of use: %d to %q, want the session ended (303 to %s)", step.path, step.age, resp.StatusCode, resp.Header.Get("Location"), step.to)
		}
	}
}

// The daily purge's first activity deletes the sessions that have ended
// (idle or past their lifetime), applicants' and staff; live ones stay.
// Before, no ended session was ever deleted.
func TestPurgeDeletesEndedSessions(t *testing.T) {
	s, logins := newStaffAppWith(t, withTestCaptcha)
	for _, name := range []string{"officer", "supervisor", "admin"} {
		s.mustSignIn(logins[name])
	}
	for range 3 {
		s.proveBooking(&staffLogin{}, "0013542419")
	}
	for _, q := range []string{
		// idle too long: 16 minutes for staff (15), 31 for applicants (30)
		"UPDATE staff_sessions SET seen_at = now() - interval '16 minutes' WHERE staff_id = (SELECT id FROM staff WHERE email = 'officer@mfa.example')",
		"UPDATE sessions SET seen_at = now() - interval '31 minutes' WHERE id_hash = (SELECT id_hash FROM sessions ORDER BY id_hash LIMIT 1)",
		// busy but begun too long ago: 10 and 12 hours
		"UPDATE staff_sessions SET created_at = now() - interval '10 hours 1 minute' WHERE staff_id = (SELECT id FROM staff WHERE email = 'admin@mfa.example')",
		"UPDATE sessions SET created_at = now() - interval '12 hours 1 minute' WHERE id_hash = (SELECT id_hash FROM sessions ORDER BY id_hash DESC LIMIT 1)",
	} {
		if _, err := s.db.Exec(s.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	retention := &activities.Retention{DB: s.db}
	if _, err := retention.Expired(s.ctx, activities.ExpiredInput{Before: time.Now().Add(-100 * 365 * 24 * time.Hour), Limit: 10}); err != nil {
		t.Fatal(err)
	}
	var ended, live, staffEnded, staffLive int
	if err := s.db.QueryRow(s.ctx, `SELECT
		(SELECT count(*) FROM sessions WHERE seen_at < now() - interval '30 minutes' OR created_at < now() - interval '12 hours'),
		(SELECT count(*) FROM sessions),
		(SELECT count(*) FROM staff_sessions WHERE seen_at < now() - interval '15 minutes' OR created_at < now() - interval '10 hours'),
		(SELECT count(*) FROM staff_sessions)`).Scan(&ended, &live, &staffEnded, &staffLive); err != nil {
		t.Fatal(err)
	}
	if ended != 0 || staffEnded != 0 {
		t.Fatalf("after the purge: %d ended applicants' sessions and %d ended staff sessions remain, want none", ended, staffEnded)
	}
	if live != 1 || staffLive != 1 {
		t.Fatalf("after the purge: %d applicants' and %d staff sessions, want the 1 live one of each", live, staffLive)
	}
}

// No session row holds an email or a national ID in clear, after an
// applicant's sign-up, a booking proved on the appointment pages and a
// staff sign-in, each on the real stack.
func TestNoSessionHoldsAnEmailOrNationalID(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	ctx := context.Background()

	applicantID := testenv.NationalID()
	a := newApplicant(t, s)
	a.signUp(applicantID)

	bookerID := testenv.NationalID()
	code := s.quickRequest(bookerID)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	b := newApplicant(t, s)
	b.get("/lang/en?next=/appointments")
	b.post("/appointments", map[string]string{"national_id": bookerID, "tracking_code": code})
	b.want(200, code) // followed to the slots page

	var out bytes.Buffer
	if err := addStaff(ctx, &out, s.db, testenv.Config(t).Keys.TOTP, []string{"add", "--email", "officer-" + code + "@mfa.example", "--role", "officer", "--mission", "AT-VIE"}); err != nil {
		t.Fatal(err)
	}
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1]
	secret := regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]
	officer := newApplicant(t, s)
	officer.get("/staff/signin")
	otp, _ := totp.GenerateCode(secret, time.Now())
	officer.post("/staff/signin", map[string]string{"email": "officer-" + code + "@mfa.example", "password": password, "totp": otp})
	officer.want(200)
	if u, _ := url.Parse(s.url); !hasCookie(officer, u, "consular_staff") {
		t.Fatal("the officer has no staff session")
	}

	rows, err := s.db.Query(ctx, "SELECT 'sessions', data::text FROM sessions UNION ALL SELECT 'staff_sessions', data::text FROM staff_sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	emailLike := regexp.MustCompile(`[^\s"@]+@[^\s"@]+\.[A-Za-z]{2,}`)
	tenDigits := regexp.MustCompile(`\d{10}`)
	counted := map[string]int{}
	var found []string
	for rows.Next() {
		var table, data string
		if err := rows.Scan(&table, &data); err != nil {
			t.Fatal(err)
		}
		counted[table]++
		var values map[string]string
		_ = json.Unmarshal([]byte(data), &values)
		for k, v := range values {
			v = consular.NormalizeDigits(v)
			if emailLike.MatchString(v) || tenDigits.MatchString(v) {
				found = append(found, table+"."+k)
			}
		}
		if d := consular.NormalizeDigits(data); emailLike.MatchString(d) || tenDigits.MatchString(d) || strings.Contains(d, a.email) {
			found = append(found, table+" (row)")
		}
	}
	if counted["sessions"] < 2 || counted["staff_sessions"] < 1 {
		t.Fatalf("scanned %v: want the applicant's and the booking's sessions and the officer's", counted)
	}
	if len(found) > 0 {
		sort.Strings(found)
		t.Fatalf("session data in clear: an email or a national ID under %v", found)
	}
	// Nor do the rate limits that the sign-up counted per address.
	var limits []string
	rows, err = s.db.Query(ctx, "SELECT key FROM rate_limits WHERE key LIKE '%@%'")
	if err == nil {
		limits, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(limits) > 0 {
		t.Fatalf("rate limits named by an email in clear: %v (%v)", limits, err)
	}
}

func hasCookie(a *applicant, u *url.URL, name string) bool {
	for _, c := range a.client.Jar.Cookies(u) {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
)

// staffApp is the API in-process on a database of its own, with a request
// at AT-VIE and staff of AT-VIE, FR-PAR and an admin.
type staffApp struct {
	t    *testing.T
	app  *fiber.App
	code string
	ctx  context.Context
	db   *pgxpool.Pool
	// headers go with every call (e.g. X-Forwarded-For from an ingress).
	headers map[string]string
}

type staffLogin struct {
	email, password, secret string
	cookies                 []*http.Cookie
	csrf                    string
	signIns                 int // a TOTP code works once: each sign-in takes the next one
}

func newStaffApp(t *testing.T) (*staffApp, map[string]*staffLogin) {
	return newStaffAppWith(t, func(*config.Config) {})
}

// newStaffAppWith is newStaffApp on a configuration changed by configure.
func newStaffAppWith(t *testing.T, configure func(*config.Config)) (*staffApp, map[string]*staffLogin) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	db, url := testenv.Database(t)
	cfg.Database.URL = url
	configure(&cfg)
	app, _ := inProcess(t, cfg, nil)
	c, _ := consular.NewTrackingCode()
	code := string(c)
	now := time.Now().UTC()
	for _, q := range []string{
		`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, 'apostille', 'AT-VIE', now())`,
		`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language) VALUES ($1, '0013542419', 'a@example.org', 'Sara Ahmadi', 'fa')`,
	} {
		if _, err := db.Exec(ctx, q, code); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, version)
		VALUES ($1, 'awaiting_appointment', 'apostille', 'AT-VIE', $2, $3, 1)`, code, now, now.Add(90*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	logins := map[string]*staffLogin{}
	for name, args := range map[string][]string{
		"officer":         {"--role", "officer", "--mission", "AT-VIE"},
		"supervisor":      {"--role", "supervisor", "--mission", "AT-VIE"},
		"admin":           {"--role", "admin"},
		"foreign officer": {"--role", "officer", "--mission", "FR-PAR"},
	} {
		var out bytes.Buffer
		email := strings.ReplaceAll(name, " ", "-") + "@mfa.example"
		if err := addStaff(ctx, &out, db, cfg.Keys.TOTP, append([]string{"add", "--email", email}, args...)); err != nil {
			t.Fatal(err)
		}
		l := &staffLogin{email: email,
			password: regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1],
			secret:   regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]}
		logins[name] = l
	}
	return &staffApp{t: t, app: app, code: code, ctx: ctx, db: db}, logins
}

// call sends one request with the login's cookies, keeping new ones.
func (s *staffApp) call(l *staffLogin, method, path string, form url.Values) *http.Response {
	s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if l != nil && method != http.MethodGet {
		form.Set("_csrf", l.csrf)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	if l != nil {
		for _, c := range l.cookies {
			req.AddCookie(c)
		}
	}
	resp, err := s.app.Test(req, 30_000)
	if err != nil {
		s.t.Fatal(err)
	}
	if l != nil {
		for _, c := range resp.Cookies() {
			l.cookies = append([]*http.Cookie{c}, l.cookies...)
		}
	}
	return resp
}

func body(r *http.Response) string {
	var b bytes.Buffer
	_, _ = b.ReadFrom(r.Body)
	return b.String()
}

// signIn signs a staff member in with password and TOTP code.
func (s *staffApp) signIn(l *staffLogin, password, code string) *http.Response {
	s.t.Helper()
	page := body(s.call(l, http.MethodGet, "/staff/signin", nil))
	l.csrf = regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	resp := s.call(l, http.MethodPost, "/staff/signin", url.Values{"email": {l.email}, "password": {password}, "totp": {code}})
	if resp.StatusCode == http.StatusSeeOther {
		page := body(s.call(l, http.MethodGet, "/staff/", nil))
		if m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
			l.csrf = m[1]
		}
	}
	return resp
}

func (s *staffApp) mustSignIn(l *staffLogin) {
	s.t.Helper()
	code, _ := totp.GenerateCode(l.secret, time.Now().Add(time.Duration(l.signIns)*30*time.Second))
	l.signIns++
	if resp := s.signIn(l, l.password, code); resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("%s could not sign in: %d", l.email, resp.StatusCode)
	}
}

// Every staff page and action, for every role and for a foreign mission's
// officer. A route added under /staff without a row here fails the test.
func TestStaffAuthorizationMatrix(t *testing.T) {
	s, logins := newStaffApp(t)
	for _, l := range logins {
		s.mustSignIn(l)
	}
	req := "/staff/requests/" + s.code
	ok := map[string]bool{"officer": true, "supervisor": true, "admin": true, "foreign officer": true}
	own := map[string]bool{"officer": true, "supervisor": true, "admin": true}
	overseers := map[string]bool{"supervisor": true, "admin": true}
	var officerID, foreignID int64
	_ = s.db.QueryRow(s.ctx, "SELECT id FROM staff WHERE email = 'officer@mfa.example'").Scan(&officerID)
	_ = s.db.QueryRow(s.ctx, "SELECT id FROM staff WHERE email = 'foreign-officer@mfa.example'").Scan(&foreignID)
	adminOnly := map[string]bool{"admin": true}
	// Revoking asks first: the matrix's post (not confirmed) revokes nothing.
	client, _, err := apiclients.Create(s.ctx, s.db, apiclients.Spec{Name: "kiosk", Missions: []string{"AT-VIE"}, PerHour: 10})
	if err != nil {
		t.Fatal(err)
	}
	closure := func() string { // a fresh closure of AT-VIE for each attempt to remove one
		var id int64
		if err := s.db.QueryRow(s.ctx, "INSERT INTO closures (mission_code, day, reason) VALUES ('AT-VIE', '2030-01-01', 'x') RETURNING id").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("/staff/schedule/closures/%d/delete?mission=AT-VIE", id)
	}
	s.putDocument(s.code, "passport", "passport.jpg", "jpeg", testenv.JPEG(t))
	matrix := []struct {
		method, route, path string
		allowed             map[string]bool
		fresh               func() string // a path made anew for each call
	}{
		{"GET", "/staff/", "/staff/", ok, nil},
		{"GET", "/staff/today", "/staff/today", ok, nil},
		{"GET", "/staff/requests/:code", req, own, nil},
		{"GET", "/staff/requests/:code/documents/:kind", req + "/documents/passport", own, nil},
		{"POST", "/staff/requests/:code/:action", req + "/attendance", own, nil},
		{"POST", "/staff/requests/:code/:action", req + "/no-show", own, nil},
		{"POST", "/staff/requests/:code/:action", req + "/decision", own, nil},
		{"POST", "/staff/requests/:code/:action", req + "/extension", own, nil},
		{"POST", "/staff/requests/:code/:action", req + "/note", own, nil},
		{"POST", "/staff/requests/:code/:action", req + "/confirm", overseers, nil},
		{"POST", "/staff/requests/:code/corrections", req + "/corrections", own, nil},
		{"GET", "/staff/audit", "/staff/audit", overseers, nil},
		{"GET", "/staff/members", "/staff/members", overseers, nil},
		{"POST", "/staff/members", "/staff/members", overseers, nil},
		{"POST", "/staff/members/:id/:change", fmt.Sprintf("/staff/members/%d/unlock", officerID), overseers, nil},
		{"POST", "/staff/members/:id/:change", fmt.Sprintf("/staff/members/%d/unlock", foreignID), adminOnly, nil},
		{"GET", "/staff/clients", "/staff/clients", adminOnly, nil},
		{"POST", "/staff/clients", "/staff/clients", adminOnly, nil},
		{"POST", "/staff/clients/:id/revoke", fmt.Sprintf("/staff/clients/%d/revoke", client.ID), adminOnly, nil},
		{"GET", "/staff/identity", "/staff/identity", ok, nil},
		{"POST", "/staff/identity", "/staff/identity", ok, nil},
		{"GET", "/staff/schedule", "/staff/schedule?mission=AT-VIE", overseers, nil},
		{"POST", "/staff/schedule", "/staff/schedule?mission=AT-VIE", overseers, nil},
		{"POST", "/staff/schedule/closures", "/staff/schedule/closures?mission=AT-VIE", overseers, nil},
		{"POST", "/staff/schedule/closures/:id/delete", "", overseers, closure},
	}
	for _, row := range matrix {
		for who, l := range logins {
			path := row.path
			if row.fresh != nil {
				path = row.fresh()
			}
			resp := s.call(l, row.method, path, url.Values{"decision": {"approved"}, "days": {"10"}, "reason": {"r"}, "note": {"n"}})
			denied := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound
			if row.allowed[who] == denied {
				t.Errorf("%s %s as %s: %d (allowed: %v)", row.method, path, who, resp.StatusCode, row.allowed[who])
			}
		}
		path := row.path
		if row.fresh != nil {
			path = row.fresh()
		}
		if resp := s.call(nil, row.method, path, nil); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s without signing in: %d, want a redirect to sign in (or 403 for a form)", row.method, row.path, resp.StatusCode)
		}
	}
	// The matrix covers every staff route.
	// Public: signing in and out, and accepting an invitation (the link is the key).
	covered := map[string]bool{"GET /staff/signin": true, "POST /staff/signin": true, "POST /staff/signout": true,
		"GET /staff/enrol/:token": true, "POST /staff/enrol/:token": true}
	for _, row := range matrix {
		covered[row.method+" "+row.route] = true
	}
	var missing []string
	for _, r := range s.app.GetRoutes(true) {
		key := r.Method + " " + r.Path
		if strings.HasPrefix(r.Path, "/staff") && r.Method != "HEAD" && !covered[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("staff routes without a row in the authorization matrix: %v", missing)
	}
	// The foreign officer's queue does not list the other mission's request.
	if page := body(s.call(logins["foreign officer"], "GET", "/staff/", nil)); strings.Contains(page, s.code) {
		t.Fatal("another mission's request shows in the queue")
	}
	if page := body(s.call(logins["officer"], "GET", "/staff/?code="+s.code, nil)); !strings.Contains(page, s.code) {
		t.Fatal("the mission's own request is not found by tracking code")
	}
}

func TestStaffSignInNeedsTOTPAndLocksAfterFailures(t *testing.T) {
	s, logins := newStaffApp(t)
	l := logins["officer"]
	if resp := s.signIn(l, l.password, "000000"); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a wrong TOTP code: %d, want 422", resp.StatusCode)
	}
	for i := 0; i < 4; i++ {
		s.signIn(l, "wrong password", "000000")
	}
	code, _ := totp.GenerateCode(l.secret, time.Now())
	resp := s.signIn(l, l.password, code)
	// Locked, the account answers as a wrong password does: nobody learns it exists.
	if page := body(resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "ایمیل، رمز عبور یا کد تأیید درست نیست") {
		t.Fatalf("after 5 failures the right password and code: %d, want refused as a wrong password", resp.StatusCode)
	}
	// Another member signs in; the same code does not open a second session.
	other := logins["supervisor"]
	code, _ = totp.GenerateCode(other.secret, time.Now())
	if resp := s.signIn(other, other.password, code); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	if resp := s.signIn(&staffLogin{email: other.email}, other.password, code); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("the same TOTP code a second time: %d, want 422", resp.StatusCode)
	}
	// An applicant's session cookie opens nothing here.
	applicant := &staffLogin{}
	for _, c := range other.cookies {
		if c.Name == "consular_staff" {
			applicant.cookies = append(applicant.cookies, &http.Cookie{Name: "consular_session", Value: c.Value})
		}
	}
	if resp := s.call(applicant, "GET", "/staff/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a staff session ID presented as an applicant's cookie: %d, want a redirect to sign in", resp.StatusCode)
	}
}

// The audit log refuses changes in the database itself, whoever asks.
func TestAuditLogIsAppendOnly(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO audit_log (staff_email, role, action, source_ip, outcome) VALUES ('x@mfa.example', 'officer', 'sign_in', '127.0.0.1', 'ok')`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE audit_log SET outcome = 'failed'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		if _, err := db.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", q, err)
		}
	}
}

// An officer records the visit and approves; the applicant hears by email.
func TestOfficerRecordsAttendanceAndApproves(t *testing.T) {
	s := startSystem(t, nil)
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	if status, out := s.appointmentCall("POST", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": nextWeekday10(t)}); status != 200 {
		t.Fatalf("book: %d %v", status, out)
	}
	var out bytes.Buffer
	if err := addStaff(context.Background(), &out, s.db, testenv.Config(t).Keys.TOTP, []string{"add", "--email", "officer@mfa.example", "--role", "officer", "--mission", "AT-VIE"}); err != nil {
		t.Fatal(err)
	}
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1]
	secret := regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]

	a := newApplicant(t, s) // a browser without JavaScript, for the officer
	a.get("/staff/signin")
	otp, _ := totp.GenerateCode(secret, time.Now())
	a.post("/staff/signin", map[string]string{"email": "officer@mfa.example", "password": password, "totp": otp})
	a.want(200, code) // the queue lists the request
	a.get("/staff/requests/" + code)
	a.want(200, "Sara Ahmadi", id)
	a.post("/staff/requests/"+code+"/attendance", map[string]string{"_action_id": "a0"})
	a.want(200, "confirm-action") // asked to confirm first; nothing sent yet
	a.post("/staff/requests/"+code+"/decision", map[string]string{"decision": "approved", "_action_id": "d1", "confirmed": "yes"})
	a.want(409) // not attended yet: the workflow says why
	a.post("/staff/requests/"+code+"/attendance", map[string]string{"_action_id": "a1", "confirmed": "yes"})
	a.want(200)
	s.waitStatus(code, "attended", 10*time.Second)
	a.post("/staff/requests/"+code+"/decision", map[string]string{"decision": "approved", "_action_id": "d2", "confirmed": "yes"})
	a.want(200)
	s.waitStatus(code, "approved", 10*time.Second)
	mails := testenv.Mail(t).WaitFor(t, "to:"+code+"@example.org", 3, 20*time.Second)
	if last := mails[len(mails)-1]; !strings.Contains(last.Subject, "Outcome") || !strings.Contains(last.Text, "approved") {
		t.Fatalf("the applicant's last email: %q", last.Subject)
	}
	var actions int
	_ = s.db.QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE tracking_code = $1 AND action IN ('record_attendance', 'decide')", code).Scan(&actions)
	if actions != 3 { // the refused decision, the attendance, the approval
		t.Fatalf("%d audited actions, want 3", actions)
	}
}

// A staff member's API token acts on their mission's requests only.
func TestStaffAPITokensAreScopedToTheirMission(t *testing.T) {
	s, _ := newStaffApp(t)
	var out bytes.Buffer
	token := func(email string) string {
		out.Reset()
		if err := staffToken(s.ctx, &out, s.db, []string{"--email", email}); err != nil {
			t.Fatal(err)
		}
		return regexp.MustCompile(`\): (\S+)`).FindStringSubmatch(out.String())[1]
	}
	call := func(tok string) int {
		req := httptest.NewRequest("GET", "/api/v1/requests/"+s.code, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.app.Test(req, 15_000)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if got := call(token("foreign-officer@mfa.example")); got != http.StatusNotFound {
		t.Fatalf("another mission's officer: %d, want 404", got)
	}
	if got := call("not-a-token"); got != http.StatusUnauthorized {
		t.Fatalf("a made-up token: %d, want 401", got)
	}
	// The own mission's officer gets past authorisation (the request has no
	// workflow in this test, so the answer is the projection's 409).
	if got := call(token("officer@mfa.example")); got == http.StatusUnauthorized || got == http.StatusNotFound {
		t.Fatalf("the mission's own officer: %d", got)
	}
}

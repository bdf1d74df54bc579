package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/testenv"
)

// workflowsOn counts the workflows on the system's task queue, waiting a
// little for visibility to catch up when want is more than none.
func (s *system) workflowsOn(want int) int {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("TaskQueue = '%s'", s.queue)})
		if err != nil {
			s.t.Fatal(err)
		}
		if n := len(resp.Executions); n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *system) count(query string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// An anonymous submission, or one with a token nobody issued, is refused
// before its body is read, and nothing happens: no request saved, no
// document stored, no workflow, no mail (the API used to accept 200 of 200
// and mail 201 receipts to addresses nobody had proven).
func TestAnonymousSubmissionIsRefusedAndNothingHappens(t *testing.T) {
	s := startSystem(t, nil)
	anonymous := email(t)
	f := drivingLicenceInquiry(t, anonymous)
	for i, token := range []string{"", "not-a-token"} {
		status, body := s.do(f.request(s.url+"/api/v1/requests", fmt.Sprintf("anonymous-%d", i), token))
		if status != http.StatusUnauthorized || !strings.Contains(string(body), "message_fa") {
			t.Fatalf("token %q: %d %s, want 401 in English and Persian", token, status, body)
		}
	}
	req := f.request(s.url+"/api/v1/requests", "anonymous-2", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("a 401 without WWW-Authenticate")
	}
	// Not even parsed: a body that is not multipart is a 400 for a client, a 401 for nobody.
	junk, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/requests", strings.NewReader("junk"))
	junk.Header.Set("Idempotency-Key", "junk")
	if status, _ := s.do(junk); status != http.StatusUnauthorized {
		t.Fatalf("anonymous junk: %d, want 401", status)
	}
	if n := s.count("SELECT count(*) FROM submissions"); n != 0 {
		t.Fatalf("%d submissions saved", n)
	}
	if left := s.objectsOf(""); len(left) != 0 {
		t.Fatalf("anonymous submissions stored %v", left)
	}
	// A client's submission next: its workflow and its receipt show the
	// checks below would have seen the anonymous ones.
	control := email(t)
	s.mustSubmit(drivingLicenceInquiry(t, control))
	if n := s.workflowsOn(1); n != 1 {
		t.Fatalf("%d workflows on the task queue, want only the client's", n)
	}
	testenv.Mail(t).WaitFor(t, "to:"+control, 1, 60*time.Second)
	if got := testenv.Mail(t).Search(t, "to:"+anonymous); len(got) != 0 {
		t.Fatalf("%d emails went to the anonymous submitter's address", len(got))
	}
}

type fieldProblems struct {
	Fields []struct {
		Field, Reason, Message string
		Fa                     string `json:"message_fa"`
	}
}

// A client cannot skip what the portal's form asks: a driving-licence
// inquiry without the licence number, or with a question the service does
// not ask, is a 422 naming each field, and nothing is stored.
func TestClientSubmissionWithoutTheServicesFieldsNamesThem(t *testing.T) {
	s := startSystem(t, nil)
	f := drivingLicenceInquiry(t, email(t))
	delete(f.fields, "field.licence_number")
	f.fields["field.colour"] = "red"
	status, body := s.submit(f, "no-licence-number")
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d: %s", status, body)
	}
	var invalid fieldProblems
	if err := json.Unmarshal(body, &invalid); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range invalid.Fields {
		got[p.Field] = p.Reason
		if p.Message == "" || p.Fa == "" {
			t.Errorf("%s: no message in English and Persian: %+v", p.Field, p)
		}
	}
	if len(got) != 2 || got["field.licence_number"] != "required" || got["field.colour"] != "unexpected" {
		t.Fatalf("problems %v, want field.licence_number required and field.colour unexpected", got)
	}
	f = drivingLicenceInquiry(t, email(t))
	f.fields["field.licence_number"] = "AB-12"
	if status, body := s.submit(f, "bad-licence-number"); status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"reason":"pattern"`) {
		t.Fatalf("a licence number not in its pattern: %d %s", status, body)
	}
	if n := s.count("SELECT count(*) FROM submissions"); n != 0 {
		t.Fatalf("%d submissions saved", n)
	}
	if left := s.objectsOf(""); len(left) != 0 {
		t.Fatalf("refused submissions left %v in storage", left)
	}
	if n := s.count("SELECT count(*) FROM audit_log WHERE role = 'api_client' AND action = 'submit' AND outcome = 'refused'"); n != 2 {
		t.Fatalf("%d refused submissions audited, want 2", n)
	}
}

// An Idempotency-Key belongs to its caller: another client sending the same
// key gets a request of its own, never the first one's tracking code and
// receipt link; each client's retry still finds its own.
func TestTwoCallersWithTheSameIdempotencyKeyGetTwoRequests(t *testing.T) {
	s := startSystem(t, nil)
	other := testenv.APIClient(t, s.db, "AT-VIE")
	key := "order-1"
	answer := func(token string, want int) submitted {
		t.Helper()
		status, body := s.do(drivingLicenceInquiry(t, email(t)).request(s.url+"/api/v1/requests", key, token))
		if status != want {
			t.Fatalf("%d %s, want %d", status, body, want)
		}
		var out submitted
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first, second := answer(s.client, http.StatusCreated), answer(other, http.StatusCreated)
	if first.TrackingCode == second.TrackingCode || first.ReceiptURL == second.ReceiptURL {
		t.Fatalf("two callers' key %q gave the same request %s", key, first.TrackingCode)
	}
	if again := answer(s.client, http.StatusOK); again.TrackingCode != first.TrackingCode {
		t.Fatalf("the first caller's retry: %s, want %s", again.TrackingCode, first.TrackingCode)
	}
	if again := answer(other, http.StatusOK); again.TrackingCode != second.TrackingCode {
		t.Fatalf("the second caller's retry: %s, want %s", again.TrackingCode, second.TrackingCode)
	}
	if n := s.count("SELECT count(*) FROM submissions WHERE idempotency_key = $1", key); n != 2 {
		t.Fatalf("%d submissions with the key, want 2", n)
	}
	// Each submission is audited under its client.
	if n := s.count(`SELECT count(DISTINCT api_client_id) FROM audit_log WHERE role = 'api_client' AND action = 'submit'
		AND outcome = 'ok' AND tracking_code = ANY($1)`, []string{first.TrackingCode, second.TrackingCode}); n != 2 {
		t.Fatalf("the two submissions are audited under %d clients, want 2", n)
	}
}

// A revoked token stops at once; a client over its hourly rate is told when
// to come back; a client submits to its own missions only.
func TestClientsAreRevocableRateLimitedAndScoped(t *testing.T) {
	s := startSystem(t, nil)
	ctx := context.Background()
	kiosk, token, err := apiclients.Create(ctx, s.db, apiclients.Spec{Name: "kiosk, Vienna", Missions: []string{"AT-VIE"}, PerHour: 2})
	if err != nil {
		t.Fatal(err)
	}
	post := func(f form, key, token string) (*http.Response, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(f.request(s.url+"/api/v1/requests", key, token))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}

	paris := drivingLicenceInquiry(t, email(t))
	paris.fields["mission"] = "FR-PAR"
	if resp, body := post(paris, "paris", token); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "FR-PAR") {
		t.Fatalf("another mission: %d %s, want 403 naming it", resp.StatusCode, body)
	}
	if n := s.count("SELECT count(*) FROM submissions"); n != 0 {
		t.Fatalf("%d submissions saved for a mission out of scope", n)
	}
	if left := s.objectsOf(""); len(left) != 0 {
		t.Fatalf("an out-of-scope submission left %v in storage", left)
	}

	if resp, body := post(drivingLicenceInquiry(t, email(t)), "vienna", token); resp.StatusCode != http.StatusCreated {
		t.Fatalf("own mission: %d %s", resp.StatusCode, body)
	}
	resp, body := post(drivingLicenceInquiry(t, email(t)), "vienna-2", token) // the third call this hour
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the rate: %d %s, want 429", resp.StatusCode, body)
	}
	if wait, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || wait < 1 || wait > 3600 {
		t.Fatalf("Retry-After %q, want the seconds to the next hour", resp.Header.Get("Retry-After"))
	}

	if _, err := apiclients.Revoke(ctx, s.db, kiosk.ID); err != nil {
		t.Fatal(err)
	}
	if resp, body := post(drivingLicenceInquiry(t, email(t)), "after-revoke", token); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d %s, want 401", resp.StatusCode, body)
	}
	if n := s.count("SELECT count(*) FROM submissions"); n != 1 {
		t.Fatalf("%d submissions saved, want the one within scope and rate", n)
	}
	var outcomes []string
	rows, err := s.db.Query(ctx, "SELECT outcome || ' ' || detail FROM audit_log WHERE api_client_id = $1 ORDER BY id", kiosk.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var o string
		_ = rows.Scan(&o)
		outcomes = append(outcomes, o)
	}
	if strings.Join(outcomes, "; ") != "refused mission outside the client's scope; ok created; refused rate: over 2 an hour" {
		t.Fatalf("audited %q", outcomes)
	}
}

// An admin registers a client in the dashboard and sees its token once,
// then revokes it after confirming; both are audited, and only admins can.
func TestAdminRegistersAndRevokesAnAPIClient(t *testing.T) {
	s, logins := newStaffApp(t)
	admin, supervisor := logins["admin"], logins["supervisor"]
	s.mustSignIn(admin)
	s.mustSignIn(supervisor)
	if resp := s.call(supervisor, "GET", "/staff/clients", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a supervisor opening the clients page: %d, want 403", resp.StatusCode)
	}
	resp := s.call(admin, "POST", "/staff/clients", url.Values{"client_name": {"kiosk"}, "per_hour": {"0"}})
	if page := body(resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `value="kiosk"`) {
		t.Fatalf("no mission and no rate: %d, want 422 keeping what was typed", resp.StatusCode)
	}
	resp = s.call(admin, "POST", "/staff/clients", url.Values{"client_name": {"kiosk, Vienna hall"}, "per_hour": {"30"}, "missions": {"AT-VIE", "DE-BER"}})
	page := body(resp)
	m := regexp.MustCompile(`<code class="ltr" dir="ltr">([A-Za-z0-9_-]{43})</code>`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusCreated || m == nil {
		t.Fatalf("create: %d, no token on the page", resp.StatusCode)
	}
	client, err := apiclients.Authenticate(s.ctx, s.db, m[1])
	if err != nil {
		t.Fatalf("the token shown does not authenticate: %v", err)
	}
	if client.Name != "kiosk, Vienna hall" || client.PerHour != 30 || strings.Join(client.Missions, ",") != "AT-VIE,DE-BER" || client.CreatedBy != admin.email {
		t.Fatalf("registered %+v", client)
	}
	if page := body(s.call(admin, "GET", "/staff/clients", nil)); strings.Contains(page, m[1]) || !strings.Contains(page, "kiosk, Vienna hall") {
		t.Fatal("the list shows the token again, or not the client")
	}
	revoke := fmt.Sprintf("/staff/clients/%d/revoke", client.ID)
	if resp := s.call(admin, "POST", revoke, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body(resp), `name="confirmed" value="yes"`) {
		t.Fatalf("revoke without confirming: %d, want the confirmation page", resp.StatusCode)
	}
	if _, err := apiclients.Authenticate(s.ctx, s.db, m[1]); err != nil {
		t.Fatal("revoked before the admin confirmed")
	}
	if resp := s.call(admin, "POST", revoke, url.Values{"confirmed": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := apiclients.Authenticate(s.ctx, s.db, m[1]); err != apiclients.ErrUnknownToken {
		t.Fatalf("the revoked token: %v, want refused", err)
	}
	for _, gone := range []string{revoke, "/staff/clients/999999/revoke"} { // revoked already, never existed
		if resp := s.call(admin, "POST", gone, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", gone, resp.StatusCode)
		}
	}
	var n int
	_ = s.db.QueryRow(s.ctx, `SELECT count(*) FROM audit_log WHERE staff_email = $1 AND action IN ('api_client_add', 'api_client_revoke')
		AND detail LIKE 'kiosk, Vienna hall%'`, admin.email).Scan(&n)
	if n != 2 {
		t.Fatalf("%d audit lines for adding and revoking, want 2", n)
	}
}

// `api clients add` prints the token once; list and revoke work by ID.
func TestClientsCommandAddsListsAndRevokes(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := clients(ctx, &out, db, []string{"add", "--name", "kiosk", "--missions", "AT-VIE,nope"}); err == nil {
		t.Fatal("an unknown mission accepted")
	}
	if err := clients(ctx, &out, db, []string{"add", "--name", "kiosk", "--missions", "at-vie, FR-PAR", "--per-hour", "5"}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`token \(shown once\): (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no token in %q", out.String())
	}
	c, err := apiclients.Authenticate(ctx, db, m[1])
	if err != nil || strings.Join(c.Missions, ",") != "AT-VIE,FR-PAR" || c.PerHour != 5 {
		t.Fatalf("registered %+v, %v", c, err)
	}
	out.Reset()
	if err := clients(ctx, &out, db, []string{"list"}); err != nil || !strings.Contains(out.String(), "AT-VIE,FR-PAR") || strings.Contains(out.String(), m[1]) {
		t.Fatalf("list: %v %q", err, out.String())
	}
	if err := clients(ctx, &out, db, []string{"revoke", "--id", strconv.FormatInt(c.ID, 10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := apiclients.Authenticate(ctx, db, m[1]); err != apiclients.ErrUnknownToken {
		t.Fatalf("revoked token: %v", err)
	}
	var n int
	_ = db.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE role = 'operator' AND action IN ('api_client_add', 'api_client_revoke')").Scan(&n)
	if n != 2 {
		t.Fatalf("%d audit lines, want 2", n)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/totpsecret"
	"github.com/openconsular/consular/workflows/request"
)

// staffMember adds a staff member and gives back their ID and an API token.
func staffMember(t *testing.T, sys *system, email string, args ...string) (int64, string) {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	if err := addStaff(ctx, &out, sys.db, testenv.Config(t).Keys.TOTP, append([]string{"add", "--email", email}, args...)); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := staffToken(ctx, &out, sys.db, []string{"--email", email}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := sys.db.QueryRow(ctx, "SELECT id FROM staff WHERE email = $1", email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id, regexp.MustCompile(`\): (\S+)`).FindStringSubmatch(out.String())[1]
}

// staffCall sends a JSON staff call with a member's token.
func (s *system) staffCall(token, method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	code, out := s.do(req)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return code, m
}

// auditLines are a request's audit lines as "staffID action outcome".
func (s *system) auditLines(code string) []string {
	s.t.Helper()
	rows, err := s.db.Query(context.Background(), "SELECT COALESCE(staff_id, 0), action, outcome FROM audit_log WHERE tracking_code = $1 ORDER BY id", code)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id int64
		var action, outcome string
		if err := rows.Scan(&id, &action, &outcome); err != nil {
			s.t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%d %s %s", id, action, outcome))
	}
	return lines
}

// staffIDsInHistory are the StaffIDs the workflow received with an update,
// decoded from its history with the payload keys.
func (s *system) staffIDsInHistory(code, update string) []string {
	s.t.Helper()
	payloads, err := codec.New(testenv.Config(s.t).Keys.Payload)
	if err != nil {
		s.t.Fatal(err)
	}
	converter := payloads.DataConverter()
	var ids []string
	it := s.temporal.GetWorkflowHistory(context.Background(), code, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		in := e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput()
		if in.GetName() != update {
			continue
		}
		var staffInput struct{ StaffID string }
		if err := converter.FromPayloads(in.GetArgs(), &staffInput); err != nil {
			s.t.Fatal(err)
		}
		ids = append(ids, staffInput.StaffID)
	}
	return ids
}

// An officer's own token with another member's staff_id in the body acts as
// the officer: the workflow and the audit log name the token's owner. The
// officer's rejection waits for a supervisor (the workflow would refuse the
// supervisor's confirmation had it recorded the supervisor as proposer); the
// officer can neither confirm nor withdraw (403), a supervisor can; every
// call, allowed or refused, has its audit line.
func TestStaffAPIActsAsTheTokensOwnerUnderTheRolePolicy(t *testing.T) {
	s := startSystem(t, nil)
	officer, officerToken := staffMember(t, s, "officer@mfa.example", "--role", "officer", "--mission", "AT-VIE")
	supervisor, supervisorToken := staffMember(t, s, "supervisor@mfa.example", "--role", "supervisor", "--mission", "AT-VIE")
	applicant := testenv.NationalID()
	code := s.quickRequest(applicant)
	other := s.quickRequest(testenv.NationalID())
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	s.waitStatus(other, "awaiting_appointment", 30*time.Second)
	pretend := map[string]any{"staff_id": strconv.FormatInt(supervisor, 10)}
	path := "/api/v1/requests/" + code

	at := s.freeSlots(applicant, code)[0]
	if status, out := s.staffCall(officerToken, "POST", path+"/appointment", map[string]any{"at": at, "staff_id": "999"}); status != 200 {
		t.Fatalf("booking: %d %v", status, out)
	}
	if status, out := s.staffCall(officerToken, "POST", path+"/attendance", pretend); status != 200 || out["Status"] != "attended" {
		t.Fatalf("attendance: %d %v", status, out)
	}
	if ids := s.staffIDsInHistory(code, request.UpdateRecordAttendance); len(ids) != 1 || ids[0] != strconv.FormatInt(officer, 10) {
		t.Fatalf("the workflow recorded attendance by %v, want the token's owner %d", ids, officer)
	}
	rejection := map[string]any{"decision": "rejected", "reason": "documents_invalid", "staff_id": strconv.FormatInt(supervisor, 10)}
	if status, out := s.staffCall(officerToken, "POST", path+"/decision", rejection); status != 200 || out["Status"] != "attended" || out["Proposed"] != "rejected" {
		t.Fatalf("an officer's rejection: %d %v, want a proposal waiting for a supervisor", status, out)
	}
	if status, out := s.staffCall(officerToken, "POST", path+"/decision/confirmation", pretend); status != http.StatusForbidden {
		t.Fatalf("the officer confirms: %d %v, want 403", status, out)
	}
	if status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+other+"/withdrawal", nil); status != http.StatusForbidden {
		t.Fatalf("the officer withdraws: %d %v, want 403", status, out)
	}
	if status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+other+"/no-show", nil); status != http.StatusConflict {
		t.Fatalf("a no-show without an appointment: %d %v, want the workflow's 409", status, out)
	}
	if status, out := s.staffCall(supervisorToken, "POST", path+"/decision/confirmation", nil); status != 200 || out["Status"] != "rejected" {
		t.Fatalf("the supervisor confirms: %d %v", status, out)
	}
	if status, out := s.staffCall(supervisorToken, "POST", "/api/v1/requests/"+other+"/withdrawal", nil); status != 200 || out["Status"] != "withdrawn" {
		t.Fatalf("the supervisor withdraws: %d %v", status, out)
	}

	o, v := strconv.FormatInt(officer, 10), strconv.FormatInt(supervisor, 10)
	want := []string{o + " book_appointment ok", o + " record_attendance ok", o + " decide ok", o + " confirm_decision refused", v + " confirm_decision ok"}
	if got := s.auditLines(code); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit lines of %s:\n%s\nwant:\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	want = []string{o + " withdraw refused", o + " mark_no_show refused", v + " withdraw ok"}
	if got := s.auditLines(other); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit lines of %s:\n%s\nwant:\n%s", other, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The dashboard and the JSON API answer every role and action as the policy
// table says: refused is 403 at both doors (and audited), anything else goes
// on (here to a confirmation page, or to the workflow, which this request
// lacks). An action a door does not offer is not found there.
func TestDashboardAndAPIFollowThePolicyTable(t *testing.T) {
	s, logins := newStaffApp(t)
	dashboardWord := map[staffpolicy.Action]string{}
	for word, action := range staff.Actions {
		dashboardWord[action] = word
	}
	apiRoute := map[staffpolicy.Action][2]string{
		staffpolicy.Book: {"POST", "/appointment"}, staffpolicy.Reschedule: {"PUT", "/appointment"},
		staffpolicy.Cancel: {"DELETE", "/appointment"}, staffpolicy.Attend: {"POST", "/attendance"},
		staffpolicy.NoShow: {"POST", "/no-show"}, staffpolicy.Decide: {"POST", "/decision"},
		staffpolicy.Confirm: {"POST", "/decision/confirmation"}, staffpolicy.Extend: {"POST", "/deadline-extension"},
		staffpolicy.Withdraw: {"POST", "/withdrawal"},
	}
	body := map[string]any{"at": time.Now().Add(48 * time.Hour).UTC(), "decision": "approved", "days": 10, "reason": "r"}
	lines := func(id int64, action staffpolicy.Action, outcome string) int {
		var n int
		_ = s.db.QueryRow(s.ctx, "SELECT count(*) FROM audit_log WHERE staff_id = $1 AND action = $2 AND outcome = $3", id, string(action), outcome).Scan(&n)
		return n
	}
	for _, role := range staffpolicy.Roles {
		l := logins[role]
		s.mustSignIn(l)
		var id int64
		_ = s.db.QueryRow(s.ctx, "SELECT id FROM staff WHERE email = $1", l.email).Scan(&id)
		var out bytes.Buffer
		if err := staffToken(s.ctx, &out, s.db, []string{"--email", l.email}); err != nil {
			t.Fatal(err)
		}
		token := regexp.MustCompile(`\): (\S+)`).FindStringSubmatch(out.String())[1]
		for _, action := range staffpolicy.Actions {
			refused := !staffpolicy.May(role, action).Permitted()
			before := lines(id, action, "refused")

			if word, offered := dashboardWord[action]; offered {
				resp := s.call(l, "POST", "/staff/requests/"+s.code+"/"+word, url.Values{"decision": {"approved"}, "days": {"10"}, "reason": {"r"}, "note": {"n"}})
				if got := resp.StatusCode == http.StatusForbidden; got != refused || resp.StatusCode == http.StatusNotFound {
					t.Errorf("dashboard: %s %s: %d, policy says %s", role, action, resp.StatusCode, staffpolicy.May(role, action))
				}
				if refused && lines(id, action, "refused") != before+1 {
					t.Errorf("dashboard: %s %s refused without its audit line", role, action)
				}
			} else if resp := s.call(l, "POST", "/staff/requests/"+s.code+"/"+string(action), nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("dashboard: %s %s, not a dashboard action: %d, want 404", role, action, resp.StatusCode)
			}

			route, offered := apiRoute[action]
			if !offered {
				continue
			}
			before = lines(id, action, "refused")
			b, _ := json.Marshal(body)
			req := httptest.NewRequest(route[0], "/api/v1/requests/"+s.code+route[1], bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := s.app.Test(req, 15_000)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			if got := resp.StatusCode == http.StatusForbidden; got != refused || resp.StatusCode == http.StatusNotFound {
				t.Errorf("API: %s %s: %d %s, policy says %s", role, action, resp.StatusCode, answer, staffpolicy.May(role, action))
			}
			// Refused by the role, or by the workflow (this request has none):
			// a refusal either way, and audited.
			if lines(id, action, "refused") != before+1 {
				t.Errorf("API: %s %s (%d) without its audit line", role, action, resp.StatusCode)
			}
		}
	}
}

// TOTP secrets are stored encrypted, whoever adds the member (the command
// line, the dashboard's invitation), and sign-in still works; a secret
// stored in clear before migration 00020 is encrypted at its member's first
// sign-in, and `api staff encrypt-totp` encrypts the rest.
func TestTOTPSecretsAreEncryptedAtRest(t *testing.T) {
	s, logins := newStaffApp(t)
	box, err := totpsecret.New(testenv.Config(t).Keys.TOTP)
	if err != nil {
		t.Fatal(err)
	}
	admin := logins["admin"]
	s.mustSignIn(admin)
	if resp := s.call(admin, "POST", "/staff/members", url.Values{"email": {uniqueEmail("invited")}, "role": {"officer"}, "mission": {"AT-VIE"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d", resp.StatusCode)
	}
	secrets := map[string]string{}
	for _, l := range logins {
		secrets[l.email] = l.secret
	}
	scan := func() (clear int) {
		rows, err := s.db.Query(s.ctx, "SELECT email, totp_secret, totp_key_id FROM staff")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		base32 := regexp.MustCompile(`^[A-Z2-7]{16,}=*$`)
		n := 0
		for rows.Next() {
			var email string
			var stored totpsecret.Stored
			if err := rows.Scan(&email, &stored.Value, &stored.KeyID); err != nil {
				t.Fatal(err)
			}
			n++
			if stored.KeyID == nil || base32.MatchString(stored.Value) || (secrets[email] != "" && strings.Contains(stored.Value, secrets[email])) {
				clear++
				continue
			}
			if got, err := box.Open(stored); err != nil || (secrets[email] != "" && got != secrets[email]) {
				t.Errorf("%s: the stored secret opens to %q, %v", email, got, err)
			}
		}
		if n < len(logins)+1 {
			t.Fatalf("%d staff rows", n)
		}
		return clear
	}
	if n := scan(); n != 0 {
		t.Fatalf("%d TOTP secrets stored in clear", n)
	}
	s.mustSignIn(logins["officer"])

	// Secrets from before: in clear, without a key ID.
	for _, who := range []string{"supervisor", "foreign officer"} {
		if _, err := s.db.Exec(s.ctx, "UPDATE staff SET totp_secret = $2, totp_key_id = NULL WHERE email = $1", logins[who].email, logins[who].secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := scan(); n != 2 {
		t.Fatalf("%d secrets in clear, want the 2 just written", n)
	}
	s.mustSignIn(logins["supervisor"])
	if n := scan(); n != 1 {
		t.Fatalf("%d secrets in clear after the supervisor's sign-in, want 1", n)
	}
	var out bytes.Buffer
	if err := addStaff(s.ctx, &out, s.db, testenv.Config(t).Keys.TOTP, []string{"encrypt-totp"}); err != nil || !strings.HasPrefix(out.String(), "1 ") {
		t.Fatalf("encrypt-totp: %v %q", err, out.String())
	}
	if n := scan(); n != 0 {
		t.Fatalf("%d secrets in clear after encrypt-totp", n)
	}
	s.mustSignIn(logins["foreign officer"])
}

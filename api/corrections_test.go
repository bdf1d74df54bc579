package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows/request"
)

// licenceRequest starts a driving-licence inquiry whose applicant reads
// Persian, with the licence number, identity and residence kept at
// submission, and waits for it to await its appointment.
func (s *system) licenceRequest(nationalID, email string) string {
	s.t.Helper()
	code := s.seedRequest(nationalID, "driving_licence_inquiry", seededApplicant{email: email, language: "fa",
		identity: `{"first_name_en": "Sara", "birth_date": "1990-02-03"}`, residence: `{"city": "Wien"}`, form: `{"licence_number": "12345678"}`},
		request.Policy{Deadline: 60 * 24 * time.Hour, Retention: time.Hour})
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	return code
}

// dashboard is the staff dashboard in the test's process, on the system's
// database and Temporal, so its Updates reach the system's worker.
func (s *system) dashboard(members ...string) (*staffApp, map[string]*staffLogin) {
	s.t.Helper()
	cfg := testenv.Config(s.t)
	for _, kv := range s.environ {
		if v, ok := strings.CutPrefix(kv, "CONSULAR_DATABASE_URL="); ok {
			cfg.Database.URL = v
		}
	}
	app, _ := inProcess(s.t, cfg, nil)
	logins := map[string]*staffLogin{}
	for _, m := range members {
		email, mission, _ := strings.Cut(m, " ")
		var out bytes.Buffer
		if err := addStaff(context.Background(), &out, s.db, cfg.Keys.TOTP, []string{"add", "--email", email, "--role", "officer", "--mission", mission}); err != nil {
			s.t.Fatal(err)
		}
		logins[email] = &staffLogin{email: email,
			password: regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1],
			secret:   regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]}
	}
	return &staffApp{t: s.t, app: app, ctx: context.Background(), db: s.db}, logins
}

func (s *system) answer(code, field string) string {
	s.t.Helper()
	section, name, _ := strings.Cut(field, ".")
	var v string
	if err := s.db.QueryRow(context.Background(), `SELECT COALESCE(CASE $2 WHEN 'form' THEN form WHEN 'identity' THEN identity ELSE residence END ->> $3, '')
		FROM request_applicants WHERE tracking_code = $1`, code, section, name).Scan(&v); err != nil {
		s.t.Fatal(err)
	}
	return v
}

// An officer corrects the licence number while the applicant is at the
// mission: the request's answer changes, the correction is recorded with
// the old and the new value, the officer who made it (whatever the form
// claims) and the reason, the audit log names it, and the applicant gets
// one email saying what changed. Before the visit the same correction is
// refused and nothing changes; the same form sent twice is one correction;
// an officer of another mission finds no such request.
func TestOfficerCorrectsALicenceNumberDuringTheVisit(t *testing.T) {
	s := startSystem(t, nil)
	nationalID, address := testenv.NationalID(), email(t)
	code := s.licenceRequest(nationalID, address)
	officer, officerToken := staffMember(t, s, "officer@mfa.example", "--role", "officer", "--mission", "AT-VIE")
	supervisor, _ := staffMember(t, s, "supervisor@mfa.example", "--role", "supervisor", "--mission", "AT-VIE")
	_, foreignToken := staffMember(t, s, "foreign@mfa.example", "--role", "officer", "--mission", "FR-PAR")
	desk, logins := s.dashboard("desk@mfa.example AT-VIE", "paris@mfa.example FR-PAR")
	clerk, paris := logins["desk@mfa.example"], logins["paris@mfa.example"]
	desk.mustSignIn(clerk)
	desk.mustSignIn(paris)
	var clerkID int64
	_ = s.db.QueryRow(context.Background(), "SELECT id FROM staff WHERE email = $1", clerk.email).Scan(&clerkID)
	path := "/staff/requests/" + code + "/corrections"
	correction := url.Values{"correction_field": {"form.licence_number"}, "correction_value": {"۸۷۶۵۴۳۲۱"},
		"correction_reason": {"One digit was misread from the licence."}, "_action_id": {"desk-1"},
		"staff_id": {strconv.FormatInt(supervisor, 10)}, "actor": {"supervisor@mfa.example"}}

	// Before the visit: booked, attendance not recorded.
	at := s.freeSlots(nationalID, code)[0]
	if status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+code+"/appointment", map[string]any{"at": at}); status != 200 {
		t.Fatalf("booking: %d %v", status, out)
	}
	if resp := desk.call(clerk, "POST", path, correction); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a correction before the visit: %d, want 409", resp.StatusCode)
	} else if page := body(resp); !strings.Contains(page, "نخست حضور متقاضی را هنگام مراجعه ثبت کنید") {
		t.Errorf("the refusal does not say why in the page's language: %s", page)
	}
	if got := s.answer(code, "form.licence_number"); got != "12345678" {
		t.Fatalf("a refused correction changed the licence number to %q", got)
	}

	if status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+code+"/attendance", nil); status != 200 {
		t.Fatalf("attendance: %d %v", status, out)
	}
	// Another mission's officer: no such request, at either door.
	if resp := desk.call(paris, "POST", path, correction); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an officer of another mission: %d, want 404", resp.StatusCode)
	}
	if status, out := s.staffCall(foreignToken, "POST", "/api/v1/requests/"+code+"/corrections",
		map[string]any{"field": "form.licence_number", "value": "11111111", "reason": "r"}); status != http.StatusNotFound {
		t.Fatalf("an officer of another mission through the API: %d %v, want 404", status, out)
	}
	// A value the form would have refused is refused, in the page's words.
	bad := url.Values{"correction_field": {"form.licence_number"}, "correction_value": {"12AB"}, "correction_reason": {"typo"}}
	if resp := desk.call(clerk, "POST", path, bad); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("an invalid licence number: %d, want 422", resp.StatusCode)
	}

	// At the visit: corrected, twice sent, once made.
	for range 2 {
		if resp := desk.call(clerk, "POST", path, correction); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the correction at the visit: %d %s", resp.StatusCode, body(resp))
		}
	}
	if got := s.answer(code, "form.licence_number"); got != "87654321" {
		t.Fatalf("licence number %q after the correction, want 87654321", got)
	}
	var made int
	_ = s.db.QueryRow(context.Background(), `SELECT count(*) FROM request_corrections WHERE tracking_code = $1`, code).Scan(&made)
	if made != 1 {
		t.Errorf("%d corrections recorded, want one: the form sent twice is one correction", made)
	}
	var old, now, reason string
	var by int64
	if err := s.db.QueryRow(context.Background(), `SELECT old_value, new_value, reason, staff_id FROM request_corrections WHERE tracking_code = $1 AND field = 'form.licence_number'`,
		code).Scan(&old, &now, &reason, &by); err != nil {
		t.Fatalf("the correction's record: %v", err)
	}
	if old != "12345678" || now != "87654321" || reason != "One digit was misread from the licence." || by != clerkID {
		t.Errorf("recorded %s → %s (%q) by %d, want 12345678 → 87654321 by the signed-in officer %d, not the body's %d", old, now, reason, by, clerkID, supervisor)
	}
	if ids := s.staffIDsInHistory(code, request.UpdateCorrectRequest); len(ids) != 1 || ids[0] != strconv.FormatInt(clerkID, 10) {
		t.Errorf("the workflow heard the correction from %v, want once from %d", ids, clerkID)
	}
	var audited int
	_ = s.db.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE tracking_code = $1 AND staff_id = $2 AND action = 'correct_request'
		AND outcome = 'ok' AND detail = 'form.licence_number'`, code, clerkID).Scan(&audited)
	if audited != 2 { // each post is audited; the workflow made one correction of them
		t.Errorf("%d audit lines of the officer's correction, want one per post", audited)
	}

	text := mailTo(t, address, "اصلاح درخواست").Text
	time.Sleep(time.Second) // a second email would have arrived by now
	corrections := 0
	for _, m := range testenv.Mail(t).Search(t, "to:"+address) {
		if strings.Contains(m.Subject, "اصلاح درخواست") {
			corrections++
		}
	}
	if corrections != 1 {
		t.Fatalf("%d correction emails, want one", corrections)
	}
	persian, _, _ := strings.Cut(text, "----------")
	if !regexp.MustCompile(`شماره گواهینامه: \x{2068}?12345678\x{2069}? ← \x{2068}?87654321`).MatchString(persian) ||
		!strings.Contains(persian, "One digit was misread") || !strings.Contains(persian, "سفارت جمهوری اسلامی ایران در وین") {
		t.Errorf("the Persian part does not show old ← new, the reason and the mission:\n%s", persian)
	}
	if !strings.Contains(text, "Licence number: 12345678 → 87654321") {
		t.Errorf("the English part does not show old → new:\n%s", text)
	}

	// The JSON door: the token's owner corrects, whatever the body says.
	status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+code+"/corrections",
		map[string]any{"field": "residence.city", "value": "Graz", "reason": "Moved in November.", "staff_id": strconv.FormatInt(supervisor, 10)})
	if status != 200 || out["Status"] != "attended" {
		t.Fatalf("a correction through the API: %d %v", status, out)
	}
	_ = s.db.QueryRow(context.Background(), `SELECT staff_id FROM request_corrections WHERE tracking_code = $1 AND field = 'residence.city'`, code).Scan(&by)
	if s.answer(code, "residence.city") != "Graz" || by != officer {
		t.Errorf("city %q corrected by %d, want Graz by the token's owner %d", s.answer(code, "residence.city"), by, officer)
	}
	// The timeline reads the corrections, at the request's mission only.
	vienna, france := "AT-VIE", "FR-PAR"
	rows, err := staff.Corrections(context.Background(), s.db, code, &vienna)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Label.En != "Licence number" || rows[0].Old != "12345678" || rows[0].New != "87654321" ||
		rows[0].StaffEmail != clerk.email || rows[1].Field != "residence.city" || rows[1].StaffEmail != "officer@mfa.example" {
		t.Errorf("the timeline's corrections: %+v", rows)
	}
	if others, err := staff.Corrections(context.Background(), s.db, code, &france); err != nil || len(others) != 0 {
		t.Errorf("another mission's timeline reads %d corrections (%v), want none", len(others), err)
	}
	status, out = s.staffCall(officerToken, "POST", "/api/v1/requests/"+code+"/corrections",
		map[string]any{"field": "identity.birth_date", "value": "2999-01-01", "reason": "r"})
	if refusal, _ := out["error"].(map[string]any); status != http.StatusUnprocessableEntity || refusal["message"] != "Date of birth cannot be in the future." ||
		refusal["message_fa"] != "تاریخ تولد نمی‌تواند در آینده باشد." {
		t.Fatalf("a birth date to come through the API: %d %v, want 422 in English and Persian", status, out)
	}

	// Decided: the answers the decision was made on stay as they are.
	if status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+code+"/decision", map[string]any{"decision": "approved"}); status != 200 || out["Status"] != "approved" {
		t.Fatalf("approval: %d %v", status, out)
	}
	if status, out := s.staffCall(officerToken, "POST", "/api/v1/requests/"+code+"/corrections",
		map[string]any{"field": "residence.city", "value": "Linz", "reason": "moved again"}); status != http.StatusConflict {
		t.Fatalf("a correction after the decision: %d %v, want 409", status, out)
	}
	if s.answer(code, "residence.city") != "Graz" {
		t.Fatalf("a correction after the decision changed the city to %q", s.answer(code, "residence.city"))
	}
	s.history(code, "corrected") // make histories records it for the replay test
}

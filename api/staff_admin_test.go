package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/internal/testenv"
)

// uniqueEmail is an address no other test of the run uses (they share Mailpit).
func uniqueEmail(who string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return who + "-" + hex.EncodeToString(b) + "@mfa.example"
}

// invitationLink waits for the invitation email to addr and returns its link.
func invitationLink(t *testing.T, addr string) string {
	t.Helper()
	mails := testenv.Mail(t).WaitFor(t, "to:"+addr, 1, 20*time.Second)
	link := regexp.MustCompile(`https?://\S+/staff/enrol/[A-Za-z0-9_-]+`).FindString(mails[len(mails)-1].Text)
	if link == "" {
		t.Fatalf("no enrolment link in the invitation: %q", mails[len(mails)-1].Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("the invitation link %q: %v", link, err)
	}
	return u.Path
}

// An admin adds an officer in the dashboard; the officer enrols an
// authenticator from the emailed link, sets a password and signs in.
func TestAdminAddsStaffWhoEnrolsWithTOTP(t *testing.T) {
	s, logins := newStaffApp(t)
	admin := logins["admin"]
	s.mustSignIn(admin)
	email := uniqueEmail("new-officer")

	resp := s.call(admin, "POST", "/staff/members", url.Values{"email": {"not an email"}, "role": {"officer"}, "mission": {"AT-VIE"}})
	if page := body(resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `value="not an email"`) {
		t.Fatalf("a bad email: %d, want 422 with what was typed kept", resp.StatusCode)
	}
	if resp := s.call(admin, "POST", "/staff/members", url.Values{"email": {email}, "role": {"officer"}, "mission": {"AT-VIE"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d %s", resp.StatusCode, body(resp))
	}
	if resp := s.call(admin, "POST", "/staff/members", url.Values{"email": {email}, "role": {"officer"}, "mission": {"AT-VIE"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("the same email again: %d, want 422", resp.StatusCode)
	}
	if page := body(s.call(admin, "GET", "/staff/members", nil)); !strings.Contains(page, email) || !strings.Contains(page, "دعوت‌شده") {
		t.Fatal("the members page does not list the invited officer")
	}
	// Before enrolling there is no password to sign in with.
	newcomer := &staffLogin{email: email}
	if resp := s.signIn(newcomer, "", "000000"); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("signing in before enrolment: %d", resp.StatusCode)
	}

	link := invitationLink(t, email)
	page := body(s.call(newcomer, "GET", link, nil))
	secret := regexp.MustCompile(`id="secret">([A-Z2-7]+)<`).FindStringSubmatch(page)
	if secret == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatal("the enrolment page shows no QR code or key")
	}
	newcomer.secret = secret[1]
	newcomer.csrf = regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	code, _ := totp.GenerateCode(newcomer.secret, time.Now())
	for _, bad := range []url.Values{
		{"staff_password": {"short"}, "staff_password_confirm": {"short"}, "totp": {code}},
		{"staff_password": {"a long enough one"}, "staff_password_confirm": {"a long enough one"}, "totp": {"000000"}},
	} {
		if resp := s.call(newcomer, "POST", link, bad); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("enrol with %v: %d, want 422", bad, resp.StatusCode)
		}
	}
	newcomer.password = "a long enough one"
	resp = s.call(newcomer, "POST", link, url.Values{"staff_password": {newcomer.password}, "staff_password_confirm": {newcomer.password}, "totp": {code}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "enrolled") {
		t.Fatalf("enrol: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := s.call(newcomer, "GET", link, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the link used a second time: %d, want 404", resp.StatusCode)
	}
	newcomer.signIns = 1 // enrolment used the current code
	s.mustSignIn(newcomer)
	if page := body(s.call(newcomer, "GET", "/staff/", nil)); !strings.Contains(page, s.code) {
		t.Fatal("the new officer does not see the mission's queue")
	}
	if resp := s.call(newcomer, "GET", "/staff/members", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an officer opening the members page: %d, want 403", resp.StatusCode)
	}
	var audited int
	_ = s.db.QueryRow(s.ctx, "SELECT count(*) FROM audit_log WHERE (action = 'staff_add' AND detail LIKE $1) OR (action = 'enrol' AND staff_email = $2)",
		email+"%", email).Scan(&audited)
	if audited != 2 {
		t.Fatalf("%d audit entries for adding and enrolling, want 2", audited)
	}
}

// A supervisor staffs their own mission only, and disabling a member ends
// their sessions at once.
func TestSupervisorManagesOwnMissionsStaffOnly(t *testing.T) {
	s, logins := newStaffApp(t)
	sup := logins["supervisor"]
	s.mustSignIn(sup)
	resp := s.call(sup, "POST", "/staff/members", url.Values{"email": {uniqueEmail("boss")}, "role": {"admin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a supervisor making an admin: %d, want 422", resp.StatusCode)
	}
	email := uniqueEmail("clerk")
	if resp := s.call(sup, "POST", "/staff/members", url.Values{"email": {email}, "role": {"officer"}, "mission": {"FR-PAR"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", resp.StatusCode)
	}
	var mission string
	_ = s.db.QueryRow(s.ctx, "SELECT mission_code FROM staff WHERE email = $1", email).Scan(&mission)
	if mission != "AT-VIE" {
		t.Fatalf("a supervisor's new officer is at %q, want their own mission AT-VIE", mission)
	}
	if page := body(s.call(sup, "GET", "/staff/members", nil)); strings.Contains(page, "foreign-officer@") || strings.Contains(page, "admin@") {
		t.Fatal("the supervisor sees accounts beyond their mission")
	}

	officer := logins["officer"]
	s.mustSignIn(officer)
	var id int64
	_ = s.db.QueryRow(s.ctx, "SELECT id FROM staff WHERE email = $1", officer.email).Scan(&id)
	if resp := s.call(sup, "POST", fmt.Sprintf("/staff/members/%d/disable", id), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp := s.call(officer, "GET", "/staff/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a disabled officer's open session: %d, want sent to sign in", resp.StatusCode)
	}
	code, _ := totp.GenerateCode(officer.secret, time.Now())
	if resp := s.signIn(officer, officer.password, code); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a disabled officer signing in: %d, want 422", resp.StatusCode)
	}
	if resp := s.call(sup, "POST", fmt.Sprintf("/staff/members/%d/enable", id), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	s.mustSignIn(officer)
	var selfID int64
	_ = s.db.QueryRow(s.ctx, "SELECT id FROM staff WHERE email = $1", sup.email).Scan(&selfID)
	if resp := s.call(sup, "POST", fmt.Sprintf("/staff/members/%d/disable", selfID), nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a supervisor disabling themselves: %d, want 403", resp.StatusCode)
	}
}

// A supervisor sets the weekly template and closes a day from the
// dashboard; a wrong template saves nothing and keeps what was typed.
func TestSupervisorEditsScheduleAndClosures(t *testing.T) {
	s, logins := newStaffApp(t)
	sup := logins["supervisor"]
	s.mustSignIn(sup)
	if page := body(s.call(sup, "GET", "/staff/schedule", nil)); !strings.Contains(page, "وین") && !strings.Contains(page, "Vienna") {
		t.Fatal("the schedule page does not say whose local time it is (the mission's city)")
	}
	good := url.Values{"templates": {"1"}, "t0.day1": {"09:00-12:00, 14:00-16:00"}, "t0.day3": {"۰۹:۰۰-۱۲:۰۰"},
		"t0.slot_minutes": {"30"}, "t0.capacity": {"2"}, "t0.services": {"apostille"}}
	if resp := s.call(sup, "POST", "/staff/schedule", good); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", resp.StatusCode, body(resp))
	}
	var weekdays string
	var services []string
	if err := s.db.QueryRow(s.ctx, "SELECT weekdays::text, services FROM schedule_templates WHERE mission_code = 'AT-VIE'").Scan(&weekdays, &services); err != nil {
		t.Fatal(err)
	}
	if weekdays != `{"1": [["09:00", "12:00"], ["14:00", "16:00"]], "3": [["09:00", "12:00"]]}` || len(services) != 1 || services[0] != "apostille" {
		t.Fatalf("stored template: %s %v", weekdays, services)
	}
	if page := body(s.call(sup, "GET", "/staff/schedule", nil)); !strings.Contains(page, `value="09:00-12:00, 14:00-16:00"`) {
		t.Fatal("the saved template is not shown back")
	}
	bad := url.Values{"templates": {"2"}, "t0.day1": {"09:00-12:00"}, "t0.slot_minutes": {"30"}, "t0.capacity": {"2"},
		"t1.day2": {"09:00-10:10"}, "t1.slot_minutes": {"30"}, "t1.capacity": {"1"}}
	resp := s.call(sup, "POST", "/staff/schedule", bad)
	if page := body(resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `value="09:00-10:10"`) || !strings.Contains(page, "30-minute") {
		t.Fatalf("a template that does not divide into slots: %d, want 422 with the typed hours and the reason", resp.StatusCode)
	}
	var n int
	_ = s.db.QueryRow(s.ctx, "SELECT count(*) FROM schedule_templates WHERE mission_code = 'AT-VIE' AND weekdays ? '3'").Scan(&n)
	if n != 1 {
		t.Fatal("a refused save changed the stored templates")
	}

	resp = s.call(sup, "POST", "/staff/schedule/closures", url.Values{"closure_day": {"2031-03-21"}})
	if page := body(resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `value="2031-03-21"`) {
		t.Fatalf("a closure without a reason: %d, want 422 keeping the day", resp.StatusCode)
	}
	if resp := s.call(sup, "POST", "/staff/schedule/closures", url.Values{"closure_day": {"2031-03-21"}, "closure_reason": {"Nowruz"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close a day: %d", resp.StatusCode)
	}
	var id int64
	if err := s.db.QueryRow(s.ctx, "SELECT id FROM closures WHERE mission_code = 'AT-VIE' AND day = '2031-03-21' AND start_time IS NULL").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if page := body(s.call(sup, "GET", "/staff/schedule", nil)); !strings.Contains(page, "Nowruz") {
		t.Fatal("the closure is not listed")
	}
	if resp := s.call(sup, "POST", fmt.Sprintf("/staff/schedule/closures/%d/delete", id), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reopen: %d", resp.StatusCode)
	}
	// The audit log, filtered, names each change.
	_, table, _ := strings.Cut(body(s.call(sup, "GET", "/staff/audit?action=closure_add", nil)), `<table id="audit">`)
	if !strings.Contains(table, "2031-03-21") || strings.Contains(table, ">sign_in<") {
		t.Fatal("the audit page filtered by action does not show just the closure")
	}
	if page := body(s.call(sup, "GET", "/staff/audit?email="+url.QueryEscape(sup.email)+"&action=schedule_set", nil)); !strings.Contains(page, "1 template(s)") {
		t.Fatal("the saved schedule is not in the audit log")
	}
	// An admin picks the mission; a foreign mission's supervisor cannot touch it.
	admin := logins["admin"]
	s.mustSignIn(admin)
	if page := body(s.call(admin, "GET", "/staff/schedule?mission=AT-VIE", nil)); !strings.Contains(page, `value="09:00-12:00, 14:00-16:00"`) {
		t.Fatal("the admin does not see AT-VIE's template")
	}
}

// The queue filters by appointment day in the mission's own calendar.
func TestQueueFiltersByAppointmentDay(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	vienna, _ := time.LoadLocation("Europe/Vienna")
	// 00:30 in Vienna on 2031-05-06 is still 2031-05-05 in UTC.
	at := time.Date(2031, 5, 6, 0, 30, 0, 0, vienna)
	if _, err := s.db.Exec(s.ctx, "UPDATE requests SET appointment_at = $2 WHERE tracking_code = $1", s.code, at); err != nil {
		t.Fatal(err)
	}
	if page := body(s.call(officer, "GET", "/staff/?day=2031-05-06", nil)); !strings.Contains(page, s.code) {
		t.Fatal("the request booked that day (Vienna time) is not listed")
	}
	if page := body(s.call(officer, "GET", "/staff/?day=2031-05-05", nil)); strings.Contains(page, s.code) {
		t.Fatal("the request is listed on the UTC day, not the mission's")
	}
}

// The counts per status the queue shows follow every change of the
// projection, concurrent ones included.
func TestQueueCountsFollowTheProjection(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := t.Context()
	counts := func(q string) map[string]int64 {
		rows, err := db.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				out[k] = n
			}
		}
		return out
	}
	statuses := []string{"awaiting_appointment", "appointment_booked", "attended", "approved"}
	var codes []string
	for i := range 40 {
		code := fmt.Sprintf("9%013d", i)
		codes = append(codes, code)
		mission := []string{"AT-VIE", "FR-PAR"}[i%2]
		service := []string{"apostille", "passport_renewal", "driving_licence_inquiry"}[i%3]
		if _, err := db.Exec(ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at)
			VALUES ($1, 'submitted', $3, $2, now(), now() + interval '90 days')`, code, mission, service); err != nil {
			t.Fatal(err)
		}
	}
	// Transitions in both directions at once, as the projection activities write them.
	errs := make(chan error, len(codes)*len(statuses))
	for _, code := range codes {
		go func() {
			for i := range statuses {
				s := statuses[(i+len(code))%len(statuses)]
				_, err := db.Exec(ctx, "UPDATE requests SET status = $2 WHERE tracking_code = $1", code, s)
				errs <- err
			}
		}()
	}
	for range len(codes) * len(statuses) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, "DELETE FROM requests WHERE tracking_code = $1", codes[0]); err != nil {
		t.Fatal(err)
	}
	want := counts("SELECT mission_code || '/' || service_code || '/' || status, count(*) FROM requests GROUP BY 1")
	got := counts("SELECT mission_code || '/' || service_code || '/' || status, n FROM request_counts")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("kept counts %v, want %v", got, want)
	}
}

// The deadline filter lists a mission's open requests whose deadline falls
// within the days asked, nearest first, and its pages (keyset on deadline
// and tracking code) visit each exactly once, ties on the deadline too.
func TestQueueDeadlineFilterListsNearestFirstAcrossPages(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := t.Context()
	mission := "ZZ-DLN" // this test's own, closed to applicants
	if _, err := db.Exec(ctx, `INSERT INTO missions (code, kind, name_fa, name_en, country, city_fa, city_en, time_zone, active)
		VALUES ($1, 'consulate', 'آزمون', 'Test', 'ZZ', 'آزمون', 'Test', 'UTC', false)`, mission); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	type want struct {
		deadline time.Time
		code     string
	}
	var due []want
	insert := func(i int, status string, deadline time.Time) string {
		code := fmt.Sprintf("8%013d", i)
		// The later the deadline, the later the submission: the newest-first
		// order is the reverse of the one wanted.
		if _, err := db.Exec(ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at)
			VALUES ($1, $2, 'apostille', $3, $4, $5)`, code, status, mission, now.Add(-time.Duration(100-i)*time.Minute), deadline); err != nil {
			t.Fatal(err)
		}
		return code
	}
	for i := range 60 {
		// Two requests share each deadline, within 1 to 6 days.
		d := now.Add(24*time.Hour + time.Duration(i/2)*2*time.Hour)
		due = append(due, want{d, insert(i, []string{"awaiting_appointment", "appointment_booked", "submitted", "attended"}[i%4], d)})
	}
	for i := 60; i < 80; i++ {
		insert(i, "awaiting_appointment", now.Add(30*24*time.Hour)) // not due within 7 days
	}
	for i := 80; i < 100; i++ {
		insert(i, "approved", now.Add(2*24*time.Hour)) // closed: its deadline no longer matters
	}
	slices.SortFunc(due, func(a, b want) int {
		if c := a.deadline.Compare(b.deadline); c != 0 {
			return c
		}
		return strings.Compare(a.code, b.code)
	})

	f := staff.Filter{Within: 7}
	var got []string
	pages := 0
	for {
		rows, _, err := staff.List(ctx, db, &mission, f)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range rows {
			got = append(got, r.TrackingCode)
		}
		if len(rows) < staff.PageSize || pages > 5 {
			break
		}
		f.After = f.Cursor(rows[len(rows)-1])
	}
	if pages != 2 || len(got) != len(due) {
		t.Fatalf("%d pages, %d requests; want 2 pages, %d requests", pages, len(got), len(due))
	}
	for i := range due {
		if got[i] != due[i].code {
			t.Fatalf("row %d is %s, want %s (deadline %s): not nearest first", i, got[i], due[i].code, due[i].deadline)
		}
	}

	// Without the filter: every request of the mission, newest first, also
	// across pages.
	f, got = staff.Filter{}, nil
	for range 5 {
		rows, _, err := staff.List(ctx, db, &mission, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got = append(got, r.TrackingCode)
		}
		if len(rows) < staff.PageSize {
			break
		}
		f.After = f.Cursor(rows[len(rows)-1])
	}
	if len(got) != 100 || got[0] != fmt.Sprintf("8%013d", 99) || got[99] != fmt.Sprintf("8%013d", 0) {
		t.Fatalf("newest first: %d requests, first %s, last %s", len(got), got[0], got[len(got)-1])
	}
}

// An attended request's page asks its workflow whether a decision awaits
// confirmation; when the workflow cannot answer (here: none runs for it),
// the page says the answer is unknown instead of showing no proposal.
func TestDetailSaysWhenTheProposedDecisionCannotBeRead(t *testing.T) {
	s, logins := newStaffApp(t)
	supervisor := logins["supervisor"]
	s.mustSignIn(supervisor)
	page := body(s.call(supervisor, "GET", "/staff/requests/"+s.code, nil))
	if strings.Contains(page, `id="proposed-unknown"`) {
		t.Fatal("awaiting an appointment, the page asked the workflow for a proposal")
	}
	if _, err := s.db.Exec(s.ctx, "UPDATE requests SET status = 'attended' WHERE tracking_code = $1", s.code); err != nil {
		t.Fatal(err)
	}
	page = body(s.call(supervisor, "GET", "/staff/requests/"+s.code, nil))
	if !strings.Contains(page, `id="proposed-unknown"`) || strings.Contains(page, `id="proposed"`) {
		t.Fatalf("attended, workflow unreachable: want the 'cannot be read' notice and no proposal\n%.3000s", page)
	}
}

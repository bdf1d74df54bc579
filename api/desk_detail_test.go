package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/image/bmp"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
)

// deskRequest is a request of AT-VIE (a driving-licence inquiry) put
// straight into the tables in the given state, with the profile and answers
// kept at its submission: the desk reads the tables, not the workflow.
func (s *staffApp) deskRequest(status string, submitted time.Time, appointment *time.Time, identity, residence, form map[string]string) string {
	s.t.Helper()
	c, _ := consular.NewTrackingCode()
	code := string(c)
	js := func(m map[string]string) []byte {
		if m == nil {
			m = map[string]string{}
		}
		b, _ := json.Marshal(m)
		return b
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, 'driving_licence_inquiry', 'AT-VIE', $2)`,
			[]any{code, submitted}},
		{`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language, identity, residence, form)
			VALUES ($1, '0013542419', 'ali123@example.org', 'Sara Ahmadi', 'fa', $2, $3, $4)`, []any{code, js(identity), js(residence), js(form)}},
		{`INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at, version)
			VALUES ($1, $2, 'driving_licence_inquiry', 'AT-VIE', $3, $4, $5, 1)`, []any{code, status, submitted, submitted.Add(90 * 24 * time.Hour), appointment}},
	} {
		if _, err := s.db.Exec(s.ctx, q.sql, q.args...); err != nil {
			s.t.Fatal(err)
		}
	}
	return code
}

// putDocument stores a document of the request as the portal does: the
// object in the documents bucket and its row.
func (s *staffApp) putDocument(code, kind, fileName, format string, data []byte) {
	s.t.Helper()
	key := code + "/" + kind
	if _, err := testenv.Storage(s.t).PutObject(s.ctx, testenv.Config(s.t).Storage.DocumentsBucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "image/" + format}); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.db.Exec(s.ctx, `INSERT INTO request_documents (tracking_code, kind, object_key, file_name, format, size_bytes, sha256)
		VALUES ($1, $2, $3, $4, $5, $6, '') ON CONFLICT DO NOTHING`, code, kind, key, fileName, format, len(data)); err != nil {
		s.t.Fatal(err)
	}
}

func inEnglish(l *staffLogin) { l.cookies = append(l.cookies, &http.Cookie{Name: "lang", Value: "en"}) }

var actionForm = regexp.MustCompile(`<form method="post" action="/staff/requests/[0-9A-Z-]+/([a-z-]+)"`)

// offered lists the actions a detail page offers, by their path.
func offered(page string) []string {
	var got []string
	for _, m := range actionForm.FindAllStringSubmatch(page, -1) {
		got = append(got, m[1])
	}
	slices.Sort(got)
	return got
}

// The desk shows only the actions the request's state allows, for the
// member's role; a final request offers none and says so. The workflow
// stays the authority: an action posted anyway is refused in its words.
func TestDeskOffersOnlyTheActionsTheStateAllows(t *testing.T) {
	s, logins := newStaffApp(t)
	officer, supervisor := logins["officer"], logins["supervisor"]
	s.mustSignIn(officer)
	s.mustSignIn(supervisor)
	now := time.Now().UTC()
	later, earlier := now.Add(2*time.Hour), now.Add(-time.Hour)
	for _, c := range []struct {
		name        string
		status      string
		appointment *time.Time
		who         *staffLogin
		want        []string
	}{
		{"submitted, being checked", "submitted", nil, officer, []string{"note"}},
		{"waiting for a booking", "awaiting_appointment", nil, officer, []string{"extension", "note"}},
		{"booked, the visit still to come", "appointment_booked", &later, officer, []string{"attendance", "extension", "note"}},
		{"booked, the time has come", "appointment_booked", &earlier, officer, []string{"attendance", "extension", "no-show", "note"}},
		{"attended", "attended", &earlier, officer, []string{"corrections", "decision", "note"}},
		{"attended, for a supervisor", "attended", &earlier, supervisor, []string{"corrections", "decision", "note"}},
		{"approved", "approved", &earlier, officer, nil},
		{"rejected", "rejected", &earlier, supervisor, nil},
		{"withdrawn", "withdrawn", nil, officer, nil},
		{"archived", "archived", nil, officer, nil},
	} {
		code := s.deskRequest(c.status, now.Add(-24*time.Hour), c.appointment, nil, nil, nil)
		resp := s.call(c.who, http.MethodGet, "/staff/requests/"+code, nil)
		page := body(resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", c.name, resp.StatusCode)
		}
		if got := offered(page); !slices.Equal(got, c.want) {
			t.Errorf("%s: offers %v, want %v", c.name, got, c.want)
		}
		quiet := consular.Status(c.status).Final() || c.status == "submitted"
		if quiet != strings.Contains(page, `id="no-actions"`) {
			t.Errorf("%s: the page says why nothing can be done: %v, want %v", c.name, !quiet, quiet)
		}
	}

	// A form from a page kept open too long: the workflow refuses, the page says why.
	code := s.deskRequest("approved", now.Add(-24*time.Hour), nil, nil, nil, nil)
	resp := s.call(officer, http.MethodPost, "/staff/requests/"+code+"/attendance", url.Values{"confirmed": {"yes"}, "_action_id": {"stale"}})
	page := body(resp)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, `id="refusal"`) || !strings.Contains(page, "کار دیگری با آن نمی‌توان کرد") {
		t.Fatalf("a refused action: %d\n%.2000s", resp.StatusCode, page)
	}
}

// timelineOf is the page's timeline list.
func timelineOf(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<ol id="timeline">(.*?)</ol>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no timeline:\n%.3000s", page)
	}
	return m[1]
}

// The timeline reads as words on the mission's clock, naming who acted
// (an officer by email, an API client by name, the applicant), never the
// audit log's raw names, the mail's kinds or UTC.
func TestDeskTimelineInWordsOnTheMissionsClock(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	submitted := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC) // 10:00 in Vienna (summer time)
	slot := time.Date(2026, 7, 10, 7, 30, 0, 0, time.UTC)    // 09:30 in Vienna
	code := s.deskRequest("attended", submitted, &slot, nil, nil, nil)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO audit_log (at, staff_email, role, action, tracking_code, source_ip, outcome, detail) VALUES ($1, 'client:kiosk', 'api_client', 'submit', $2, 'x', 'ok', 'created')`,
			[]any{submitted.Add(time.Second), code}},
		{`INSERT INTO sent_mail (tracking_code, kind, message_id, sent_at) VALUES ($1, 'receipt', 'm1', $2)`, []any{code, submitted.Add(5 * time.Second)}},
		{`INSERT INTO appointments (tracking_code, mission_code, starts_at, ends_at, status, created_at, updated_at) VALUES ($1, 'AT-VIE', $2, $3, 'booked', $4, $4)`,
			[]any{code, slot, slot.Add(15 * time.Minute), submitted.Add(time.Hour)}},
		{`INSERT INTO audit_log (at, staff_email, role, mission_code, action, tracking_code, source_ip, outcome, detail) VALUES ($1, 'officer@mfa.example', 'officer', 'AT-VIE', 'book_appointment', $2, 'x', 'ok', '2026-07-10T07:30:00Z')`,
			[]any{submitted.Add(time.Hour + 2*time.Second), code}},
		{`INSERT INTO sent_mail (tracking_code, kind, message_id, sent_at) VALUES ($1, 'appointment_booked:2026-07-10T07:30:00Z', 'm2', $2)`, []any{code, submitted.Add(time.Hour + 3*time.Second)}},
		{`INSERT INTO audit_log (at, staff_email, role, mission_code, action, tracking_code, source_ip, outcome, detail) VALUES ($1, 'officer@mfa.example', 'officer', 'AT-VIE', 'record_attendance', $2, 'x', 'ok', '')`,
			[]any{slot.Add(10 * time.Minute), code}},
		{`INSERT INTO audit_log (at, staff_email, role, mission_code, action, tracking_code, source_ip, outcome, detail) VALUES ($1, 'officer@mfa.example', 'officer', 'AT-VIE', 'note', $2, 'x', 'ok', 'original passport seen')`,
			[]any{slot.Add(11 * time.Minute), code}},
		{`INSERT INTO audit_log (at, staff_email, role, mission_code, action, tracking_code, source_ip, outcome, detail) VALUES ($1, 'officer@mfa.example', 'officer', 'AT-VIE', 'decide', $2, 'x', 'refused', 'a rejection needs a reason')`,
			[]any{slot.Add(12 * time.Minute), code}},
	} {
		if _, err := s.db.Exec(s.ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}

	fa := timelineOf(t, body(s.call(officer, http.MethodGet, "/staff/requests/"+code, nil))) // a view: not an event
	inEnglish(officer)
	page := body(s.call(officer, http.MethodGet, "/staff/requests/"+code, nil))
	en := timelineOf(t, page)
	for _, want := range []string{"Request submitted", "by API client kiosk", "10:00", "Receipt emailed to the applicant",
		"Appointment booked for 10 July 2026, 09:30", "by officer@mfa.example", "Appointment confirmation emailed",
		"Attendance recorded", "Internal note", "original passport seen"} {
		if !strings.Contains(en, want) {
			t.Errorf("the English timeline does not say %q:\n%s", want, en)
		}
	}
	for _, never := range []string{"client:", "email:", "receipt<", "submit by", "book_appointment", "record_attendance", "UTC", "(ok)", "refused", "a rejection needs a reason"} {
		if strings.Contains(en, never) {
			t.Errorf("the English timeline says %q:\n%s", never, en)
		}
	}
	if n := strings.Count(en, "<li>"); n != 6 { // submitted, receipt, booked, its email, attendance, note; no view, no refusal
		t.Errorf("%d events, want 6:\n%s", n, en)
	}
	if !strings.Contains(page, "Times are Vienna time.") {
		t.Errorf("the page does not name the mission's clock")
	}
	for _, want := range []string{"درخواست ثبت شد", "۱۰:۰۰", "توسط کلاینت API", "رسید برای متقاضی ایمیل شد", "حضور متقاضی ثبت شد", "officer@mfa.example"} {
		if !strings.Contains(fa, want) {
			t.Errorf("the Persian timeline does not say %q:\n%s", want, fa)
		}
	}
}

// The detail shows the profile and answers as they were at submission,
// labelled in the page's language: a later edit of the profile changes
// nothing there. A request kept without a profile says so in words.
func TestDeskShowsTheProfileAsSubmittedNotAsEditedSince(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	inEnglish(officer)
	identity := map[string]string{"first_name_en": "Sara", "last_name_en": "Ahmadi", "gender": "female", "birth_date": "1991-08-03"}
	residence := map[string]string{"country": "Austria", "city": "Vienna", "residence_type": "permanent_resident"}
	code := s.deskRequest("awaiting_appointment", time.Now().Add(-time.Hour), nil, identity, residence,
		map[string]string{"licence_number": "12345678", "include_driving_record": "yes"})
	// The applicant's account and profile, as the portal keeps them, edited after the submission.
	var account int64
	if err := s.db.QueryRow(s.ctx, `INSERT INTO accounts (email, national_id) VALUES ('ali123@example.org', '0013542419') RETURNING id`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(s.ctx, `INSERT INTO profiles (account_id, identity, residence, completed_at) VALUES ($1, $2, $3, now())`, account,
		`{"first_name_en": "Sarah", "last_name_en": "Ahmadi-Rad", "gender": "female"}`, `{"country": "Germany", "city": "Berlin"}`); err != nil {
		t.Fatal(err)
	}

	page := body(s.call(officer, http.MethodGet, "/staff/requests/"+code, nil))
	for _, want := range []string{"Licence number", "12345678", "Include the driving record and violations", "Yes",
		"First name (Latin letters)", "<bdi>Sara</bdi>", "Female", "3 August 1991", "Austria", "Vienna", "Permanent resident"} {
		if !strings.Contains(page, want) {
			t.Errorf("the detail does not show %q", want)
		}
	}
	for _, never := range []string{"Sarah", "Ahmadi-Rad", "Germany", "Berlin", "licence_number", "include_driving_record", "permanent_resident", "first_name_en"} {
		if strings.Contains(page, never) {
			t.Errorf("the detail shows %q", never)
		}
	}

	bare := s.deskRequest("awaiting_appointment", time.Now().Add(-time.Hour), nil, nil, nil, map[string]string{"licence_number": "87654321"})
	page = body(s.call(officer, http.MethodGet, "/staff/requests/"+bare, nil))
	if !strings.Contains(page, `id="snapshot-empty"`) || !strings.Contains(page, "No profile was kept with this request") {
		t.Errorf("a request without a profile does not say so:\n%.3000s", page)
	}
	if !strings.Contains(page, "<bdi>No</bdi>") { // include_driving_record was not ticked
		t.Errorf("an unticked box does not read No")
	}
}

// smallBMP is a valid uncompressed BMP, as an applicant may upload one.
func smallBMP(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.Black)
	}
	var b bytes.Buffer
	if err := bmp.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Documents are served to the request's mission only, inline, with their
// type and never cached; another mission's officer finds neither the
// request nor its documents.
func TestDeskServesDocumentsInlineToTheMissionOnly(t *testing.T) {
	s, logins := newStaffApp(t)
	officer, foreign, admin := logins["officer"], logins["foreign officer"], logins["admin"]
	for _, l := range []*staffLogin{officer, foreign, admin} {
		s.mustSignIn(l)
	}
	inEnglish(officer)
	code := s.deskRequest("awaiting_appointment", time.Now().Add(-time.Hour), nil, nil, nil, nil)
	jpeg, bitmap := testenv.JPEG(t), smallBMP(t)
	s.putDocument(code, "licence", "licence2024.jpg", "jpeg", jpeg)
	s.putDocument(code, "residence_proof", "meldezettel.bmp", "bmp", bitmap)

	page := body(s.call(officer, http.MethodGet, "/staff/requests/"+code, nil))
	for _, want := range []string{`<img src="/staff/requests/` + code + `/documents/licence" alt="Driving licence`, "licence2024.jpg", "KB",
		`href="/staff/requests/` + code + `/documents/residence_proof"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the detail does not show %q:\n%.4000s", want, page)
		}
	}
	for _, c := range []struct {
		kind, contentType string
		data              []byte
	}{{"licence", "image/jpeg", jpeg}, {"residence_proof", "image/bmp", bitmap}} {
		for _, l := range []*staffLogin{officer, admin} {
			resp := s.call(l, http.MethodGet, "/staff/requests/"+code+"/documents/"+c.kind, nil)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.contentType || !bytes.Equal(b, c.data) {
				t.Errorf("%s as %s: %d %q, %d bytes", c.kind, l.email, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s is cached: Cache-Control %q", c.kind, cc)
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") {
				t.Errorf("%s is not inline: %q", c.kind, cd)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s may be sniffed", c.kind)
			}
		}
		if resp := s.call(foreign, http.MethodGet, "/staff/requests/"+code+"/documents/"+c.kind, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another mission's officer reads %s: %d", c.kind, resp.StatusCode)
		}
		if resp := s.call(nil, http.MethodGet, "/staff/requests/"+code+"/documents/"+c.kind, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s without signing in: %d", c.kind, resp.StatusCode)
		}
	}
	if resp := s.call(foreign, http.MethodGet, "/staff/requests/"+code, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another mission's officer reads the request: %d", resp.StatusCode)
	}
	if resp := s.call(officer, http.MethodGet, "/staff/requests/"+code+"/documents/passport", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a document the request does not have: %d", resp.StatusCode)
	}
	// An object grown past any document's size in storage is not read whole into memory.
	big := append(append([]byte{}, jpeg...), make([]byte, 8<<20)...)
	s.putDocument(code, "residence_proof_big", "big.jpg", "jpeg", big)
	if resp := s.call(officer, http.MethodGet, "/staff/requests/"+code+"/documents/residence_proof_big", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a document of %d bytes: %d, want 404", len(big), resp.StatusCode)
	}
	// A stored object that is not what its row says is not served as an image.
	s.putDocument(code, "passport", "passport.jpg", "jpeg", []byte("<html><script>alert(1)</script></html>"))
	if resp := s.call(officer, http.MethodGet, "/staff/requests/"+code+"/documents/passport", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a document whose bytes are not its format: %d", resp.StatusCode)
	}
}

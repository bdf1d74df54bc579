package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/internal/consular"
)

// The officer's desk: the queue's filters, sorting, paging and times, and
// the day's appointments by hour.

var vienna = func() *time.Location { l, _ := time.LoadLocation("Europe/Vienna"); return l }()

// deskRequest is one request of the desk tests' own, written straight
// into the projection (and its applicant's name beside it).
type deskRequest struct {
	status, service, mission, name string
	submitted, deadline            time.Time
	appointment                    *time.Time
}

// add writes r and returns its tracking code (a valid one, so search finds it).
func (s *staffApp) add(r deskRequest) string {
	s.t.Helper()
	return addDeskRequest(s.t, s.ctx, s.db, r)
}

func addDeskRequest(t *testing.T, ctx context.Context, db *pgxpool.Pool, r deskRequest) string {
	t.Helper()
	c, _ := consular.NewTrackingCode()
	code := string(c)
	if r.mission == "" {
		r.mission = "AT-VIE"
	}
	if r.service == "" {
		r.service = "apostille"
	}
	if r.status == "" {
		r.status = "awaiting_appointment"
	}
	if r.submitted.IsZero() {
		r.submitted = time.Now()
	}
	if r.deadline.IsZero() {
		r.deadline = r.submitted.Add(90 * 24 * time.Hour)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, $2, $3, $4)`,
			[]any{code, r.service, r.mission, r.submitted}},
		{`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language) VALUES ($1, '0013542419', 'a@example.org', $2, 'fa')`,
			[]any{code, r.name}},
		{`INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1)`, []any{code, r.status, r.service, r.mission, r.submitted, r.deadline, r.appointment}},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	return code
}

// english makes the login's pages English.
func english(l *staffLogin) { l.cookies = append(l.cookies, &http.Cookie{Name: "lang", Value: "en"}) }

var listed = regexp.MustCompile(`<th scope="row"[^>]*><a href="/staff/requests/([0-9-]+)"`)

// codes lists the tracking codes of a queue page, in order.
func codes(page string) []string {
	var out []string
	for _, m := range listed.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func (s *staffApp) get(l *staffLogin, path string, want int) string {
	s.t.Helper()
	resp := s.call(l, http.MethodGet, path, nil)
	page := body(resp)
	if resp.StatusCode != want {
		s.t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, want, page)
	}
	return page
}

// The list names the service and the applicant, shows the mission's times
// (Vienna's, not UTC) in both calendars on Persian pages, and counts the
// days left to the deadline as Vienna's calendar does.
func TestQueueShowsNamesServicesDaysLeftInTheMissionsTime(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	now := time.Now().In(vienna)
	deadline := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, vienna).AddDate(0, 0, 5)
	at := time.Date(2031, 5, 6, 8, 30, 0, 0, time.UTC) // 10:30 in Vienna (summer time)
	code := s.add(deskRequest{status: "appointment_booked", service: "driving_licence_inquiry", name: "Reza Karimi", deadline: deadline, appointment: &at})

	page := s.get(officer, "/staff/?code="+code, 200)
	for _, want := range []string{"Reza Karimi", "استعلام گواهینامه رانندگی", "همه زمان‌ها به وقت وین", "۵ روز مانده",
		"۱۴۱۰/۰۲/۱۶", "۱۰:۳۰", `<bdi dir="ltr" class="greg">6 May 2031</bdi>`, `<bdi dir="ltr">` + code + `</bdi>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the Persian queue lacks %q", want)
		}
	}
	if strings.Contains(page, "۰۸:۳۰") || strings.Contains(page, ">driving_licence_inquiry<") {
		t.Error("the Persian queue shows UTC times or a raw service code")
	}

	english(officer)
	page = s.get(officer, "/staff/?code="+code, 200)
	for _, want := range []string{"Reza Karimi", "Driving-licence inquiry", "All times are Vienna time", "5 days left", "6 May 2031, 10:30"} {
		if !strings.Contains(page, want) {
			t.Errorf("the English queue lacks %q", want)
		}
	}
	if strings.Contains(page, "1410/") || strings.Contains(page, "class=\"greg\"") {
		t.Error("the English queue shows Solar Hijri dates")
	}
}

// Search takes a tracking code as people type it: without dashes, in
// Persian digits, or only its first digits; never another mission's.
func TestQueueSearchReadsTheCodeAsTyped(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	other := s.add(deskRequest{name: "Other"})
	foreign := s.add(deskRequest{mission: "FR-PAR", name: "Elsewhere"})
	digits := strings.ReplaceAll(s.code, "-", "")
	persian := strings.Map(func(r rune) rune { return '۰' + r - '0' }, digits)
	for _, typed := range []string{s.code, digits, persian, " " + s.code[:9] + " "} {
		got := codes(s.get(officer, "/staff/?code="+url.QueryEscape(typed), 200))
		if len(got) == 0 || got[0] != s.code || (len(typed) > 12 && len(got) != 1) {
			t.Errorf("search %q lists %v, want %s", typed, got, s.code)
		}
		for _, c := range got {
			if c == other && len(typed) > 12 || c == foreign {
				t.Errorf("search %q lists %s", typed, c)
			}
		}
	}
	if got := codes(s.get(officer, "/staff/?code="+strings.ReplaceAll(foreign, "-", ""), 200)); len(got) != 0 {
		t.Errorf("another mission's request is found: %v", got)
	}
	// A wrong check digit is said to be wrong, with what was typed kept.
	bad := digits[:13] + string('0'+(digits[13]-'0'+1)%10)
	page := s.get(officer, "/staff/?code="+bad, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `value="`+bad+`"`) || !strings.Contains(page, `id="code-error"`) || len(codes(page)) != 0 {
		t.Fatal("a mistyped code neither keeps what was typed nor says what is wrong")
	}
}

// Dates are typed in the Solar Hijri calendar on Persian pages (Persian
// digits too) and as ISO dates on English ones, and mean the mission's
// calendar day; what cannot be read is kept in the field with the error.
func TestQueueDateFiltersReadJalaliAndISOInTheMissionsCalendar(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	// 23:30 UTC on 20 March 2025 is 00:30 on 21 March in Vienna, Nowruz
	// (1404/01/01); 22:30 UTC is still 20 March there.
	early := s.add(deskRequest{name: "Early", submitted: time.Date(2025, 3, 20, 23, 30, 0, 0, time.UTC)})
	before := s.add(deskRequest{name: "Before", submitted: time.Date(2025, 3, 20, 22, 30, 0, 0, time.UTC)})
	for _, q := range []string{"from=1404/01/01&to=1404/01/01", "from=" + url.QueryEscape("۱۴۰۴/۰۱/۰۱") + "&to=" + url.QueryEscape("۱۴۰۴/۱/۱")} {
		page := s.get(officer, "/staff/?"+q, 200)
		if got := codes(page); len(got) != 1 || got[0] != early {
			t.Errorf("%s lists %v, want only %s (not %s, which is 2 December in Vienna)", q, got, early, before)
		}
		if !strings.Contains(page, `value="۱۴۰۴/۰۱/۰۱"`) {
			t.Errorf("%s: the field does not show the day in the page's calendar", q)
		}
	}
	page := s.get(officer, "/staff/?from="+url.QueryEscape("۱۴۰۵/۱۳/۴۰"), http.StatusUnprocessableEntity)
	if !strings.Contains(page, `value="۱۴۰۵/۱۳/۴۰"`) || !strings.Contains(page, `id="from-error"`) || !strings.Contains(page, `aria-invalid="true"`) ||
		!strings.Contains(page, "error-summary") || len(codes(page)) != 0 {
		t.Fatal("an unreadable date is not kept with its error, or a list is shown as if filtered")
	}

	page = s.get(officer, "/staff/?from=1404/01/02&to=1404/01/01", http.StatusUnprocessableEntity)
	if !strings.Contains(page, `id="to-error"`) || len(codes(page)) != 0 {
		t.Fatal("a range that ends before it starts is not refused")
	}

	english(officer)
	if got := codes(s.get(officer, "/staff/?from=2025-03-21&to=2025-03-21", 200)); len(got) != 1 || got[0] != early {
		t.Errorf("ISO dates on the English page list %v, want %s", got, early)
	}
	page = s.get(officer, "/staff/?from=1405/09/12", http.StatusUnprocessableEntity)
	if !strings.Contains(page, `value="1405/09/12"`) || !strings.Contains(page, "This date could not be read") {
		t.Fatal("a Solar Hijri date on the English page is not refused clearly")
	}
}

// Sorting is by a whitelist of columns: anything else, SQL included, is
// the default order; the headers' links keep the other filters.
func TestQueueSortsByWhitelistedColumnsOnly(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	now := time.Now()
	var byDeadline []string
	for i, name := range []string{"Cyrus", "Ava", "Bahar"} {
		// The later submitted, the nearer the deadline.
		byDeadline = append([]string{s.add(deskRequest{name: name, submitted: now.Add(time.Duration(i) * time.Minute),
			deadline: now.Add(time.Duration(10-i) * 24 * time.Hour)})}, byDeadline...)
	}
	got := codes(s.get(officer, "/staff/?sort=deadline&service=apostille&status=awaiting_appointment", 200))
	if fmt.Sprint(got[:3]) != fmt.Sprint(byDeadline) {
		t.Fatalf("by deadline: %v, want %v first", got, byDeadline)
	}
	page := s.get(officer, "/staff/?sort=-name", 200)
	if i, j := strings.Index(page, "Cyrus"), strings.Index(page, "Ava"); i < 0 || j < 0 || i > j {
		t.Fatal("not sorted by name, descending")
	}
	// Every header and chip keeps the filters it does not change.
	page = s.get(officer, "/staff/?service=apostille&status=awaiting_appointment", 200)
	link := regexp.MustCompile(`href="([^"]*)" id="sort-deadline"`).FindStringSubmatch(page)
	if link == nil || !strings.Contains(html.UnescapeString(link[1]), "service=apostille") || !strings.Contains(html.UnescapeString(link[1]), "status=awaiting_appointment") {
		t.Fatalf("the deadline header's link drops the filters: %v", link)
	}
	if !strings.Contains(page, `aria-current="true">`+"در انتظار نوبت") {
		t.Error("the current status chip is not marked")
	}

	newest := codes(s.get(officer, "/staff/", 200))
	for _, hostile := range []string{"submitted_at; DROP TABLE requests; --", "r.tracking_code", "1", "-deadline,(SELECT pg_sleep(5))"} {
		if got := codes(s.get(officer, "/staff/?sort="+url.QueryEscape(hostile), 200)); fmt.Sprint(got) != fmt.Sprint(newest) {
			t.Errorf("sort=%q: %v, want the default order %v", hostile, got, newest)
		}
	}
	var n int
	if err := s.db.QueryRow(s.ctx, "SELECT count(*) FROM requests").Scan(&n); err != nil || n != 4 {
		t.Fatalf("requests after hostile sorts: %d, %v", n, err)
	}
}

// A page lists at most MaxPageSize requests whatever it asks for, and its
// pages (keyset on the sorted column) visit each request once.
func TestQueuePagesAreBoundedAndCoverEveryRequestOnce(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	now := time.Now()
	if _, err := s.db.Exec(s.ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, version)
		SELECT '7' || lpad(i::text, 13, '0'), 'submitted', 'apostille', 'AT-VIE', $1::timestamptz - i * interval '1 minute', $1::timestamptz + (i % 7) * interval '1 day', 1
		FROM generate_series(1, 130) i`, now); err != nil {
		t.Fatal(err)
	}
	if got := len(codes(s.get(officer, "/staff/?per=100000", 200))); got != 100 {
		t.Fatalf("per=100000 lists %d requests, want at most 100", got)
	}
	if got := len(codes(s.get(officer, "/staff/", 200))); got != 50 {
		t.Fatalf("the first page lists %d requests, want 50", got)
	}
	// By deadline (many ties), 40 a page: every request once.
	seen := map[string]int{}
	path := "/staff/?sort=deadline&per=40"
	for pages := 0; path != "" && pages < 10; pages++ {
		page := s.get(officer, path, 200)
		for _, c := range codes(page) {
			seen[c]++
		}
		path = ""
		if m := regexp.MustCompile(`href="([^"]*)" rel="next"`).FindStringSubmatch(page); m != nil {
			path = "/staff/" + html.UnescapeString(m[1])
		}
	}
	if len(seen) != 131 {
		t.Fatalf("the pages listed %d requests, want 131", len(seen))
	}
	for c, n := range seen {
		if n != 1 {
			t.Fatalf("%s listed %d times", c, n)
		}
	}
}

// The status chips count the mission's requests (of the chosen service).
func TestQueueChipsCountByStatusAndService(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	english(officer)
	s.add(deskRequest{status: "attended", service: "passport_renewal"})
	s.add(deskRequest{status: "attended"})
	s.add(deskRequest{status: "attended", mission: "FR-PAR"})
	chip := func(page, label string) string {
		m := regexp.MustCompile(label + ` <span class="n">(\d+)</span>`).FindStringSubmatch(page)
		if m == nil {
			return ""
		}
		return m[1]
	}
	page := s.get(officer, "/staff/", 200)
	if chip(page, "All") != "3" || chip(page, "Attended") != "2" || chip(page, "Awaiting appointment") != "1" {
		t.Fatalf("counts: all %s, attended %s, awaiting %s; want 3, 2, 1", chip(page, "All"), chip(page, "Attended"), chip(page, "Awaiting appointment"))
	}
	page = s.get(officer, "/staff/?service=passport_renewal", 200)
	if chip(page, "All") != "1" || chip(page, "Attended") != "1" || chip(page, "Awaiting appointment") != "" {
		t.Fatalf("counts of one service: all %s, attended %s", chip(page, "All"), chip(page, "Attended"))
	}
}

// The day's appointments, grouped by the hour at the mission's counter,
// each with its time, applicant, service, status and link; another day
// can be typed in the Solar Hijri calendar.
func TestTodayListsTheMissionsAppointmentsByHour(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	now := time.Now().In(vienna)
	at := func(h, m int) *time.Time {
		v := time.Date(now.Year(), now.Month(), now.Day(), h, m, 0, 0, vienna)
		return &v
	}
	first := s.add(deskRequest{status: "appointment_booked", name: "Nine Fifteen", appointment: at(9, 15)})
	s.add(deskRequest{status: "attended", name: "Nine Forty", service: "passport_renewal", appointment: at(9, 40)})
	s.add(deskRequest{status: "appointment_booked", name: "Two", appointment: at(14, 0)})
	s.add(deskRequest{status: "appointment_booked", name: "Tomorrow", appointment: at(33, 0)})
	s.add(deskRequest{status: "appointment_booked", name: "Paris", mission: "FR-PAR", appointment: at(10, 0)})

	page := s.get(officer, "/staff/today", 200)
	hours := regexp.MustCompile(`<h2 id="h(\d+)">`).FindAllStringSubmatch(page, -1)
	if len(hours) != 2 || hours[0][1] != "9" || hours[1][1] != "14" {
		t.Fatalf("hour groups %v, want 9 and 14", hours)
	}
	for _, want := range []string{"Nine Fifteen", "۰۹:۱۵", "Nine Forty", "حضور ثبت‌شده", "Two", `href="/staff/requests/` + first + `"`, "تأیید و تصدیق اسناد", "۳ نوبت؛ ۱ حضور ثبت‌شده"} {
		if !strings.Contains(page, want) {
			t.Errorf("today's page lacks %q", want)
		}
	}
	if strings.Contains(page, "Tomorrow") || strings.Contains(page, "Paris") {
		t.Error("today's page lists another day's or another mission's appointment")
	}
	tomorrow := at(33, 0).Format(time.DateOnly)
	if page := s.get(officer, "/staff/today?day="+tomorrow, 200); !strings.Contains(page, "Tomorrow") || strings.Contains(page, "Two") {
		t.Error("the next day's page does not list that day's appointment alone")
	}
	// The hour on Vienna's clock now is marked: the counter's next people.
	s.add(deskRequest{status: "appointment_booked", name: "Right Now", appointment: &now})
	if page := s.get(officer, "/staff/today", 200); !strings.Contains(page, fmt.Sprintf(`<section class="hour now" aria-labelledby="h%d">`, now.Hour())) {
		t.Error("the current hour is not marked")
	}
	page = s.get(officer, "/staff/today?day=nonsense", http.StatusUnprocessableEntity)
	if !strings.Contains(page, `value="nonsense"`) || !strings.Contains(page, `id="day-error"`) {
		t.Fatal("an unreadable day is not kept with its error")
	}
}

// An admin's queue spans missions: each row names its mission and shows
// its times in that mission's zone (Tokyo's appointment at Tokyo's clock).
func TestAdminQueueShowsEachRequestInItsMissionsTime(t *testing.T) {
	s, logins := newStaffApp(t)
	admin := logins["admin"]
	s.mustSignIn(admin)
	english(admin)
	at := time.Date(2031, 5, 6, 1, 0, 0, 0, time.UTC) // 10:00 in Tokyo, 03:00 in Vienna
	tokyo := s.add(deskRequest{mission: "JP-TYO", name: "In Tokyo", appointment: &at})
	vie := s.add(deskRequest{name: "In Vienna", appointment: &at})
	page := s.get(admin, "/staff/?code="+tokyo, 200)
	if !strings.Contains(page, "6 May 2031, 10:00") || !strings.Contains(page, ">JP-TYO<") || !strings.Contains(page, "Each time is in its mission") {
		t.Fatalf("the admin's queue does not show Tokyo's request at Tokyo's clock, with its mission:\n%s", page[strings.Index(page, "<main"):])
	}
	if page := s.get(admin, "/staff/?code="+vie, 200); !strings.Contains(page, "6 May 2031, 03:00") {
		t.Fatal("the admin's queue does not show Vienna's request at Vienna's clock")
	}
}

// The day's list is bounded, and says so when more were booked.
func TestTodayListIsBounded(t *testing.T) {
	s, logins := newStaffApp(t)
	officer := logins["officer"]
	s.mustSignIn(officer)
	english(officer)
	now := time.Now().In(vienna)
	noon := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, vienna)
	if _, err := s.db.Exec(s.ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at, version)
		SELECT '6' || lpad(i::text, 13, '0'), 'appointment_booked', 'apostille', 'AT-VIE', now(), now() + interval '90 days', $1::timestamptz + (i % 60) * interval '1 second', 1
		FROM generate_series(1, $2::int) i`, noon, staff.TodayLimit+5); err != nil {
		t.Fatal(err)
	}
	page := s.get(officer, "/staff/today", 200)
	if n := strings.Count(page, `<li class="slot">`); n != staff.TodayLimit || !strings.Contains(page, `id="today-limit"`) {
		t.Fatalf("the day lists %d appointments (limit said: %v), want %d", n, strings.Contains(page, `id="today-limit"`), staff.TodayLimit)
	}
}

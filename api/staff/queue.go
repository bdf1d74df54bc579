package staff

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
)

// PageSize is how many requests a queue page lists unless asked otherwise;
// MaxPageSize is the most a page may ask for (?per=), so one request never
// reads a whole mission.
const (
	PageSize    = 50
	MaxPageSize = 100
)

// Row is one request in the queue: codes, dates and the applicant's name.
type Row struct {
	TrackingCode string
	Status       string
	ServiceCode  string
	MissionCode  string
	Name         string // as submitted; "" once purged
	SubmittedAt  time.Time
	DeadlineAt   time.Time
	Appointment  *time.Time
	DaysLeft     *int // calendar days to the deadline in the mission's zone, open requests only
}

// Left is the days left to an open request's deadline (negative: overdue).
func (r Row) Left() int {
	if r.DaysLeft == nil {
		return 0
	}
	return *r.DaysLeft
}

// Overdue is how many days an open request's deadline has passed.
func (r Row) Overdue() int { return -r.Left() }

// Urgency marks an open request whose deadline is near or past.
func (r Row) Urgency() string {
	switch {
	case r.DaysLeft == nil:
		return ""
	case *r.DaysLeft < 0:
		return "overdue"
	case *r.DaysLeft <= DueSoon:
		return "due"
	}
	return ""
}

// Filter is the queue's filters, as the page's query string carries them.
type Filter struct {
	Status, Service string
	Code            string // a whole tracking code, canonical
	Prefix          string // the start of a tracking code, with its dashes
	From, To        string // submission dates, YYYY-MM-DD, in the mission's calendar
	Day             string // appointment day, YYYY-MM-DD, in the mission's time zone
	Within          int    // deadline within N days (open requests only), nearest first
	Sort            string // a key of orders; "" is newest first, or nearest deadline under Within
	Limit           int    // rows per page: PageSize if 0, at most MaxPageSize
	After           string // keyset: the last row of the previous page, "value|code"
}

// order is one way the queue can be sorted: the column's SQL, the type its
// keyset value is cast to, and the direction. Only these strings ever
// reach ORDER BY; what the page asks for is a key of orders.
type order struct {
	expr, typ string
	desc      bool
}

var orders = map[string]order{
	"submitted":    {"r.submitted_at", "timestamptz", false},
	"-submitted":   {"r.submitted_at", "timestamptz", true},
	"deadline":     {"r.deadline_at", "timestamptz", false},
	"-deadline":    {"r.deadline_at", "timestamptz", true},
	"appointment":  {"COALESCE(r.appointment_at, 'infinity')", "timestamptz", false}, // none last either way
	"-appointment": {"COALESCE(r.appointment_at, '-infinity')", "timestamptz", true},
	"name":         {"r.applicant_name", "text", false}, // the applicant's name copied by a trigger (migration 00024)
	"-name":        {"r.applicant_name", "text", true},
}

// Column is a sortable column of the list, or a date field of the filter
// bar: its name and the message key of its heading or label.
type Column struct{ Name, Label string }

// Columns are the sortable columns, in the order of the list.
func (q *queueData) Columns() []Column {
	return []Column{{"name", "staff.queue.applicant"}, {"submitted", "staff.submitted"}, {"deadline", "staff.queue.deadline"}, {"appointment", "staff.appointment"}}
}

// Dates are the submission range's fields of the filter bar.
func (q *queueData) Dates() []Column {
	return []Column{{"from", "staff.queue.from"}, {"to", "staff.queue.to"}}
}

// sortable are the columns an officer can sort by, each with the direction
// its first click gives (newest submission, nearest deadline...).
var sortable = map[string]string{"submitted": "-submitted", "deadline": "deadline", "appointment": "appointment", "name": "name"}

// order is the filter's sort, checked against the whitelist.
func (f Filter) order() (string, order) {
	key := f.Sort
	if _, ok := orders[key]; !ok {
		key = "-submitted"
		if f.Within > 0 {
			key = "deadline"
		}
	}
	return key, orders[key]
}

func (f Filter) limit() int {
	if f.Limit <= 0 {
		return PageSize
	}
	return min(f.Limit, MaxPageSize)
}

type queueData struct {
	Member   Member
	Filter   Filter
	Rows     []Row
	Counts   map[string]int
	Total    int // of the counts: the "all" chip
	Next     string
	First    string // back to the first page, when not on it
	Status   []consular.Status
	Services []consular.Service
	City     string            // the mission's, for "times in Vienna time"; "" for admins
	More     bool              // the less used filters (appointment day, deadline within) are in use
	Invalid  bool              // a filter could not be read: no list, the form says why
	Errors   map[string]string // by field, in the page's words
	query    url.Values
}

// Link is the query string of this view with key set to value (removed
// when empty), on its first page: chips and headers keep every other filter.
func (q *queueData) Link(key, value string) string {
	v := url.Values{}
	for k, vs := range q.query {
		v[k] = vs
	}
	v.Del("after")
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	if len(v) == 0 {
		return "/staff/"
	}
	return "?" + v.Encode()
}

// SortLink is the link of a column's header: its first direction, or the
// other one if the list is sorted by it already.
func (q *queueData) SortLink(column string) string {
	first := sortable[column]
	current, _ := q.Filter.order()
	next := first
	if current == first {
		next = strings.TrimPrefix(first, "-")
		if next == first {
			next = "-" + first
		}
	}
	if next == "-submitted" && q.Filter.Within == 0 {
		next = "" // the default, and a shorter link
	}
	return q.Link("sort", next)
}

// SortState is aria-sort of a column's header.
func (q *queueData) SortState(column string) string {
	current, _ := q.Filter.order()
	switch strings.TrimPrefix(current, "-") {
	case column:
		if strings.HasPrefix(current, "-") {
			return "descending"
		}
		return "ascending"
	}
	return "none"
}

var allStatuses = []consular.Status{consular.StatusSubmitted, consular.StatusAwaitingAppointment, consular.StatusAppointmentBooked,
	consular.StatusAttended, consular.StatusApproved, consular.StatusRejected, consular.StatusCompleted, consular.StatusArchived,
	consular.StatusWithdrawn, consular.StatusRejectedDocuments}

// openStatuses are those whose deadline still matters.
const openStatuses = `('submitted', 'awaiting_appointment', 'appointment_booked', 'attended')`

// queueWhere selects a mission's requests; every filter is optional and
// each has an index that starts with the mission. Days (submission and
// appointment) are the mission's calendar days (UTC for admins'
// all-mission view). $8 and $9 are the keyset: the last row of the
// previous page, in the sort's column and the tracking code.
const queueWhere = `
WITH scope AS (SELECT COALESCE((SELECT time_zone FROM missions WHERE code = $1), 'UTC') AS zone)
SELECT r.tracking_code, r.status, r.service_code, r.mission_code, r.applicant_name, r.submitted_at, r.deadline_at, r.appointment_at
FROM requests r
WHERE ($1::text IS NULL OR r.mission_code = $1)
  AND ($2 = '' OR r.status = $2)
  AND ($3 = '' OR r.service_code = $3)
  AND ($4 = '' OR r.tracking_code = $4)
  AND ($12 = '' OR r.tracking_code LIKE $12 || '%')
  AND ($5::date IS NULL OR r.submitted_at >= $5::timestamp AT TIME ZONE (SELECT zone FROM scope))
  AND ($6::date IS NULL OR r.submitted_at < ($6::date + 1)::timestamp AT TIME ZONE (SELECT zone FROM scope))
  AND ($11::date IS NULL OR (r.appointment_at >= $11::timestamp AT TIME ZONE (SELECT zone FROM scope)
                         AND r.appointment_at < ($11::date + 1)::timestamp AT TIME ZONE (SELECT zone FROM scope)))
  AND ($7 = 0 OR (r.deadline_at < now() + make_interval(days => $7) AND r.status IN ` + openStatuses + `))`

// queueSQL is the list under each order, built once from the whitelist.
// Keyset pagination on (column, tracking_code) keeps deep pages as fast as
// the first along the indexes that have the column.
var queueSQL = func() map[string]string {
	out := map[string]string{}
	for key, o := range orders {
		op, dir := ">", ""
		if o.desc {
			op, dir = "<", " DESC"
		}
		out[key] = queueWhere + fmt.Sprintf(`
  AND ($8::text IS NULL OR (%[1]s, r.tracking_code) %[2]s ($8::text::%[3]s, $9))
ORDER BY %[1]s%[4]s, r.tracking_code%[4]s
LIMIT $10`, o.expr, op, o.typ, dir)
	}
	return out
}()

// countsSQL reads the counts a trigger keeps beside the projection, for the
// service chosen if any.
const countsSQL = `SELECT status, sum(n)::bigint FROM request_counts
WHERE ($1::text IS NULL OR mission_code = $1) AND ($2 = '' OR service_code = $2) GROUP BY status`

// Cursor is the keyset of the page after the one ending with last: the
// value of the column the list is ordered by and the tracking code.
func (f Filter) Cursor(last Row) string {
	key, o := f.order()
	var v string
	switch strings.TrimPrefix(key, "-") {
	case "submitted":
		v = last.SubmittedAt.UTC().Format(time.RFC3339Nano)
	case "deadline":
		v = last.DeadlineAt.UTC().Format(time.RFC3339Nano)
	case "appointment":
		switch {
		case last.Appointment != nil:
			v = last.Appointment.UTC().Format(time.RFC3339Nano)
		case o.desc:
			v = "-infinity"
		default:
			v = "infinity"
		}
	case "name":
		v = last.Name
	}
	return v + "|" + last.TrackingCode
}

// cursor reads After for the filter's order; one that does not fit the
// order (edited, or from another sort) starts from the first page.
func (f Filter) cursor() (*string, string) {
	i := strings.LastIndexByte(f.After, '|')
	if i < 0 || len(f.After) > 400 {
		return nil, ""
	}
	value, code := f.After[:i], f.After[i+1:]
	if _, o := f.order(); o.typ == "timestamptz" && value != "infinity" && value != "-infinity" {
		if _, err := time.Parse(time.RFC3339Nano, value); err != nil {
			return nil, ""
		}
	}
	return &value, code
}

// List is one page of a mission's queue (every mission's when mission is
// nil) under the filter, and the mission's count of requests per status
// (of the filter's service, if any).
func List(ctx context.Context, db *pgxpool.Pool, mission *string, f Filter) ([]Row, map[string]int, error) {
	afterValue, afterCode := f.cursor()
	date := func(s string) *string {
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil
		}
		return &s
	}
	key, _ := f.order()
	rows, err := db.Query(ctx, queueSQL[key], mission, f.Status, f.Service, f.Code, date(f.From), date(f.To), f.Within,
		afterValue, afterCode, f.limit(), date(f.Day), f.Prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("list queue: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanRow)
	if err != nil {
		return nil, nil, fmt.Errorf("list queue: %w", err)
	}
	counts, err := Counts(ctx, db, mission, f.Service)
	return list, counts, err
}

// Counts is the number of a mission's requests (every mission's when
// mission is nil) in each status, of one service or all ("").
func Counts(ctx context.Context, db *pgxpool.Pool, mission *string, service string) (map[string]int, error) {
	counts := map[string]int{}
	rows, err := db.Query(ctx, countsSQL, mission, service)
	if err != nil {
		return nil, fmt.Errorf("count queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count queue: %w", err)
		}
		counts[s] = n
	}
	return counts, rows.Err()
}

func scanRow(row pgx.CollectableRow) (Row, error) {
	var r Row
	return r, row.Scan(&r.TrackingCode, &r.Status, &r.ServiceCode, &r.MissionCode, &r.Name, &r.SubmittedAt, &r.DeadlineAt, &r.Appointment)
}

// zones caches the missions' time zones by code (missions.json is fixed
// for the life of the process).
var zones sync.Map

// missionZone is a mission's time zone; UTC for one missions.json lacks.
func missionZone(code string) *time.Location {
	if loc, ok := zones.Load(code); ok {
		return loc.(*time.Location)
	}
	loc := time.UTC
	if m, ok := consular.Missions.Mission(code); ok {
		if l, err := time.LoadLocation(m.TimeZone); err == nil {
			loc = l
		}
	}
	zones.Store(code, loc)
	return loc
}

// inMissionTime moves a row's times into its mission's zone and counts
// the days left to an open request's deadline, as the mission's calendar
// counts them.
func inMissionTime(r *Row, now time.Time) {
	loc := missionZone(r.MissionCode)
	r.SubmittedAt, r.DeadlineAt = r.SubmittedAt.In(loc), r.DeadlineAt.In(loc)
	if r.Appointment != nil {
		t := r.Appointment.In(loc)
		r.Appointment = &t
	}
	if consular.Status(r.Status).Final() {
		return
	}
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	y, m, d = r.DeadlineAt.Date()
	days := int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(today).Hours() / 24)
	r.DaysLeft = &days
}

// DueSoon is how many days before its deadline a request is marked.
const DueSoon = 7

// parseDay reads a day typed into a filter: Solar Hijri (Persian digits
// too) or ISO on Persian pages, ISO on English ones; years outside
// 1900-2200 are typing mistakes (a Solar Hijri year on an English page).
func parseDay(typed, lang string) (string, bool) {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return "", true
	}
	t, err := i18n.ParseDate(typed, lang)
	if err != nil || t.Year() < 1900 || t.Year() > 2200 {
		return "", false
	}
	return t.Format(time.DateOnly), true
}

// parseCode reads the search box: a whole tracking code (dashes, spaces,
// Persian digits as typed) or its first digits (at least four).
func parseCode(typed string) (code, prefix string, ok bool) {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return "", "", true
	}
	if c, err := consular.ParseTrackingCode(typed); err == nil {
		return string(c), "", true
	}
	var digits strings.Builder
	for _, r := range consular.NormalizeDigits(typed) {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '-' || r == ' ' || r == '\u00a0':
		default:
			return "", "", false
		}
	}
	d := digits.String()
	if len(d) < 4 || len(d) > 13 {
		return "", "", false
	}
	var b strings.Builder
	for i, r := range d {
		if i == 4 || i == 8 || i == 12 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return "", b.String(), true
}

// readFilter reads the queue's filter from the query string; what cannot
// be read is kept as typed in form, with its error worded in errs.
func (d *Dashboard) readFilter(c *fiber.Ctx, lang string) (Filter, *web.Form, map[string]string) {
	t := func(key string) string { return d.Render.Messages.T(lang, key) }
	form := web.NewForm()
	errs := map[string]string{}
	f := Filter{After: c.Query("after")}
	if s := c.Query("status"); slices.Contains(allStatuses, consular.Status(s)) {
		f.Status = s
	}
	if s, ok := consular.ServiceByCode(c.Query("service")); ok {
		f.Service = s.Code
	}
	if _, ok := orders[c.Query("sort")]; ok {
		f.Sort = c.Query("sort")
	}
	f.Within, _ = strconv.Atoi(consular.NormalizeDigits(c.Query("within")))
	f.Within = min(max(f.Within, 0), 3650) // days: none (off) to ten years
	f.Limit, _ = strconv.Atoi(c.Query("per"))
	f.Limit = min(max(f.Limit, 0), MaxPageSize)

	typed := func(name string) string { v := strings.Clone(c.Query(name)); form.Values[name] = v; return v }
	var ok bool
	fail := func(field, key string, args ...any) {
		form.Fail(field, key, args...)
		errs[field] = d.Render.Messages.T(lang, key, args...)
	}
	if f.Code, f.Prefix, ok = parseCode(typed("code")); !ok {
		fail("code", "staff.queue.bad_code")
		form.Labels["code"] = t("staff.queue.search")
	}
	for _, fd := range []struct {
		name, label string
		into        *string
	}{{"from", "staff.queue.from", &f.From}, {"to", "staff.queue.to", &f.To}, {"day", "staff.day", &f.Day}} {
		day, ok := parseDay(typed(fd.name), lang)
		if !ok {
			fail(fd.name, "staff.queue.bad_date", web.LTR(dateExample(lang)))
			form.Labels[fd.name] = t(fd.label)
			continue
		}
		*fd.into = day
		if day != "" { // shown back in the page's calendar
			at, _ := time.Parse(time.DateOnly, day)
			form.Values[fd.name] = i18n.InputDate(at, lang)
		}
	}
	if f.From != "" && f.To != "" && f.To < f.From { // ISO dates order as strings
		fail("to", "staff.queue.bad_range")
		form.Labels["to"] = t("staff.queue.to")
	}
	return f, form, errs
}

// query is the filter as the page's links carry it.
func (f Filter) query() url.Values {
	q := url.Values{}
	keep := func(key, value string) {
		if value != "" {
			q.Set(key, value)
		}
	}
	keep("status", f.Status)
	keep("service", f.Service)
	keep("code", f.Code+f.Prefix)
	keep("from", f.From)
	keep("to", f.To)
	keep("day", f.Day)
	if f.Within > 0 {
		keep("within", strconv.Itoa(f.Within))
	}
	keep("sort", f.Sort)
	if f.Limit > 0 {
		keep("per", strconv.Itoa(f.Limit))
	}
	return q
}

func (d *Dashboard) queue(c *fiber.Ctx, m Member) error {
	lang := web.Language(c)
	f, form, errs := d.readFilter(c, lang)
	q := f.query()
	data := &queueData{Member: m, Filter: f, Status: allStatuses, Services: consular.Services, query: q, Errors: errs,
		More: f.Day != "" || f.Within > 0 || form.Errors["day"] != ""}
	if m.Mission != "" {
		if info, ok := consular.Missions.Mission(m.Mission); ok {
			data.City = info.City.In(lang)
		}
	}
	status := fiber.StatusOK
	var rows []Row
	var counts map[string]int
	var err error
	if form.OK() {
		rows, counts, err = List(c.UserContext(), d.DB, m.scope(), f)
	} else {
		// A list that looked filtered but was not would mislead: none
		// until the filter reads.
		data.Invalid, status = true, fiber.StatusUnprocessableEntity
		counts, err = Counts(c.UserContext(), d.DB, m.scope(), f.Service)
	}
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range rows {
		inMissionTime(&rows[i], now)
	}
	data.Rows, data.Counts = rows, counts
	for _, n := range counts {
		data.Total += n
	}
	if len(rows) == f.limit() {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("after", f.Cursor(rows[len(rows)-1]))
		data.Next = "?" + next.Encode()
	}
	if f.After != "" {
		data.First = data.Link("after", "")
	}
	pg := d.page(c, "staff.queue.title", data)
	pg.Form = form
	return d.Render.Render(c, status, "staff_queue", pg)
}

// dateExample is how a day is typed on the page.
func dateExample(lang string) string {
	if lang == i18n.Persian {
		return "۱۴۰۵/۰۹/۱۲"
	}
	return "2026-12-03"
}

package staff

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/consular"
)

// PageSize is how many requests a queue page lists.
const PageSize = 50

// Row is one request in the queue: codes and dates, nothing personal.
type Row struct {
	TrackingCode string
	Status       string
	ServiceCode  string
	MissionCode  string
	SubmittedAt  time.Time
	DeadlineAt   time.Time
	Appointment  *time.Time
}

// Filter is the queue's filters, as the page's query string carries them.
type Filter struct {
	Status, Service, Code string
	From, To              string // submission dates, YYYY-MM-DD
	Day                   string // appointment day, YYYY-MM-DD, in the mission's time zone
	Within                int    // deadline within N days (open requests only), nearest first
	After                 string // keyset: the last row of the previous page, "RFC3339|code"
}

type queueData struct {
	Member   Member
	Filter   Filter
	Rows     []Row
	Counts   map[string]int
	Next     string // the query string of the next page, if any
	Status   []consular.Status
	Services []consular.Service
	Title    string
}

var allStatuses = []consular.Status{consular.StatusSubmitted, consular.StatusAwaitingAppointment, consular.StatusAppointmentBooked,
	consular.StatusAttended, consular.StatusApproved, consular.StatusRejected, consular.StatusCompleted, consular.StatusArchived,
	consular.StatusWithdrawn, consular.StatusRejectedDocuments}

// queueWhere selects a mission's requests; every filter is optional and
// each has an index that starts with the mission. An appointment day is the
// mission's calendar day (UTC for admins' all-mission view). $8 and $9 are
// the keyset: the last row of the previous page.
const queueWhere = `
WITH scope AS (SELECT COALESCE((SELECT time_zone FROM missions WHERE code = $1), 'UTC') AS zone)
SELECT tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at
FROM requests
WHERE ($1::text IS NULL OR mission_code = $1)
  AND ($2 = '' OR status = $2)
  AND ($3 = '' OR service_code = $3)
  AND ($4 = '' OR tracking_code = $4)
  AND ($5::date IS NULL OR submitted_at >= $5::date)
  AND ($6::date IS NULL OR submitted_at < $6::date + 1)
  AND ($11::date IS NULL OR (appointment_at >= $11::timestamp AT TIME ZONE (SELECT zone FROM scope)
                         AND appointment_at < ($11 + 1)::timestamp AT TIME ZONE (SELECT zone FROM scope)))`

// queueSQL lists the newest first; keyset pagination on (submitted_at,
// tracking_code) keeps deep pages as fast as the first.
const queueSQL = queueWhere + `
  AND $7 = 0 -- the deadline filter's days: off here (deadlineSQL)
  AND ($8::timestamptz IS NULL OR (submitted_at, tracking_code) < ($8, $9))
ORDER BY submitted_at DESC, tracking_code DESC
LIMIT $10`

// deadlineSQL is the deadline filter's list: open requests whose deadline
// falls within $7 days, the nearest deadline first (the ones to chase
// first), along requests_mission_open_deadline_code.
const deadlineSQL = queueWhere + `
  AND $7 > 0 AND deadline_at < now() + make_interval(days => $7)
  AND status IN ('submitted', 'awaiting_appointment', 'appointment_booked', 'attended')
  AND ($8::timestamptz IS NULL OR (deadline_at, tracking_code) > ($8, $9))
ORDER BY deadline_at, tracking_code
LIMIT $10`

// countsSQL reads the counts a trigger keeps beside the projection.
const countsSQL = `SELECT status, sum(n)::bigint FROM request_counts WHERE ($1::text IS NULL OR mission_code = $1) GROUP BY status`

func (d *Dashboard) queue(c *fiber.Ctx, m Member) error {
	f := Filter{Status: c.Query("status"), Service: c.Query("service"), From: c.Query("from"), To: c.Query("to"), Day: c.Query("day"), After: c.Query("after")}
	if code, err := consular.ParseTrackingCode(c.Query("code")); err == nil {
		f.Code = string(code)
	}
	f.Within, _ = strconv.Atoi(c.Query("within"))
	f.Within = min(max(f.Within, 0), 3650) // days: none (off) to ten years
	rows, counts, err := List(c.UserContext(), d.DB, m.scope(), f)
	if err != nil {
		return err
	}
	data := &queueData{Member: m, Filter: f, Rows: rows, Counts: counts, Status: allStatuses, Services: consular.Services, Title: "staff.queue.title"}
	if len(rows) == PageSize {
		q := c.Context().QueryArgs()
		q.Set("after", f.Cursor(rows[len(rows)-1]))
		data.Next = string(q.QueryString())
	}
	return d.Render.Render(c, fiber.StatusOK, "staff_queue", d.page(c, "staff.queue.title", data))
}

// Cursor is the keyset of the page after the one ending with last: what
// the list is ordered by (the deadline under the deadline filter, else the
// submission) and the tracking code.
func (f Filter) Cursor(last Row) string {
	at := last.SubmittedAt
	if f.Within > 0 {
		at = last.DeadlineAt
	}
	return at.UTC().Format(time.RFC3339Nano) + "|" + last.TrackingCode
}

// List is one page of a mission's queue (every mission's when mission is
// nil) under the filter, and the mission's count of requests per status.
func List(ctx context.Context, db *pgxpool.Pool, mission *string, f Filter) ([]Row, map[string]int, error) {
	var afterAt *time.Time
	afterCode := ""
	if at, code, ok := strings.Cut(f.After, "|"); ok {
		if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
			afterAt, afterCode = &t, code
		}
	}
	date := func(s string) *string {
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return nil
		}
		return &s
	}
	sql := queueSQL
	if f.Within > 0 {
		sql = deadlineSQL
	}
	rows, err := db.Query(ctx, sql, mission, f.Status, f.Service, f.Code, date(f.From), date(f.To), f.Within, afterAt, afterCode, PageSize, date(f.Day))
	if err != nil {
		return nil, nil, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Row, error) {
		var r Row
		return r, row.Scan(&r.TrackingCode, &r.Status, &r.ServiceCode, &r.MissionCode, &r.SubmittedAt, &r.DeadlineAt, &r.Appointment)
	})
	if err != nil {
		return nil, nil, err
	}
	counts := map[string]int{}
	crows, err := db.Query(ctx, countsSQL, mission)
	if err != nil {
		return nil, nil, err
	}
	defer crows.Close()
	for crows.Next() {
		var s string
		var n int
		if err := crows.Scan(&s, &n); err != nil {
			return nil, nil, err
		}
		counts[s] = n
	}
	return list, counts, crows.Err()
}

// todaySQL is the day's appointments at the member's mission, the day being
// the mission's own calendar day.
const todaySQL = `
SELECT r.tracking_code, r.status, r.service_code, r.mission_code, r.submitted_at, r.deadline_at, r.appointment_at
FROM requests r JOIN missions m ON m.code = r.mission_code
WHERE ($1::text IS NULL OR r.mission_code = $1)
  AND r.appointment_at IS NOT NULL
  AND (r.appointment_at AT TIME ZONE m.time_zone)::date = (now() AT TIME ZONE m.time_zone)::date
ORDER BY r.appointment_at`

func (d *Dashboard) today(c *fiber.Ctx, m Member) error {
	rows, err := d.DB.Query(c.UserContext(), todaySQL, m.scope())
	if err != nil {
		return err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Row, error) {
		var r Row
		return r, row.Scan(&r.TrackingCode, &r.Status, &r.ServiceCode, &r.MissionCode, &r.SubmittedAt, &r.DeadlineAt, &r.Appointment)
	})
	if err != nil {
		return err
	}
	data := &queueData{Member: m, Rows: list, Status: allStatuses, Title: "staff.today.title"}
	return d.Render.Render(c, fiber.StatusOK, "staff_queue", d.page(c, "staff.today.title", data))
}

package staff

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
)

// todaySQL is a day's appointments at the member's mission (every
// mission's for admins), the day being each mission's own calendar day:
// the one asked ($2), else today there.
const todaySQL = `
SELECT r.tracking_code, r.status, r.service_code, r.mission_code, COALESCE(a.full_name, ''), r.submitted_at, r.deadline_at, r.appointment_at
FROM requests r JOIN missions m ON m.code = r.mission_code
LEFT JOIN request_applicants a ON a.tracking_code = r.tracking_code
WHERE ($1::text IS NULL OR r.mission_code = $1)
  AND r.appointment_at IS NOT NULL
  AND (r.appointment_at AT TIME ZONE m.time_zone)::date = COALESCE($2::date, (now() AT TIME ZONE m.time_zone)::date)
ORDER BY r.appointment_at, r.tracking_code
LIMIT $3`

// TodayLimit bounds the day's list: a mission's counters see far fewer in
// a day, but an admin's day spans every mission.
const TodayLimit = 1000

// Hour is one hour of the day's appointments, in the mission's time.
type Hour struct {
	At   time.Time
	Rows []Row
	Now  bool // the hour on the mission's clock now: the counter's next people
}

type todayData struct {
	Member   Member
	Day      time.Time // noon of the day shown, in the mission's zone
	IsToday  bool
	City     string // the mission's; "" for admins (each mission in its own time)
	Prev     string
	Next     string
	Hours    []Hour
	Total    int
	Attended int    // seen already (attended or decided)
	Error    string // the day typed could not be read
	Limit    int    // the list stops here: more were booked
}

// today is the counter's view of a day: the mission's appointments by
// hour, each with its time, applicant, service, status and link.
func (d *Dashboard) today(c *fiber.Ctx, m Member) error {
	lang := web.Language(c)
	loc := time.UTC
	data := &todayData{Member: m}
	if m.Mission != "" {
		loc = missionZone(m.Mission)
		if info, ok := consular.Missions.Mission(m.Mission); ok {
			data.City = info.City.In(lang)
		}
	}
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, loc)
	form := web.NewForm()
	status := fiber.StatusOK
	var day *string
	data.Day = today
	typed := strings.Clone(c.Query("day"))
	form.Values["day"] = typed
	if iso, ok := parseDay(typed, lang); !ok {
		form.Fail("day", "staff.queue.bad_date", web.LTR(dateExample(lang)))
		data.Error = d.Render.Messages.T(lang, "staff.queue.bad_date", web.LTR(dateExample(lang)))
		form.Labels["day"] = d.Render.Messages.T(lang, "staff.today.day")
		status = fiber.StatusUnprocessableEntity
	} else if iso != "" {
		t, _ := time.ParseInLocation(time.DateOnly, iso, loc)
		data.Day, day = t.Add(12*time.Hour), &iso
	}
	data.IsToday = data.Day.Equal(today) // with no day asked, admins see each mission's own today
	data.Prev = "?day=" + data.Day.AddDate(0, 0, -1).Format(time.DateOnly)
	data.Next = "?day=" + data.Day.AddDate(0, 0, 1).Format(time.DateOnly)

	var list []Row
	if status == fiber.StatusOK {
		rows, err := d.DB.Query(c.UserContext(), todaySQL, m.scope(), day, TodayLimit+1)
		if err != nil {
			return fmt.Errorf("list the day's appointments: %w", err)
		}
		if list, err = pgx.CollectRows(rows, scanRow); err != nil {
			return fmt.Errorf("list the day's appointments: %w", err)
		}
		if len(list) > TodayLimit {
			list, data.Limit = list[:TodayLimit], TodayLimit
		}
	}
	for i := range list {
		inMissionTime(&list[i], now)
	}
	// By the clock at the counter (an admin's missions lie in several zones).
	clock := func(r Row) int { return r.Appointment.Hour()*60 + r.Appointment.Minute() }
	slices.SortStableFunc(list, func(a, b Row) int { return clock(a) - clock(b) })
	for _, r := range list {
		a := *r.Appointment
		if n := len(data.Hours); n == 0 || data.Hours[n-1].At.Hour() != a.Hour() {
			at := time.Date(a.Year(), a.Month(), a.Day(), a.Hour(), 0, 0, 0, a.Location())
			data.Hours = append(data.Hours, Hour{At: at, Now: data.IsToday && m.Mission != "" && now.Hour() == a.Hour()})
		}
		h := &data.Hours[len(data.Hours)-1]
		h.Rows = append(h.Rows, r)
		data.Total++
		switch consular.Status(r.Status) {
		case consular.StatusAttended, consular.StatusApproved, consular.StatusRejected, consular.StatusCompleted:
			data.Attended++
		}
	}
	pg := d.page(c, "staff.today.title", data)
	pg.Form = form
	return d.Render.Render(c, status, "staff_today", pg)
}

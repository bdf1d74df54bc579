package appointments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/schedule"
)

// TemplateInput is one weekly template as supervisors write it: in a JSON
// file for `api schedules set`, or on the dashboard's schedule page.
type TemplateInput struct {
	Weekdays    json.RawMessage `json:"weekdays"` // {"1": [["09:00","12:30"]], ...}, 1 = Monday
	SlotMinutes int             `json:"slot_minutes"`
	Capacity    int             `json:"capacity"`
	Services    []string        `json:"services"`
	ValidFrom   string          `json:"valid_from,omitempty"`
	ValidUntil  string          `json:"valid_until,omitempty"`
}

// Template checks the input and turns it into the template slots come from.
func (in TemplateInput) Template(id int64) (schedule.Template, error) {
	t := schedule.Template{ID: id, SlotMinutes: in.SlotMinutes, Capacity: in.Capacity, Services: in.Services}
	var err error
	if t.Weekdays, err = ParseWeekdays(in.Weekdays); err != nil {
		return t, err
	}
	for _, d := range []struct {
		in  string
		out *schedule.Date
	}{{in.ValidFrom, &t.ValidFrom}, {in.ValidUntil, &t.ValidUntil}} {
		if d.in != "" {
			if *d.out, err = schedule.ParseDate(d.in); err != nil {
				return t, err
			}
		}
	}
	return t, t.Validate()
}

// Stranded is a booked appointment a new schedule no longer offers: it stays
// booked, for the mission to handle.
type Stranded struct {
	TrackingCode string
	StartsAt     time.Time
}

// SetTemplates replaces a mission's templates, in one transaction, after
// checking every one; it returns the booked appointments they leave out.
func SetTemplates(ctx context.Context, db *pgxpool.Pool, mission string, inputs []TemplateInput) ([]Stranded, error) {
	loc, err := missionZone(ctx, db, mission)
	if err != nil {
		return nil, err
	}
	var templates []schedule.Template
	for i, in := range inputs {
		t, err := in.Template(int64(i + 1))
		if err != nil {
			return nil, fmt.Errorf("template %d: %w", i+1, err)
		}
		templates = append(templates, t)
	}
	rows, err := db.Query(ctx, `SELECT tracking_code, starts_at FROM appointments
		WHERE mission_code = $1 AND status = 'booked' AND starts_at > now() ORDER BY starts_at`, mission)
	if err != nil {
		return nil, err
	}
	booked, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Stranded])
	if err != nil {
		return nil, err
	}
	var stranded []Stranded
	if len(booked) > 0 {
		offered := map[time.Time]bool{}
		for _, s := range schedule.Slots(loc, templates, nil, time.Now(), booked[len(booked)-1].StartsAt.Add(time.Minute)) {
			offered[s.Start.UTC()] = true
		}
		for _, b := range booked {
			if !offered[b.StartsAt.UTC()] {
				b.StartsAt = b.StartsAt.In(loc)
				stranded = append(stranded, b)
			}
		}
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "DELETE FROM schedule_templates WHERE mission_code = $1", mission); err != nil {
		return nil, err
	}
	for _, in := range inputs {
		services := append([]string{}, in.Services...)
		if _, err := tx.Exec(ctx, `INSERT INTO schedule_templates (mission_code, weekdays, slot_minutes, capacity, services, valid_from, valid_until)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::date, NULLIF($7, '')::date)`, mission, []byte(in.Weekdays), in.SlotMinutes, in.Capacity,
			services, in.ValidFrom, in.ValidUntil); err != nil {
			return nil, err
		}
	}
	return stranded, tx.Commit(ctx)
}

// Templates are a mission's templates as they were written.
func Templates(ctx context.Context, db *pgxpool.Pool, mission string) ([]TemplateInput, error) {
	rows, err := db.Query(ctx, `SELECT weekdays, slot_minutes, capacity, services,
		COALESCE(to_char(valid_from, 'YYYY-MM-DD'), ''), COALESCE(to_char(valid_until, 'YYYY-MM-DD'), '')
		FROM schedule_templates WHERE mission_code = $1 ORDER BY id`, mission)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (TemplateInput, error) {
		var t TemplateInput
		var weekdays []byte
		err := row.Scan(&weekdays, &t.SlotMinutes, &t.Capacity, &t.Services, &t.ValidFrom, &t.ValidUntil)
		t.Weekdays = weekdays
		return t, err
	})
}

// ClosureRow is a stored closure with its booked appointments.
type ClosureRow struct {
	ID     int64
	Day    string // YYYY-MM-DD
	Start  string // HH:MM, "" for the whole day
	End    string
	Reason string
	Booked int // appointments booked that day
}

// Closures are a mission's closures from a day on, with the bookings each
// day holds.
func Closures(ctx context.Context, db *pgxpool.Pool, mission string, from schedule.Date) ([]ClosureRow, error) {
	rows, err := db.Query(ctx, `SELECT c.id, to_char(c.day, 'YYYY-MM-DD'), COALESCE(to_char(c.start_time, 'HH24:MI'), ''),
		COALESCE(to_char(c.end_time, 'HH24:MI'), ''), c.reason,
		(SELECT count(*) FROM appointments a WHERE a.mission_code = c.mission_code AND a.status = 'booked'
			AND (a.starts_at AT TIME ZONE m.time_zone)::date = c.day)
		FROM closures c JOIN missions m ON m.code = c.mission_code
		WHERE c.mission_code = $1 AND c.day >= $2::date ORDER BY c.day, c.start_time NULLS FIRST`, mission, from.String())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ClosureRow])
}

// AddClosure closes a mission on a day or part of it; it returns how many
// appointments are booked that day (they stay booked, for the mission to
// handle).
func AddClosure(ctx context.Context, db *pgxpool.Pool, mission string, c schedule.Closure) (int, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	var start, end *string
	if !c.WholeDay() {
		s, e := c.Start.String(), c.End.String()
		start, end = &s, &e
	}
	var id int64
	if err := db.QueryRow(ctx, `INSERT INTO closures (mission_code, day, start_time, end_time, reason) VALUES ($1, $2::date, $3::time, $4::time, $5)
		RETURNING id`, mission, c.Date.String(), start, end, c.Reason).Scan(&id); err != nil {
		return 0, err
	}
	var booked int
	err := db.QueryRow(ctx, `SELECT count(*) FROM appointments a JOIN missions m ON m.code = a.mission_code
		WHERE a.mission_code = $1 AND a.status = 'booked' AND (a.starts_at AT TIME ZONE m.time_zone)::date = $2::date`,
		mission, c.Date.String()).Scan(&booked)
	return booked, err
}

// RemoveClosure reopens what a closure closed; false if the mission has no
// such closure.
func RemoveClosure(ctx context.Context, db *pgxpool.Pool, mission string, id int64) (bool, error) {
	tag, err := db.Exec(ctx, "DELETE FROM closures WHERE id = $1 AND mission_code = $2", id, mission)
	return tag.RowsAffected() == 1, err
}

func missionZone(ctx context.Context, db *pgxpool.Pool, mission string) (*time.Location, error) {
	var zone string
	if err := db.QueryRow(ctx, "SELECT time_zone FROM missions WHERE code = $1", mission).Scan(&zone); err != nil {
		return nil, fmt.Errorf("mission %s: %w", mission, err)
	}
	return time.LoadLocation(zone)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/api/booking"
	"github.com/openconsular/consular/internal/schedule"
)

// templateFile is one template as supervisors write it (api schedules set).
type templateFile struct {
	Weekdays    json.RawMessage `json:"weekdays"` // {"1": [["09:00","12:30"]], ...}, 1 = Monday
	SlotMinutes int             `json:"slot_minutes"`
	Capacity    int             `json:"capacity"`
	Services    []string        `json:"services"`
	ValidFrom   *string         `json:"valid_from"`
	ValidUntil  *string         `json:"valid_until"`
}

// schedules is `api schedules set MISSION FILE.json` (replace the mission's
// templates) and `api closures add MISSION DAY [HH:MM HH:MM] REASON`, the
// supervisors' tools until the staff dashboard has its pages. A template
// change that removes slots with bookings lists those appointments: they
// stay booked, for the mission to handle.
func schedules(ctx context.Context, out io.Writer, db *pgxpool.Pool, args []string) error {
	if len(args) < 2 {
		return errors.New("usage: api schedules set MISSION FILE.json | api closures add MISSION YYYY-MM-DD [HH:MM HH:MM] REASON")
	}
	switch args[0] {
	case "set":
		fs := flag.NewFlagSet("schedules set", flag.ContinueOnError)
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 2 {
			return errors.New("usage: api schedules set MISSION FILE.json")
		}
		return setTemplates(ctx, out, db, fs.Arg(0), fs.Arg(1))
	case "add":
		return addClosure(ctx, out, db, args[1:])
	}
	return fmt.Errorf("unknown: %s", args[0])
}

func setTemplates(ctx context.Context, out io.Writer, db *pgxpool.Pool, mission, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var files []templateFile
	if err := json.Unmarshal(b, &files); err != nil {
		return fmt.Errorf("%s: want a JSON list of templates: %w", file, err)
	}
	var zone string
	if err := db.QueryRow(ctx, "SELECT time_zone FROM missions WHERE code = $1", mission).Scan(&zone); err != nil {
		return fmt.Errorf("mission %s: %w", mission, err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return err
	}
	var templates []schedule.Template
	for i, f := range files {
		t := schedule.Template{ID: int64(i + 1), SlotMinutes: f.SlotMinutes, Capacity: f.Capacity, Services: f.Services}
		if t.Weekdays, err = booking.ParseWeekdays(f.Weekdays); err != nil {
			return fmt.Errorf("template %d: %w", i+1, err)
		}
		for _, d := range []struct {
			in  *string
			out *schedule.Date
		}{{f.ValidFrom, &t.ValidFrom}, {f.ValidUntil, &t.ValidUntil}} {
			if d.in != nil && *d.in != "" {
				if *d.out, err = schedule.ParseDate(*d.in); err != nil {
					return fmt.Errorf("template %d: %w", i+1, err)
				}
			}
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("template %d: %w", i+1, err)
		}
		templates = append(templates, t)
	}

	// Booked appointments the new templates no longer offer.
	rows, err := db.Query(ctx, `SELECT tracking_code, starts_at FROM appointments
		WHERE mission_code = $1 AND status = 'booked' AND starts_at > now() ORDER BY starts_at`, mission)
	if err != nil {
		return err
	}
	type booked struct {
		code string
		at   time.Time
	}
	var bookings []booked
	for rows.Next() {
		var bk booked
		if err := rows.Scan(&bk.code, &bk.at); err != nil {
			rows.Close()
			return err
		}
		bookings = append(bookings, bk)
	}
	rows.Close()
	if len(bookings) > 0 {
		offered := map[time.Time]bool{}
		for _, s := range schedule.Slots(loc, templates, nil, time.Now(), bookings[len(bookings)-1].at.Add(time.Minute)) {
			offered[s.Start.UTC()] = true
		}
		for _, bk := range bookings {
			if !offered[bk.at.UTC()] {
				fmt.Fprintf(out, "outside the new schedule, still booked: %s at %s\n", bk.code, bk.at.In(loc).Format("2006-01-02 15:04 MST"))
			}
		}
	}

	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "DELETE FROM schedule_templates WHERE mission_code = $1", mission); err != nil {
		return err
	}
	for _, f := range files {
		if _, err := tx.Exec(ctx, `INSERT INTO schedule_templates (mission_code, weekdays, slot_minutes, capacity, services, valid_from, valid_until)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::date, NULLIF($7, '')::date)`, mission, []byte(f.Weekdays), f.SlotMinutes, f.Capacity,
			append([]string{}, f.Services...), deref(f.ValidFrom), deref(f.ValidUntil)); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %d template(s) set\n", mission, len(files))
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func addClosure(ctx context.Context, out io.Writer, db *pgxpool.Pool, args []string) error {
	if len(args) != 3 && len(args) != 5 {
		return errors.New("usage: api closures add MISSION YYYY-MM-DD [HH:MM HH:MM] REASON")
	}
	day, err := schedule.ParseDate(args[1])
	if err != nil {
		return err
	}
	c := schedule.Closure{Date: day, Reason: args[len(args)-1]}
	if len(args) == 5 {
		if c.Start, err = schedule.ParseClock(args[2]); err != nil {
			return err
		}
		if c.End, err = schedule.ParseClock(args[3]); err != nil {
			return err
		}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	var start, end *string
	if !c.WholeDay() {
		s, e := c.Start.String(), c.End.String()
		start, end = &s, &e
	}
	if _, err := db.Exec(ctx, `INSERT INTO closures (mission_code, day, start_time, end_time, reason) VALUES ($1, $2::date, $3::time, $4::time, $5)`,
		args[0], day.String(), start, end, c.Reason); err != nil {
		return err
	}
	var booked int
	_ = db.QueryRow(ctx, `SELECT count(*) FROM appointments a JOIN missions m ON m.code = a.mission_code
		WHERE a.mission_code = $1 AND a.status = 'booked' AND (a.starts_at AT TIME ZONE m.time_zone)::date = $2::date`, args[0], day.String()).Scan(&booked)
	fmt.Fprintf(out, "%s closed on %s (%s); %d booked appointment(s) that day need the mission's attention\n", args[0], day, c.Reason, booked)
	return nil
}

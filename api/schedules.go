package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/schedule"
)

// schedules is `api schedules set MISSION FILE.json` (replace the mission's
// templates) and `api closures add MISSION DAY [HH:MM HH:MM] REASON`, the
// same as the dashboard's schedule page, for scripts. A template
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
	var inputs []appointments.TemplateInput
	if err := json.Unmarshal(b, &inputs); err != nil {
		return fmt.Errorf("%s: want a JSON list of templates: %w", file, err)
	}
	stranded, err := appointments.SetTemplates(ctx, db, mission, inputs)
	if err != nil {
		return err
	}
	for _, s := range stranded {
		fmt.Fprintf(out, "outside the new schedule, still booked: %s at %s\n", s.TrackingCode, s.StartsAt.Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(out, "%s: %d template(s) set\n", mission, len(inputs))
	return nil
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
	booked, err := appointments.AddClosure(ctx, db, args[0], c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s closed on %s (%s); %d booked appointment(s) that day need the mission's attention\n", args[0], day, c.Reason, booked)
	return nil
}

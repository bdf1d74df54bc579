package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/apiclients"
)

const clientsUsage = "usage: api clients add --name N --missions A,B [--per-hour N] | api clients list | api clients revoke --id ID"

// operator is how the audit log names whoever runs these commands: someone
// with the database's credentials, not a staff member.
const operator = "command line"

// clients is `api clients add|list|revoke`: registered API clients (a
// mission's kiosk) that may submit requests. A new client's token is
// printed once; only its SHA-256 is kept. Each add and revoke is audited.
func clients(ctx context.Context, out io.Writer, db *pgxpool.Pool, args []string) error {
	if len(args) == 0 {
		return errors.New(clientsUsage)
	}
	switch args[0] {
	case "add":
		fs := flag.NewFlagSet("clients add", flag.ContinueOnError)
		name := fs.String("name", "", "what the client is, e.g. \"kiosk, Vienna embassy hall\"")
		missions := fs.String("missions", "", "the missions it may submit to, comma-separated codes (AT-VIE,FR-PAR)")
		perHour := fs.Int("per-hour", apiclients.DefaultPerHour, "submissions an hour it may make")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		c, token, err := apiclients.Create(ctx, db, apiclients.Spec{Name: *name, Missions: strings.Split(*missions, ","), PerHour: *perHour})
		if err != nil {
			return fmt.Errorf("clients add: %w", err)
		}
		if err := apiclients.Audit(ctx, db, apiclients.Entry{Actor: operator, Action: "api_client_add", Outcome: "ok",
			Detail: fmt.Sprintf("%s (#%d) %s %d/h", c.Name, c.ID, strings.Join(c.Missions, ","), c.PerHour)}); err != nil {
			return err
		}
		fmt.Fprintf(out, "API client %q (#%d) added for %s, %d submissions an hour\n  token (shown once): %s\n",
			c.Name, c.ID, strings.Join(c.Missions, ", "), c.PerHour, token)
		return nil
	case "list":
		list, err := apiclients.List(ctx, db)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tMISSIONS\tPER HOUR\tCREATED\tLAST USED\tREVOKED")
		when := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.UTC().Format(time.RFC3339)
		}
		for _, c := range list {
			fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", c.ID, c.Name, strings.Join(c.Missions, ","), c.PerHour,
				c.CreatedAt.UTC().Format(time.RFC3339), when(c.LastUsedAt), when(c.RevokedAt))
		}
		return w.Flush()
	case "revoke":
		fs := flag.NewFlagSet("clients revoke", flag.ContinueOnError)
		id := fs.Int64("id", 0, "the client's ID (api clients list)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		c, err := apiclients.Get(ctx, db, *id)
		if err != nil {
			return fmt.Errorf("clients revoke: %w", err)
		}
		revoked, err := apiclients.Revoke(ctx, db, c.ID)
		if err != nil {
			return err
		}
		if !revoked {
			fmt.Fprintf(out, "API client %q (#%d) was revoked already\n", c.Name, c.ID)
			return nil
		}
		if err := apiclients.Audit(ctx, db, apiclients.Entry{Actor: operator, Action: "api_client_revoke", Outcome: "ok",
			Detail: fmt.Sprintf("%s (#%d)", c.Name, c.ID)}); err != nil {
			return err
		}
		fmt.Fprintf(out, "API client %q (#%d) revoked: its token no longer works\n", c.Name, c.ID)
		return nil
	}
	return errors.New(clientsUsage)
}

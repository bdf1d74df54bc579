package database_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/testenv"
)

// migrations is a migrated database of the test's own and a goose
// provider over it, to move between versions.
func migrations(t *testing.T) (*pgxpool.Pool, *goose.Provider) {
	t.Helper()
	pool, _ := testenv.Database(t)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	fsys, err := fs.Sub(database.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return pool, provider
}

// Every migration can be undone (a rollback after a bad deploy) and applied
// again: down to nothing, then up, ends where it began.
func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	ctx := context.Background()
	pool, provider := migrations(t) // migrated
	latest, err := provider.GetDBVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("after every Down, %d tables are left", tables)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if v, err := provider.GetDBVersion(ctx); err != nil || v != latest {
		t.Fatalf("up again ends at version %d (%v), want %d", v, err, latest)
	}
}

// Migration 00016 gives every saved submission its caller: the portal's
// (keys "draft:<id>") their draft's account, so a resubmitted draft still
// finds its request; the anonymous API's "anonymous". Two callers may then
// use one key.
func TestSubmissionsSavedBeforeCallersKeepTheirKeys(t *testing.T) {
	ctx := context.Background()
	pool, provider := migrations(t)
	if _, err := provider.DownTo(ctx, 15); err != nil {
		t.Fatalf("down: %v", err)
	}
	var account int64
	if err := pool.QueryRow(ctx, "INSERT INTO accounts (email, national_id) VALUES ('a@example.org', '0013542419') RETURNING id").Scan(&account); err != nil {
		t.Fatal(err)
	}
	draft := "6f1c1f2e-8d3a-4b7e-9c55-2a0f1e3d4c5b"
	for _, q := range []string{
		"INSERT INTO request_drafts (id, account_id, service_code, tracking_code) VALUES ('" + draft + "', $1, 'apostille', '1111-1111-1111-11')",
		"INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ('draft:" + draft + "', '1111-1111-1111-11', 'apostille', 'AT-VIE', now())",
		"INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ('kiosk-1', '2222-2222-2222-22', 'apostille', 'AT-VIE', now())",
	} {
		args := []any{}
		if strings.Contains(q, "$1") {
			args = append(args, account)
		}
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := provider.UpTo(ctx, 16); err != nil {
		t.Fatalf("up: %v", err)
	}
	rows, err := pool.Query(ctx, "SELECT idempotency_key || ' ' || caller FROM submissions ORDER BY tracking_code")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("draft:%s account:%d", draft, account), "kiosk-1 anonymous"}
	if !slices.Equal(got, want) {
		t.Fatalf("callers %q, want %q", got, want)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO submissions (caller, idempotency_key, tracking_code, service_code, mission_code, submitted_at)
		VALUES ('client:1', 'kiosk-1', '3333-3333-3333-33', 'apostille', 'AT-VIE', now())`); err != nil {
		t.Fatalf("another caller's same key: %v", err)
	}
}

// Migration 00024 copies the applicant's name into the projection for the
// queue's name sort: a request projected before its applicant row and one
// after both carry it, requests projected before the migration get it, and
// purging the applicant clears the copy with the row (personal data).
func TestRequestsCarryTheirApplicantsNameWhicheverRowComesFirst(t *testing.T) {
	ctx := context.Background()
	pool, provider := migrations(t)
	if _, err := provider.DownTo(ctx, 23); err != nil {
		t.Fatalf("down: %v", err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	submit := func(code, name string) {
		exec(`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, 'apostille', 'AT-VIE', now())`, code)
		exec(`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language) VALUES ($1, '0013542419', 'a@example.org', $2, 'fa')`, code, name)
	}
	project := func(code string) {
		exec(`INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, version)
			VALUES ($1, 'submitted', 'apostille', 'AT-VIE', now(), now() + interval '90 days', 1)`, code)
	}
	submit("1111-1111-1111-11", "Before Migration") // projected before 00024
	project("1111-1111-1111-11")
	if _, err := provider.UpTo(ctx, 24); err != nil {
		t.Fatalf("up: %v", err)
	}
	submit("2222-2222-2222-22", "Applicant First")
	project("2222-2222-2222-22")
	project("3333-3333-3333-33") // the projection before the submission's row: not what the code does, but nothing forbids it
	submit("3333-3333-3333-33", "Request First")
	project("4444-4444-4444-44") // no applicant kept (an API client's request before profiles)
	names := func() []string {
		t.Helper()
		rows, err := pool.Query(ctx, "SELECT tracking_code || ' ' || applicant_name FROM requests ORDER BY tracking_code")
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := []string{"1111-1111-1111-11 Before Migration", "2222-2222-2222-22 Applicant First", "3333-3333-3333-33 Request First", "4444-4444-4444-44 "}
	if got := names(); !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	exec(`UPDATE request_applicants SET full_name = 'Corrected Name' WHERE tracking_code = '2222-2222-2222-22'`)
	exec(`DELETE FROM request_applicants WHERE tracking_code = '3333-3333-3333-33'`) // the purge
	want[1], want[2] = "2222-2222-2222-22 Corrected Name", "3333-3333-3333-33 "
	if got := names(); !slices.Equal(got, want) {
		t.Fatalf("after a change and a purge: %q, want %q", got, want)
	}
}

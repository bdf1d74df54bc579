package database_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/testenv"
)

// Every migration can be undone (a rollback after a bad deploy) and applied
// again: down to nothing, then up, ends where it began.
func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	ctx := context.Background()
	pool, _ := testenv.Database(t) // migrated
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	fsys, err := fs.Sub(database.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
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

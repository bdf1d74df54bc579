package database_test

import (
	"context"
	"sync"
	"testing"

	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/testenv"
)

// The API and the worker may start at the same moment on an empty database:
// both migrate, the advisory lock lets one apply and the other find nothing to do.
func TestMigrateAppliesOnceWhenStartedTwiceAtOnce(t *testing.T) {
	ctx := context.Background()
	pool, url := testenv.Database(t)
	if _, err := pool.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err) // start from an empty database rather than the migrated template
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = database.Migrate(ctx, url, testenv.Logger(t)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var applied int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	var tables, missions int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'requests'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM missions WHERE active").Scan(&missions); err != nil {
		t.Fatal(err)
	}
	if missions < 30 {
		t.Errorf("%d open missions seeded, want at least 30", missions)
	}
	if tables != 1 || applied == 0 {
		t.Fatalf("after two concurrent migrations: %d requests tables, %d migrations recorded", tables, applied)
	}
}

func TestRequestsRefuseAnUnknownStatus(t *testing.T) {
	pool, _ := testenv.Database(t)
	_, err := pool.Exec(context.Background(), `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at)
		VALUES ('x', 'lost', 'passport', 'AT-VIE', now(), now())`)
	if err == nil {
		t.Fatal("a status outside the domain's words was stored")
	}
}

func TestOpenFailsClearlyOnAnUnreachableServer(t *testing.T) {
	pool, err := database.Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err) // opening is lazy
	}
	defer pool.Close()
	if err := pool.Ping(context.Background()); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
}

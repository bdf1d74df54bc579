// Package testenv hands integration tests the real servers of the test stack
// that `make test` starts once per run (deploy/launcher test). A test run
// without that stack fails with a message naming `make test`; it never skips.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/temporalclient"
)

const missing = "this integration test needs the test stack (PostgreSQL, Temporal, MinIO, Mailpit): " +
	"run `make test`, or one package with `go run ./deploy/launcher test -- go test ./PKG`"

// StackDir is the test stack's folder; tests may start private servers below it.
func StackDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CONSULAR_TEST_STACK")
	if dir == "" {
		t.Fatal(missing)
	}
	return dir
}

// Config is the configuration that points at the test stack.
func Config(t testing.TB) config.Config {
	t.Helper()
	StackDir(t)
	cfg, err := config.FromEnvironment()
	if err != nil {
		t.Fatalf("test stack configuration: %v", err)
	}
	return cfg
}

// Logger writes to the test's log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var databases atomic.Int64

// Database returns a pool on a fresh, migrated database of the test's own,
// cloned from the template the launcher migrated (milliseconds, not a
// migration run), and dropped when the test ends.
func Database(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	StackDir(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, os.Getenv("CONSULAR_TEST_ADMIN_DATABASE_URL"))
	if err != nil {
		t.Fatalf("connect to the test cluster: %v", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), databases.Add(1))
	template := os.Getenv("CONSULAR_TEST_TEMPLATE_DATABASE")
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize())); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	url := strings.Replace(os.Getenv("CONSULAR_TEST_ADMIN_DATABASE_URL"), "/postgres?", "/"+name+"?", 1)
	pool, err := database.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		admin, err := pgx.Connect(ctx, os.Getenv("CONSULAR_TEST_ADMIN_DATABASE_URL"))
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		_, _ = admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return pool, url
}

// Temporal returns a client of the test stack's Temporal server.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	cfg := Config(t)
	c, err := temporalclient.New(cfg.Temporal, cfg.Keys.Payload, Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TaskQueue is a task queue of the test's own, so workers of tests running
// side by side never take each other's tasks.
func TaskQueue(t testing.TB) string {
	return fmt.Sprintf("test-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// Storage returns a MinIO client of the test stack; its buckets exist.
func Storage(t testing.TB) *minio.Client {
	t.Helper()
	c, err := storage.New(Config(t).Storage)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A newcomer who is root clones into root's home folder or a mktemp -d
// folder, both 0700, where PostgreSQL (run as nobody) cannot enter: the
// stack starts anyway, and finds its data again the next time. Run as
// another user, the same start works from the user's own folder.
func TestPostgresStartsFromAFolderNobodyCanEnter(t *testing.T) {
	bins, err := FindPostgres()
	if err != nil {
		t.Fatal(err)
	}
	clone, err := os.MkdirTemp("", "consular-clone-") // 0700, like /root
	if err != nil {
		t.Fatal(err)
	}
	outside, err := os.MkdirTemp("", "consular-var-lib-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(clone); os.RemoveAll(outside) })
	if err := os.Chmod(outside, 0o711); err != nil {
		t.Fatal(err)
	}
	was := outsideFolders
	outsideFolders = filepath.Join(outside, "consular")
	t.Cleanup(func() { outsideFolders = was })

	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pg := Postgres{Bin: bins, Dir: filepath.Join(clone, ".state", "dev", "postgres"), Port: port}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func() *Process {
		t.Helper()
		p, err := pg.Start(ctx, filepath.Join(clone, "postgres.log"))
		if err != nil {
			t.Fatalf("start PostgreSQL with its data in a 0700 clone: %v", err)
		}
		t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
		return p
	}
	p := start()
	if err := pg.CreateDatabase(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	start()
	if err := pg.CreateDatabase(ctx, "kept"); err != nil { // exists: nothing to do
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.URL("kept"))
	if err != nil {
		t.Fatalf("the database made before the restart is gone: %v", err)
	}
	conn.Close(ctx)
}

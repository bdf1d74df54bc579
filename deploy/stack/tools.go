// Package stack runs the system's real dependencies on one machine without
// Docker: PostgreSQL, the Temporal dev server, MinIO and Mailpit, each a
// child process on 127.0.0.1 with its data in one folder. `make dev` keeps
// that folder; `make test` starts a throwaway stack on free ports.
package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Tool is a server built from the Go module proxy at a pinned version.
type Tool struct {
	Name    string // the binary's name in the cache
	Module  string // the main package's import path
	Version string
	// Toolchain, when set, is the Go toolchain this build alone needs
	// (GOTOOLCHAIN): the module asks for a newer Go than the project's.
	Toolchain string
}

// The pinned servers. A new version is a one-line change here; the old
// build stays in the cache beside it.
var (
	TemporalCLI = Tool{Name: "temporal", Module: "github.com/temporalio/cli/cmd/temporal", Version: "v1.5.1"}
	MinIOServer = Tool{Name: "minio", Module: "github.com/minio/minio", Version: "v0.0.0-20260212201848-7aac2a2c5b7c"}
	MailpitTool = Tool{Name: "mailpit", Module: "github.com/axllent/mailpit", Version: "v1.27.11"}
)

// Tools are the paths of the installed server binaries.
type Tools struct {
	Temporal string
	MinIO    string
	Mailpit  string
	Postgres PostgresBinaries
}

// ToolCache is the per-user folder the pinned servers are built into, outside
// any clone, so a fresh clone reuses them: $CONSULAR_TOOLS, or the user's
// cache folder (~/.cache/consular/tools).
func ToolCache() (string, error) {
	if dir := os.Getenv("CONSULAR_TOOLS"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for the tools (set CONSULAR_TOOLS): %w", err)
	}
	return filepath.Join(base, "consular", "tools"), nil
}

// Path is where the tool's binary lives in the cache.
func (t Tool) Path(cache string) string {
	return filepath.Join(cache, t.Name+"-"+t.Version, t.Name)
}

// Install builds the tool into the cache unless it is there already. It builds
// into a scratch folder and renames it into place, so two launchers building
// at once, or one interrupted, never leave half a binary behind.
func (t Tool) Install(ctx context.Context, cache string, progress io.Writer) (string, error) {
	bin := t.Path(cache)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp(cache, t.Name+"-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	fmt.Fprintf(progress, "building %s %s (first run only, a few minutes)...\n", t.Name, t.Version)
	cmd := exec.CommandContext(ctx, "go", "install", t.Module+"@"+t.Version)
	cmd.Dir = scratch // outside any module, so the project's go.mod plays no part
	cmd.Env = append(os.Environ(), "GOBIN="+scratch, "GOFLAGS=-mod=mod", "GOWORK=off")
	if t.Toolchain != "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+t.Toolchain)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", t.Module, t.Version, err, lastLines(out, 20))
	}
	// go install names the binary after the package (server, sql): give it
	// the tool's name, so the cache says what it is.
	if built := path.Base(t.Module); built != t.Name {
		if err := os.Rename(filepath.Join(scratch, built), filepath.Join(scratch, t.Name)); err != nil {
			return "", fmt.Errorf("install %s: %w", t.Name, err)
		}
	}
	if err := os.Rename(scratch, filepath.Dir(bin)); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(bin); statErr != nil { // not built by a launcher running beside us
			return "", fmt.Errorf("install %s: %w", t.Name, err)
		}
	}
	return bin, nil
}

// InstallTools builds whatever pinned server is missing, one at a time (two
// cores cannot build three servers at once without swapping), and finds
// PostgreSQL.
func InstallTools(ctx context.Context, progress io.Writer) (Tools, error) {
	var tools Tools
	pg, err := FindPostgres()
	if err != nil {
		return tools, err
	}
	tools.Postgres = pg
	cache, err := ToolCache()
	if err != nil {
		return tools, err
	}
	for _, t := range []struct {
		tool Tool
		dst  *string
	}{{MailpitTool, &tools.Mailpit}, {TemporalCLI, &tools.Temporal}, {MinIOServer, &tools.MinIO}} {
		if *t.dst, err = t.tool.Install(ctx, cache, progress); err != nil {
			return tools, err
		}
	}
	return tools, nil
}

// PostgresBinaries are the server programs of one PostgreSQL installation.
type PostgresBinaries struct {
	Initdb   string
	Postgres string
}

// FindPostgres looks on PATH, then under /usr/lib/postgresql/*/bin (Debian's
// layout, newest version first).
func FindPostgres() (PostgresBinaries, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(versions)))
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		b := PostgresBinaries{Initdb: filepath.Join(d, "initdb"), Postgres: filepath.Join(d, "postgres")}
		if isExecutable(b.Initdb) && isExecutable(b.Postgres) {
			return b, nil
		}
	}
	return PostgresBinaries{}, fmt.Errorf("PostgreSQL server not found (initdb, postgres): install it, e.g. `apt-get install postgresql`")
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

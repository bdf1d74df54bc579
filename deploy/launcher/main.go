// Command launcher runs the whole system on one machine from real servers
// built at pinned versions:
//
//	launcher dev             the dev stack, the worker and the API; data kept in .state/
//	launcher test -- CMD...  a throwaway stack on free ports, CMD run against it, then removed
//	launcher cluster         the production-shaped stack: the real Temporal server on PostgreSQL,
//	                         its Web UI, two APIs behind a proxy and three workers; data kept in .state/cluster/
//	launcher cluster-test -- CMD...  like test, on a throwaway production-shaped stack
//	launcher tools           build the pinned servers into the tool cache and exit
//	launcher cluster-tools   build the production-shaped stack's Temporal server, schema tool and UI
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
)

const usage = `usage:
  launcher dev              start the dev stack, the worker and the API (Ctrl-C stops all)
  launcher test -- CMD...   run CMD against a throwaway stack on free ports
  launcher cluster          start the production-shaped stack: the real Temporal server on
                            PostgreSQL, its Web UI, two APIs and three workers (Ctrl-C stops all)
  launcher cluster-test -- CMD...
                            run CMD against a throwaway production-shaped stack
  launcher tools            build the pinned servers into the tool cache
  launcher cluster-tools    build the real Temporal server, its schema tool and Web UI server,
                            and check the server's configuration and schema files`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fail(errors.New(usage))
	}
	// The launcher reads the same variables as the API and the worker, so a
	// namespace, bucket or credential set in the environment is the one the
	// stack is built with.
	// The stacks it starts listen on loopback only: development unless said
	// otherwise (the API and the worker themselves refuse to guess).
	if _, set := os.LookupEnv("CONSULAR_ENV"); !set {
		_ = os.Setenv("CONSULAR_ENV", string(config.Development))
	}
	base, err := config.FromEnvironment()
	if err != nil {
		fail(fmt.Errorf("configuration:\n%w", err))
	}
	switch os.Args[1] {
	case "dev":
		err = dev(ctx, base)
	case "test", "cluster-test":
		var code int
		code, err = test(ctx, base, os.Args[1] == "cluster-test", os.Args[2:])
		if err == nil {
			os.Exit(code)
		}
	case "cluster":
		err = cluster(ctx, base)
	case "tools":
		_, err = stack.InstallTools(ctx, os.Stdout)
	case "cluster-tools":
		err = clusterTools(ctx)
	default:
		err = errors.New(usage)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "launcher:", err)
	os.Exit(1)
}

// test starts a stack in a temporary folder, migrates a template database
// that tests clone, runs the command with the stack in its environment and
// removes everything afterwards, whatever the command's outcome. With
// cluster, the stack's Temporal is the real server on its PostgreSQL.
func test(ctx context.Context, base config.Config, cluster bool, args []string) (int, error) {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return 0, errors.New(usage)
	}
	started := time.Now()
	dir, err := os.MkdirTemp("", "consular-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o711); err != nil { // PostgreSQL, run as nobody, must reach its folder
		return 0, err
	}
	separate := false
	if cluster {
		if separate, err = separateServices(); err != nil {
			return 0, err
		}
	}
	s, err := stack.Start(ctx, stack.Options{Dir: dir, Headless: true, Base: base, Progress: os.Stderr, Cluster: cluster, SeparateServices: separate})
	if err != nil {
		// The folder goes with the error: show what the servers said first.
		return 0, fmt.Errorf("%w%s", err, logTails(filepath.Join(dir, "logs"), 15))
	}
	defer s.Stop()
	quiet := slog.New(slog.DiscardHandler)
	for _, db := range []string{testTemplateDB, "consular"} {
		if err := s.Postgres.CreateDatabase(ctx, db); err != nil {
			return 0, err
		}
		if err := database.Migrate(ctx, s.Postgres.URL(db), quiet); err != nil {
			return 0, err
		}
	}
	cache, _ := stack.ToolCache()
	kind := "test stack"
	if cluster {
		kind = "production-shaped test stack (Temporal " + stack.TemporalServer.Version + " on PostgreSQL, " + servicesShape(separate) + ")"
	}
	fmt.Fprintf(os.Stderr, "%s ready in %.1fs (%s)\n", kind, time.Since(started).Seconds(), dir)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(append(os.Environ(), s.Env("consular")...),
		"CONSULAR_ENV=test",
		"CONSULAR_TEST_STACK="+dir,
		"CONSULAR_TEST_ADMIN_DATABASE_URL="+s.Postgres.URL("postgres"),
		"CONSULAR_TEST_TEMPLATE_DATABASE="+testTemplateDB,
		fmt.Sprintf("CONSULAR_TEST_MAILPIT_URL=http://127.0.0.1:%d", s.Mailpit.UIPort),
		"CONSULAR_TOOLS="+cache,
	)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done(): // Ctrl-C reached the tests too; give them a moment to clean up
		select {
		case err = <-waited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			err = <-waited
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

const testTemplateDB = "consular_template"

// claimStateFolder makes the stack's state folder and locks it, so two
// launchers never run servers on the same data.
func claimStateFolder(path string) (dir string, unlock func(), err error) {
	if dir, err = filepath.Abs(path); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	unlock, err = lockFolder(dir)
	return dir, unlock, err
}

// dev runs the dev stack with the worker and the API until Ctrl-C. Data stays
// in the state folder, so the next run starts where this one stopped.
func dev(ctx context.Context, base config.Config) error {
	started := time.Now()
	dir, unlock, err := claimStateFolder(stateDir())
	if err != nil {
		return err
	}
	defer unlock()

	s, err := stack.Start(ctx, stack.Options{Dir: dir, Ports: stack.DevPorts, Base: base, Progress: os.Stdout,
		CodecEndpoint: base.HTTP.PublicURL + "/codec"})
	if err != nil {
		return err
	}
	defer s.Stop()
	if err := s.Postgres.CreateDatabase(ctx, "consular"); err != nil {
		return err
	}
	if err := database.Migrate(ctx, s.Postgres.URL("consular"), slog.Default()); err != nil {
		return err
	}

	env := append(append(os.Environ(), s.Env("consular")...), "CONSULAR_ENV=development")
	app, err := startApp(ctx, s, dir, env, base)
	if err != nil {
		return err
	}
	fmt.Printf(`
Consular services are running (ready in %.0fs). Ctrl-C stops everything; data stays in %s.

  Portal and API     %s   (health: /readyz)
  Temporal Web UI    http://127.0.0.1:%d   (namespace %s)
  Mailpit (mail)     http://127.0.0.1:%d
  MinIO console      http://127.0.0.1:%d   (user %s)
  PostgreSQL         %s

  Logs               %s
`, time.Since(started).Seconds(), dir, app.publicURL, s.Ports.TemporalUI, s.Temporal.Namespace,
		s.Ports.MailpitUI, s.Ports.MinIOConsole, s.MinIO.AccessKey, s.Postgres.URL("consular"), filepath.Join(dir, "logs"))

	watchUntilStopped(ctx, app.procs, "API, worker, then the servers")
	return nil
}

// watchUntilStopped says once when one of procs stops unexpectedly, until
// ctx ends (Ctrl-C), then says what is stopped, in order.
func watchUntilStopped(ctx context.Context, procs []*stack.Process, stopping string) {
	watch := time.NewTicker(2 * time.Second)
	defer watch.Stop()
	reported := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping: " + stopping + "...")
			return
		case <-watch.C:
			for _, p := range procs {
				if p.Exited() && !reported[p.Name] {
					reported[p.Name] = true
					fmt.Fprintf(os.Stderr, "%s stopped unexpectedly; see %s\n", p.Name, p.LogPath)
				}
			}
		}
	}
}

func stateDir() string {
	if d := os.Getenv("CONSULAR_STATE_DIR"); d != "" {
		return d
	}
	return ".state"
}

// lockFolder refuses a second `make dev` on the same state folder.
func lockFolder(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "launcher.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another launcher is running on %s (make dev already started?)", dir)
	}
	return func() { f.Close() }, nil
}

// logTails is the end of every log in dir, for an error that would
// otherwise point at a log about to be removed.
func logTails(dir string, n int) string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		out, err := os.ReadFile(l)
		if err != nil || len(out) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "\n--- %s ---\n%s", filepath.Base(l), strings.Join(lines, "\n"))
	}
	return b.String()
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/storage"
)

// rig is a throwaway stack like `launcher test` starts, plus the API and one
// worker, except that the soak holds each server's process so it can stop
// one and start it again on the same port and data.
type rig struct {
	st      *stack.Stack
	cfg     config.Config // the API's and the worker's view of the stack
	url     string        // the API
	mailpit string        // Mailpit's web UI and REST API
	app     *stack.App
	mu      sync.Mutex
	servers map[string]*stack.Process // the running process of each server, by name
	dbURL   string                    // the app's database
	token   string                    // the soak's API client, registered as an operator would
}

// Names of the servers, as stack.Stack.LogPath knows them.
const (
	serverPostgres = "postgres"
	serverTemporal = "temporal"
	serverMinIO    = "minio"
	serverMailpit  = "mailpit"
)

// startRig starts PostgreSQL, Temporal, MinIO and Mailpit side by side on
// free ports in dir, migrates the app's database, builds the API and the
// worker from the working tree and starts them. On failure nothing it
// started is left running.
func startRig(ctx context.Context, base config.Config, dir string) (_ *rig, err error) {
	tools, err := stack.InstallTools(ctx, os.Stderr)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	p := stack.Ports{Postgres: ports[0], Temporal: ports[1], TemporalUI: ports[2], MinIO: ports[3],
		MinIOConsole: ports[4], SMTP: ports[5], MailpitUI: ports[6]}
	st := &stack.Stack{
		Dir: dir, Ports: p, Tools: tools,
		Postgres: stack.Postgres{Bin: tools.Postgres, Dir: filepath.Join(dir, "postgres"), Port: p.Postgres},
		Temporal: stack.Temporal{Bin: tools.Temporal, DBFile: filepath.Join(dir, "temporal.db"), Port: p.Temporal,
			UIPort: p.TemporalUI, Namespace: base.Temporal.Namespace, Headless: true},
		MinIO: stack.MinIO{Bin: tools.MinIO, Dir: filepath.Join(dir, "minio"), Port: p.MinIO, ConsolePort: p.MinIOConsole,
			AccessKey: base.Storage.AccessKey, SecretKey: base.Storage.SecretKey, Buckets: storage.Buckets(base.Storage)},
		// Mailpit keeps its messages in this SQLite file, so they survive its restart.
		Mailpit: stack.Mailpit{Bin: tools.Mailpit, DBFile: filepath.Join(dir, "mailpit.db"), SMTPPort: p.SMTP, UIPort: p.MailpitUI},
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	r := &rig{st: st, servers: map[string]*stack.Process{}, mailpit: fmt.Sprintf("http://127.0.0.1:%d", p.MailpitUI)}
	defer func() {
		if err != nil {
			r.stop()
		}
	}()

	errs := make(chan error, 4)
	for _, name := range []string{serverPostgres, serverTemporal, serverMinIO, serverMailpit} {
		go func() { errs <- r.start(ctx, name) }()
	}
	var all []error
	for range 4 {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return nil, err
	}

	if err := st.Postgres.CreateDatabase(ctx, "consular"); err != nil {
		return nil, err
	}
	r.dbURL = st.Postgres.URL("consular")
	if err := database.Migrate(ctx, r.dbURL, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	return r, r.startApp(ctx, dir)
}

// startApp builds the API and the worker from the working tree, registers
// the soak's API client as an operator would, and starts them.
func (r *rig) startApp(ctx context.Context, dir string) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	httpAddr, workerAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	r.url = "http://" + httpAddr
	env := append(append(os.Environ(), r.st.Env("consular")...),
		"CONSULAR_ENV=test",
		"CONSULAR_HTTP_ADDR="+httpAddr,
		"CONSULAR_PUBLIC_URL="+r.url,
		"CONSULAR_WORKER_HTTP_ADDR="+workerAddr,
		"CONSULAR_LOG_LEVEL=info",
	)
	if r.cfg, err = config.Load(loadkit.Lookup(env)); err != nil {
		return fmt.Errorf("the app's configuration: %w", err)
	}
	bin := filepath.Join(dir, "bin")
	progress("building the API and the worker")
	if err := stack.BuildApp(ctx, bin); err != nil {
		return err
	}
	if r.token, err = loadkit.RegisterClient(ctx, bin, env, "soak "+time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	progress("starting the worker and the API")
	if r.app, err = stack.StartApp(ctx, stack.AppOptions{Bin: bin, LogDir: filepath.Join(dir, "logs"), Env: env,
		HTTPAddr: httpAddr, Temporal: r.st.Temporal.Address(), Namespace: r.st.Temporal.Namespace, TaskQueue: r.cfg.Temporal.TaskQueue}); err != nil {
		return err
	}
	r.st.Adopt(r.app.Worker, r.app.API)
	return nil
}

// start starts one server (again, after stop) on its port and data, and
// waits until it answers; the stack's Stop will stop it.
func (r *rig) start(ctx context.Context, name string) error {
	type server interface {
		Start(context.Context, string) (*stack.Process, error)
	}
	srv := map[string]server{serverPostgres: r.st.Postgres, serverTemporal: r.st.Temporal,
		serverMinIO: r.st.MinIO, serverMailpit: r.st.Mailpit}[name]
	p, err := srv.Start(ctx, r.st.LogPath(name)) // the log is appended to, so it tells both lives
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	r.st.Adopt(p)
	r.mu.Lock()
	r.servers[name] = p
	r.mu.Unlock()
	return nil
}

// stopServer stops one server gracefully (SIGTERM; killed after
// stack.StopTimeout), as an operator or an orchestrator would.
func (r *rig) stopServer(name string) error {
	r.mu.Lock()
	p := r.servers[name]
	r.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s is not running", name)
	}
	return p.Stop(stack.StopTimeout)
}

// stop ends everything: the API and the worker first (so the worker does not
// wait on a Temporal that is already gone), then the servers.
func (r *rig) stop() {
	if r.app != nil {
		if err := r.app.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
		}
	}
	r.st.Stop()
}

// logPath is where a process of the rig writes its output.
func (r *rig) logPath(name string) string { return r.st.LogPath(name) }

// freePorts asks the kernel for n distinct free ports.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		p, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
)

// rig is a throwaway stack (deploy/stack, as `launcher test` or `launcher
// cluster-test` starts it) with the API and the worker built from this
// tree. On the dev stack: one API and one worker. On the production-shaped
// stack (-stack cluster): the real Temporal server's four services as four
// processes, three workers and two APIs behind a round-robin proxy, as
// `make cluster` runs them. The soak holds every process so a fault can stop
// one and start it again on the same port and data.
type rig struct {
	st      *stack.Stack
	cluster bool
	cfg     config.Config // the API's and the worker's view of the stack
	url     string        // what the clients and the /readyz poller reach: the API, or the proxy over the APIs
	mailpit string        // Mailpit's web UI and REST API
	app     stack.AppOptions
	workers []stack.Replica
	apis    []stack.Replica
	proxy   *http.Server
	mu      sync.Mutex
	running map[string]*stack.Process // the API and worker processes, by replica name
	dbURL   string                    // the app's database
	token   string                    // the soak's API client, registered as an operator would
}

// Names of the servers, as stack.Stack.LogPath knows them.
const (
	serverPostgres = "postgres"
	serverTemporal = "temporal" // the dev server
	serverHistory  = "temporal-history"
	serverMinIO    = "minio"
	serverMailpit  = "mailpit"
)

// startRig starts the stack in dir, migrates the app's database, builds the
// API and the worker from the working tree and starts them. On failure
// nothing it started is left running.
func startRig(ctx context.Context, base config.Config, dir string, cluster bool) (_ *rig, err error) {
	st, err := stack.Start(ctx, stack.Options{Dir: dir, Headless: true, Base: base, Progress: os.Stderr,
		Cluster: cluster, SeparateServices: cluster})
	if err != nil {
		return nil, err
	}
	r := &rig{st: st, cluster: cluster, running: map[string]*stack.Process{},
		mailpit: fmt.Sprintf("http://127.0.0.1:%d", st.Mailpit.UIPort)}
	defer func() {
		if err != nil {
			r.stop()
		}
	}()
	if err := st.Postgres.CreateDatabase(ctx, "consular"); err != nil {
		return nil, err
	}
	r.dbURL = st.Postgres.URL("consular")
	if err := database.Migrate(ctx, r.dbURL, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	return r, r.startApp(ctx, dir)
}

// replicas names the workers and APIs of the stack's shape, each on a free
// port of its own.
func (r *rig) replicas() error {
	nWorkers, nAPIs := 1, 1
	if r.cluster {
		nWorkers, nAPIs = 3, 2
	}
	ports, err := freePorts(nWorkers + nAPIs + 1)
	if err != nil {
		return err
	}
	name := func(kind string, i, n int) string {
		if n == 1 {
			return kind
		}
		return fmt.Sprintf("%s-%d", kind, i+1)
	}
	for i := range nWorkers {
		r.workers = append(r.workers, stack.Replica{Name: name("worker", i, nWorkers), HTTPAddr: fmt.Sprintf("127.0.0.1:%d", ports[i])})
	}
	for i := range nAPIs {
		r.apis = append(r.apis, stack.Replica{Name: name("api", i, nAPIs), HTTPAddr: fmt.Sprintf("127.0.0.1:%d", ports[nWorkers+i])})
	}
	r.url = "http://" + r.apis[0].HTTPAddr
	if r.cluster {
		r.url = fmt.Sprintf("http://127.0.0.1:%d", ports[nWorkers+nAPIs])
	}
	return nil
}

// startApp builds the API and the worker from the working tree, registers
// the soak's API client as an operator would, and starts the replicas (and
// the proxy in front of the APIs on the cluster).
func (r *rig) startApp(ctx context.Context, dir string) error {
	if err := r.replicas(); err != nil {
		return err
	}
	env := append(append(os.Environ(), r.st.Env("consular")...),
		"CONSULAR_ENV=test",
		"CONSULAR_HTTP_ADDR="+r.apis[0].HTTPAddr,
		"CONSULAR_PUBLIC_URL="+r.url,
		"CONSULAR_WORKER_HTTP_ADDR="+r.workers[0].HTTPAddr,
		"CONSULAR_LOG_LEVEL=info",
		// Behind the proxy the APIs see its address; the client's is in X-Forwarded-For.
		"CONSULAR_TRUSTED_PROXIES=127.0.0.1/32",
	)
	var err error
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
	progress("starting %d worker(s) and %d API(s)", len(r.workers), len(r.apis))
	r.app = stack.AppOptions{Bin: bin, LogDir: filepath.Join(dir, "logs"), Env: env,
		Temporal: r.st.Temporal.Address(), Namespace: r.st.Temporal.Namespace, TaskQueue: r.cfg.Temporal.TaskQueue}
	reps, err := stack.StartReplicas(ctx, r.app, r.workers, r.apis)
	if err != nil {
		return err
	}
	for _, p := range reps.All() {
		r.running[p.Name] = p
	}
	if r.cluster {
		var backends []string
		for _, a := range r.apis {
			backends = append(backends, a.HTTPAddr)
		}
		r.proxy, err = stack.StartProxy(r.url[len("http://"):], backends)
	}
	return err
}

// restartReplica stops one worker or API gracefully (SIGTERM, as a rolling
// deployment does), starts it again from the same build and waits until it
// is ready: a worker polling its task queue, an API answering /readyz 200.
func (r *rig) restartReplica(ctx context.Context, rep stack.Replica, worker bool) error {
	r.mu.Lock()
	p := r.running[rep.Name]
	r.mu.Unlock()
	if err := p.Stop(stack.StopTimeout); err != nil {
		return err
	}
	workers, apis := []stack.Replica{rep}, []stack.Replica(nil)
	if !worker {
		workers, apis = nil, workers
	}
	reps, err := stack.StartReplicas(ctx, r.app, workers, apis)
	if err != nil {
		return fmt.Errorf("start %s again: %w", rep.Name, err)
	}
	r.mu.Lock()
	r.running[rep.Name] = reps.All()[0]
	r.mu.Unlock()
	return nil
}

// stop ends everything: the proxy, the APIs and the workers first (so a
// worker does not wait on a Temporal that is already gone), then the servers.
func (r *rig) stop() {
	if r.proxy != nil {
		r.proxy.Close()
	}
	r.mu.Lock()
	procs := make([]*stack.Process, 0, len(r.running))
	for _, a := range r.apis {
		procs = append(procs, r.running[a.Name])
	}
	for _, w := range r.workers {
		procs = append(procs, r.running[w.Name])
	}
	r.mu.Unlock()
	for _, p := range procs {
		if p == nil {
			continue
		}
		if err := p.Stop(stack.StopTimeout); err != nil {
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

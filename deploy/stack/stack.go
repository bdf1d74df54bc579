package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/storage"
)

// Ports of one stack; a zero port is replaced by a free one.
type Ports struct {
	Postgres     int
	Temporal     int
	TemporalUI   int
	MinIO        int
	MinIOConsole int
	SMTP         int
	MailpitUI    int
	// Cluster are the real Temporal server's other listeners (Temporal is
	// its frontend), used only by a production-shaped stack.
	Cluster ClusterPorts
}

// DevPorts are the fixed ports of `make dev`, the usual ones of each server
// except PostgreSQL's, which moves aside for a system cluster on 5432.
var DevPorts = Ports{Postgres: 55432, Temporal: 7233, TemporalUI: 8233, MinIO: 9000, MinIOConsole: 9001, SMTP: 1025, MailpitUI: 8025}

// ClusterStackPorts are the fixed ports of `make cluster`: each one beside
// the dev stack's (+100, PostgreSQL +1), so both stacks run at once.
var ClusterStackPorts = Ports{Postgres: 55433, Temporal: 7333, TemporalUI: 8333, MinIO: 9100, MinIOConsole: 9101, SMTP: 1125, MailpitUI: 8125,
	Cluster: ClusterPorts{FrontendHTTP: 7343, FrontendMembership: 7033, History: 7334, HistoryMembership: 7034,
		Matching: 7335, MatchingMembership: 7035, Worker: 7339, WorkerMembership: 7039,
		Metrics: 7100, HistoryMetrics: 7101, MatchingMetrics: 7102, WorkerMetrics: 7103}}

// Options say where a stack keeps its data and how it is reached.
type Options struct {
	Dir      string // everything the servers store, and their logs
	Ports    Ports  // zero ports become free ones
	Headless bool   // no Temporal Web UI (tests)
	// CodecEndpoint is the API's codec server, for the Temporal Web UI.
	CodecEndpoint string
	Base          config.Config // namespace, bucket names and MinIO credentials come from here
	Progress      io.Writer
	// Cluster runs the real Temporal server (frontend, history, matching and
	// worker services) on the stack's PostgreSQL, and its Web UI as a server
	// of its own, instead of the dev server: the production shape.
	Cluster bool
	// SeparateServices runs the real server's four services as four
	// processes (temporal-frontend, temporal-history, ...), not one.
	SeparateServices bool
}

// Stack is PostgreSQL, Temporal, MinIO and Mailpit running together.
type Stack struct {
	Dir      string
	Ports    Ports
	Tools    Tools
	Postgres Postgres
	Temporal Temporal
	MinIO    MinIO
	Mailpit  Mailpit
	// UI is the Web UI server of a production-shaped stack (nil otherwise,
	// or headless: the dev server serves its own).
	UI      *TemporalUI
	base    config.Config
	mu      sync.Mutex
	procs   []*Process
	servers map[string]server // by name, to start one again (restart.go)
}

// server is one of the stack's servers, started on its port and data.
type server interface {
	Start(context.Context, string) (*Process, error)
}

// Start installs what is missing, starts the four servers side by side and
// returns when all of them answer. On failure nothing is left running.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	tools, err := InstallTools(ctx, opts.Progress)
	if err != nil {
		return nil, err
	}
	var cluster ClusterTools
	if opts.Cluster {
		if cluster, err = InstallClusterTools(ctx, opts.Headless, opts.Progress); err != nil {
			return nil, err
		}
	}
	ports, err := fillPorts(opts.Ports, opts.Cluster)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	s := &Stack{
		Dir: opts.Dir, Ports: ports, Tools: tools, base: opts.Base,
		Postgres: Postgres{Bin: tools.Postgres, Dir: filepath.Join(opts.Dir, "postgres"), Port: ports.Postgres},
		Temporal: Temporal{Bin: tools.Temporal, DBFile: filepath.Join(opts.Dir, "temporal.db"), Port: ports.Temporal,
			UIPort: ports.TemporalUI, Namespace: opts.Base.Temporal.Namespace, Headless: opts.Headless,
			CodecEndpoint: opts.CodecEndpoint},
		MinIO: MinIO{Bin: tools.MinIO, Dir: filepath.Join(opts.Dir, "minio"), Port: ports.MinIO, ConsolePort: ports.MinIOConsole,
			AccessKey: opts.Base.Storage.AccessKey, SecretKey: opts.Base.Storage.SecretKey, Buckets: storage.Buckets(opts.Base.Storage)},
		Mailpit: Mailpit{Bin: tools.Mailpit, DBFile: filepath.Join(opts.Dir, "mailpit.db"), SMTPPort: ports.SMTP, UIPort: ports.MailpitUI},
	}
	if opts.Cluster {
		s.Temporal.Cluster = &Cluster{Tools: cluster, Dir: filepath.Join(opts.Dir, "temporal"), Postgres: s.Postgres,
			Ports: ports.Cluster, HistoryShards: 8, Separate: opts.SeparateServices}
		if !opts.Headless {
			s.UI = &TemporalUI{Bin: cluster.UI, Dir: filepath.Join(opts.Dir, "temporal-ui"), Port: ports.TemporalUI,
				Frontend: s.Temporal.Address(), Namespace: s.Temporal.Namespace, CodecEndpoint: opts.CodecEndpoint}
		}
	}
	servers, after := s.startOrder(opts.Cluster)
	s.servers = servers
	// Each server's start is awaited by those after it: done closes when it
	// has started or failed, ok says which.
	type result struct {
		done chan struct{}
		ok   bool
	}
	results := map[string]*result{}
	for name := range servers {
		results[name] = &result{done: make(chan struct{})}
	}
	errs := make(chan error, len(servers))
	for name, srv := range servers {
		go func() {
			r := results[name]
			defer close(r.done)
			if dep, ok := results[after[name]]; ok {
				if <-dep.done; !dep.ok {
					errs <- nil // dep's error is reported
					return
				}
			}
			p, err := srv.Start(ctx, s.LogPath(name))
			if err == nil {
				s.mu.Lock()
				s.procs = append(s.procs, p)
				s.mu.Unlock()
			}
			r.ok = err == nil
			errs <- err
		}()
	}
	var all []error
	for range servers {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// startOrder names the stack's servers and, for each, the one it waits for
// before it starts.
func (s *Stack) startOrder(cluster bool) (map[string]server, map[string]string) {
	servers := map[string]server{"postgres": s.Postgres, "temporal": s.Temporal, "minio": s.MinIO, "mailpit": s.Mailpit}
	// The real Temporal server keeps its data in PostgreSQL: it starts once
	// PostgreSQL answers, and its Web UI once it does.
	after := map[string]string{}
	if cluster {
		after["temporal"] = "postgres"
		if s.Temporal.Cluster.Separate {
			// History first, the others after it: on a fresh database each
			// service writes the cluster's metadata row at start, and two
			// doing it at once collide (the loser exits on "duplicate key
			// value violates unique constraint cluster_metadata_info_pkey").
			// The frontend also registers the namespace through history.
			delete(servers, "temporal")
			for _, svc := range ClusterServices {
				cs := ClusterService{Temporal: s.Temporal, Service: svc}
				servers[cs.Name()] = cs
				after[cs.Name()] = "temporal-history"
			}
			after["temporal-history"] = "postgres"
		}
		if s.UI != nil {
			servers["temporal-ui"] = *s.UI
			after["temporal-ui"] = "temporal"
			if s.Temporal.Cluster.Separate {
				after["temporal-ui"] = "temporal-frontend"
			}
		}
	}
	return servers, after
}

// LogPath is where a server's output goes.
func (s *Stack) LogPath(name string) string {
	return filepath.Join(s.Dir, "logs", name+".log")
}

// Adopt makes Stop stop these processes too, before the servers (the API
// and the worker under make dev).
func (s *Stack) Adopt(procs ...*Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = append(s.procs, procs...)
}

// Stop stops every process, the last started first.
func (s *Stack) Stop() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Stop(StopTimeout); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// Env is the configuration that points the API and the worker at this stack
// and at the given database, as environment variables.
func (s *Stack) Env(database string) []string {
	return []string{
		"CONSULAR_DATABASE_URL=" + s.Postgres.URL(database),
		"CONSULAR_TEMPORAL_ADDRESS=" + s.Temporal.Address(),
		"CONSULAR_TEMPORAL_NAMESPACE=" + s.Temporal.Namespace,
		"CONSULAR_MINIO_ENDPOINT=" + s.MinIO.Endpoint(),
		"CONSULAR_MINIO_ACCESS_KEY=" + s.MinIO.AccessKey,
		"CONSULAR_MINIO_SECRET_KEY=" + s.MinIO.SecretKey,
		"CONSULAR_MINIO_TLS=false",
		"CONSULAR_SMTP_HOST=127.0.0.1",
		"CONSULAR_SMTP_PORT=" + strconv.Itoa(s.Mailpit.SMTPPort),
		"CONSULAR_SMTP_ENCRYPTION=none",
	}
}

func fillPorts(p Ports, cluster bool) (Ports, error) {
	all := []*int{&p.Postgres, &p.Temporal, &p.TemporalUI, &p.MinIO, &p.MinIOConsole, &p.SMTP, &p.MailpitUI}
	var low []*int
	if cluster {
		all = append(all, p.Cluster.all()...)
		low = p.Cluster.membership()
	}
	taken := map[int]bool{}
	for _, port := range all {
		taken[*port] = true
	}
	for _, port := range all {
		for *port == 0 {
			free, err := FreePort()
			if slices.Contains(low, port) {
				free, err = freePortBelow(membershipPortLimit)
			}
			if err != nil {
				return p, err
			}
			if !taken[free] { // the kernel may hand the same port out twice
				*port, taken[free] = free, true
			}
		}
	}
	return p, nil
}

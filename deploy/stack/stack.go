package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
}

// DevPorts are the fixed ports of `make dev`, the usual ones of each server
// except PostgreSQL's, which moves aside for a system cluster on 5432.
var DevPorts = Ports{Postgres: 55432, Temporal: 7233, TemporalUI: 8233, MinIO: 9000, MinIOConsole: 9001, SMTP: 1025, MailpitUI: 8025}

// Options say where a stack keeps its data and how it is reached.
type Options struct {
	Dir      string // everything the servers store, and their logs
	Ports    Ports  // zero ports become free ones
	Headless bool   // no Temporal Web UI (tests)
	// CodecEndpoint is the API's codec server, for the Temporal Web UI.
	CodecEndpoint string
	Base          config.Config // namespace, bucket names and MinIO credentials come from here
	Progress      io.Writer
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
	base     config.Config
	mu       sync.Mutex
	procs    []*Process
}

// Start installs what is missing, starts the four servers side by side and
// returns when all of them answer. On failure nothing is left running.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	tools, err := InstallTools(ctx, opts.Progress)
	if err != nil {
		return nil, err
	}
	ports, err := fillPorts(opts.Ports)
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
	type server interface {
		Start(context.Context, string) (*Process, error)
	}
	servers := map[string]server{"postgres": s.Postgres, "temporal": s.Temporal, "minio": s.MinIO, "mailpit": s.Mailpit}
	errs := make(chan error, len(servers))
	for name, srv := range servers {
		go func() {
			p, err := srv.Start(ctx, s.LogPath(name))
			if err == nil {
				s.mu.Lock()
				s.procs = append(s.procs, p)
				s.mu.Unlock()
			}
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

func fillPorts(p Ports) (Ports, error) {
	all := []*int{&p.Postgres, &p.Temporal, &p.TemporalUI, &p.MinIO, &p.MinIOConsole, &p.SMTP, &p.MailpitUI}
	taken := map[int]bool{}
	for _, port := range all {
		taken[*port] = true
	}
	for _, port := range all {
		for *port == 0 {
			free, err := FreePort()
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

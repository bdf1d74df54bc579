package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/storage"
)

// system is the API and the worker built from this tree and run against the
// test stack, with a database, buckets and a task queue of their own, as
// the end-to-end tests run them.
type system struct {
	url      string
	stackDir string   // the launcher's stack, whose servers' CPU the bench counts
	env      []string // the API's and the worker's whole environment
	bin      string   // where their binaries are
	logs     string
	adminDB  string // the cluster's postgres database, to create and drop ours
	dbName   string
	db       *pgxpool.Pool
	client   string // the bench's API client token: submissions are never anonymous
	api      *stack.Process
	worker   *stack.Process
	http     *http.Client
	bodies   []body
	runID    string
	queue    string // the worker's task queue
	seq      atomic.Int64
	pprof    map[string]string // binary name -> pprof address, in a profiling build
}

// newHTTPClient keeps a connection per client open: the default two idle
// connections per host would make 8 and 32 clients pay for new TCP
// connections the API's real clients (browsers behind a proxy) do not.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: opTimeout,
		Transport: &http.Transport{
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: opTimeout,
			DisableCompression:    true,
		},
	}
}

// startSystem creates the database and buckets, builds the binaries (with
// pprof compiled in when profile is set) and starts the worker and the API.
// On failure nothing it started is left running.
func startSystem(ctx context.Context, cfg config.Config, stackDir, dir, runID string, bodies []body, profile bool) (_ *system, err error) {
	admin := os.Getenv("CONSULAR_TEST_ADMIN_DATABASE_URL")
	template := os.Getenv("CONSULAR_TEST_TEMPLATE_DATABASE")
	if admin == "" || template == "" {
		return nil, errors.New("no test stack: run `make bench` (the launcher exports CONSULAR_TEST_ADMIN_DATABASE_URL and CONSULAR_TEST_TEMPLATE_DATABASE)")
	}
	s := &system{stackDir: stackDir, adminDB: admin, dbName: "bench_" + runID, bin: filepath.Join(dir, "bin"), logs: filepath.Join(dir, "logs"),
		http: newHTTPClient(), bodies: bodies, runID: runID}
	defer func() {
		if err != nil {
			s.stop(false)
		}
	}()
	for _, d := range []string{s.bin, s.logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}

	// A database of our own, cloned from the migrated template in milliseconds.
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to the test cluster: %w", err)
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{s.dbName}.Sanitize(), pgx.Identifier{template}.Sanitize()))
	conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", s.dbName, err)
	}
	dbURL := strings.Replace(admin, "/postgres?", "/"+s.dbName+"?", 1)
	if s.db, err = database.Open(ctx, dbURL); err != nil {
		return nil, err
	}
	// Registered as an admin would, at a rate the bench never reaches.
	if _, s.client, err = apiclients.Create(ctx, s.db, apiclients.Spec{Name: "bench " + runID, Missions: []string{"AT-VIE"},
		PerHour: apiclients.MaxPerHour}); err != nil {
		return nil, fmt.Errorf("register the bench's API client: %w", err)
	}

	objects, err := storage.New(cfg.Storage)
	if err != nil {
		return nil, err
	}
	documents, receipts := "bench-docs-"+runID, "bench-receipts-"+runID
	if err := storage.EnsureBuckets(ctx, objects, documents, receipts); err != nil {
		return nil, err
	}

	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.url = "http://" + addr
	queue := "bench-requests-" + runID
	s.queue = queue
	s.env = append(os.Environ(),
		"CONSULAR_DATABASE_URL="+dbURL,
		"CONSULAR_HTTP_ADDR="+addr,
		"CONSULAR_PUBLIC_URL="+s.url,
		"CONSULAR_TEMPORAL_TASK_QUEUE="+queue,
		"CONSULAR_MINIO_DOCUMENTS_BUCKET="+documents,
		"CONSULAR_MINIO_RECEIPTS_BUCKET="+receipts,
		// JSON, as in production; the bench reads the handler times from the access log.
		"CONSULAR_LOG_FORMAT=json",
		"CONSULAR_LOG_LEVEL=info",
		// Every booking client is on 127.0.0.1 and books once per request:
		// the lookup limits (per IP, per tracking code) must not refuse the bench.
		"CONSULAR_BOOKING_LOOKUPS_PER_IP=100000000",
		"CONSULAR_BOOKING_LOOKUPS_PER_CODE=1000",
	)

	if profile {
		if s.pprof, err = buildProfiled(ctx, s.bin, dir); err != nil {
			return nil, err
		}
		for name, addr := range s.pprof {
			s.env = append(s.env, pprofEnv(name)+"="+addr)
		}
	} else if err := stack.BuildApp(ctx, s.bin); err != nil {
		return nil, err
	}

	app, err := stack.StartApp(ctx, stack.AppOptions{Bin: s.bin, LogDir: s.logs, Env: s.env, HTTPAddr: addr,
		Temporal: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, TaskQueue: queue})
	if err != nil {
		return nil, err
	}
	s.api, s.worker = app.API, app.Worker
	return s, nil
}

// stop ends the API and the worker (gracefully unless the bench was
// interrupted, when there is no time for it) and drops the database. The
// buckets go with the throwaway stack.
func (s *system) stop(graceful bool) {
	for _, p := range []*stack.Process{s.api, s.worker} {
		if p == nil {
			continue
		}
		if !graceful {
			p.Kill()
		} else if err := p.Stop(stack.StopTimeout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	if s.db != nil {
		s.db.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, s.adminDB); err == nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.dbName}.Sanitize()+" WITH (FORCE)")
		conn.Close(ctx)
	}
}

// cpu is the CPU time used so far by the machine and each part of the system.
func (s *system) cpu() cpuTimes {
	return sampleCPU(s.stackDir, s.api.Pid(), s.worker.Pid())
}

// submit posts one complete submission with a fresh Idempotency-Key and
// expects 201 Created.
func (s *system) submit(ctx context.Context) error {
	n := s.seq.Add(1)
	b := s.bodies[int(n)%len(s.bodies)]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/api/v1/requests", bytes.NewReader(b.data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", b.contentType)
	req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d", s.runID, n))
	req.Header.Set("Authorization", "Bearer "+s.client)
	return s.do(req, http.StatusCreated)
}

// healthz is the floor of any call: an HTTP round trip through the API's
// middleware with no work behind it.
func (s *system) healthz(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
	if err != nil {
		return err
	}
	return s.do(req, http.StatusOK)
}

func (s *system) do(req *http.Request, want int) error {
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	// Read to the end, so the connection goes back to the pool.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// drain waits until the worker has sent the receipt of every submission so
// far, at most limit, so the next measurement does not share the machine
// with the last one's backlog. It returns how long that took and how many
// were still waiting when it gave up.
func (s *system) drain(ctx context.Context, limit time.Duration) (time.Duration, int, error) {
	begin := time.Now()
	for {
		var behind int
		if err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM submissions) -
			(SELECT count(*) FROM sent_mail WHERE kind = 'receipt')`).Scan(&behind); err != nil {
			return 0, 0, fmt.Errorf("count receipts still to send: %w", err)
		}
		if behind <= 0 || time.Since(begin) >= limit {
			return time.Since(begin), behind, nil
		}
		select {
		case <-ctx.Done():
			return 0, behind, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// restartAPI replaces the API by a fresh process, so its peak memory is the
// next measurement's alone.
func (s *system) restartAPI(ctx context.Context, logName string) error {
	if err := s.api.Stop(stack.StopTimeout); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "api"))
	cmd.Env = s.env
	p, err := stack.StartProcess("api", filepath.Join(s.logs, logName+".log"), cmd)
	if err != nil {
		return err
	}
	s.api = p
	return p.WaitFor(ctx, time.Minute, stack.HTTPOK(s.url+"/readyz"))
}

// memory is the API's peak resident memory (VmHWM) right after start and
// after uploads from a number of clients at once.
type memory struct {
	clients     int
	start, peak int64 // bytes
	run         result
}

func (s *system) measureMemory(ctx context.Context, clients int, d time.Duration) (memory, error) {
	if err := s.restartAPI(ctx, fmt.Sprintf("api-memory-%d", clients)); err != nil {
		return memory{}, err
	}
	_, start, err := s.api.RSS()
	if err != nil {
		return memory{}, fmt.Errorf("API memory: %w", err)
	}
	run := load(ctx, clients, d, s.submit, nil)
	_, peak, err := s.api.RSS()
	if err != nil {
		return memory{}, fmt.Errorf("API memory: %w", err)
	}
	return memory{clients: clients, start: start, peak: peak, run: run}, nil
}

// logMark is a place in the API's log, so the lines of one measurement can
// be read back.
type logMark struct {
	path   string
	offset int64
}

func (s *system) markLog() logMark {
	m := logMark{path: s.api.LogPath}
	if st, err := os.Stat(m.path); err == nil {
		m.offset = st.Size()
	}
	return m
}

// handlerTimes are the access log's "took" of every answer since the mark
// to method on route (with or without a final slash), with the status, sorted: the
// time inside the API, from its middleware to the answer, including the
// body as it streams in.
func (m logMark) handlerTimes(method, route string, status int) ([]time.Duration, error) {
	f, err := os.Open(m.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(m.offset, io.SeekStart); err != nil {
		return nil, err
	}
	var took []time.Duration
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		var line struct {
			Msg    string `json:"msg"`
			Method string `json:"method"`
			Route  string `json:"route"`
			Status int    `json:"status"`
			Took   int64  `json:"took"` // slog writes a duration in JSON as nanoseconds
		}
		if json.Unmarshal(lines.Bytes(), &line) != nil || line.Msg != "http request" {
			continue
		}
		if line.Method == method && line.Status == status && strings.TrimSuffix(line.Route, "/") == route {
			took = append(took, time.Duration(line.Took))
		}
	}
	slices.Sort(took)
	return took, lines.Err()
}

// tail is the end of a process's log, for the error message when it fails.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

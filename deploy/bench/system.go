package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/testenv"
)

// system is the API and the worker built from this tree and run against
// the launcher's throwaway stack, and the bench's view of them: only their
// public HTTP endpoints, and Mailpit for the mail they send.
type system struct {
	url      string
	stackDir string
	app      *stack.App
	logs     string
	http     *http.Client
	token    string // the bench's API client: submissions are never anonymous
	mail     *loadkit.Mailpit
	docs     [][]byte
	runID    string
	seq      atomic.Int64
	pprof    map[string]string // binary name -> pprof address, with -profile

	submitted atomic.Int64 // submissions answered 201: each owes a receipt email
	booked    atomic.Int64 // bookings answered 200: each owes a confirmation
	accepted  chan applicant
}

// applicant is a submitted request and what finds it again.
type applicant struct{ code, nationalID string }

// startSystem builds the API and the worker (with pprof compiled in for
// -profile) into dir, starts them on the stack's database, buckets and task
// queue, and registers the bench's API client as an operator would.
func startSystem(ctx context.Context, stackDir, dir, runID string, profile bool) (_ *system, err error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &system{url: "http://" + addr, stackDir: stackDir, logs: filepath.Join(dir, "logs"), http: newHTTPClient(), runID: runID,
		mail: loadkit.NewMailpit(os.Getenv("CONSULAR_TEST_MAILPIT_URL")), accepted: make(chan applicant, 1<<16)}
	if s.docs, err = loadkit.Documents(1); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "bin")
	env := append(os.Environ(),
		"CONSULAR_HTTP_ADDR="+addr,
		"CONSULAR_PUBLIC_URL="+s.url,
		"CONSULAR_LOG_FORMAT=json",
		// Every booking client is on 127.0.0.1 and books once per request:
		// the lookup limits (per IP, per tracking code) must not refuse the bench.
		"CONSULAR_BOOKING_LOOKUPS_PER_IP=100000000",
		"CONSULAR_BOOKING_LOOKUPS_PER_CODE=1000",
	)
	if profile {
		if s.pprof, err = buildProfiled(ctx, bin, dir); err != nil {
			return nil, err
		}
		for name, a := range s.pprof {
			env = append(env, pprofEnv(name)+"="+a)
		}
	} else if err := stack.BuildApp(ctx, bin); err != nil {
		return nil, err
	}
	if s.token, err = loadkit.RegisterClient(ctx, bin, env, "bench "+runID); err != nil {
		return nil, err
	}
	cfg, err := config.Load(loadkit.Lookup(env))
	if err != nil {
		return nil, fmt.Errorf("the app's configuration: %w", err)
	}
	s.app, err = stack.StartApp(ctx, stack.AppOptions{Bin: bin, LogDir: s.logs, Env: env, HTTPAddr: addr,
		Temporal: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, TaskQueue: cfg.Temporal.TaskQueue})
	return s, err
}

// newHTTPClient keeps a connection per client open: the default two idle
// connections per host would make 8 and 32 clients pay for new TCP
// connections the API's real clients (browsers behind a proxy) do not.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: opTimeout, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256,
		IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: opTimeout, DisableCompression: true}}
}

func (s *system) stop(graceful bool) {
	if s.app == nil {
		return
	}
	if !graceful {
		s.app.Kill()
	} else if err := s.app.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
}

func (s *system) cpu() cpuSample { return sampleCPU(s.stackDir) }

// submit posts one driving-licence inquiry for a new applicant and expects
// 201 Created; the request joins those the bookings will use.
func (s *system) submit(ctx context.Context) error {
	n := s.seq.Add(1)
	a := loadkit.Applicant{Name: "Bench Applicant", Email: fmt.Sprintf("bench-%s-%d@example.org", s.runID, n), NationalID: testenv.NationalID()}
	data, contentType, err := loadkit.Body(a, s.docs)
	if err != nil {
		return err
	}
	ans := loadkit.Submit(ctx, s.http, s.url, s.token, fmt.Sprintf("bench-%s-%d", s.runID, n), data, contentType)
	if ans.Err != nil || ans.Status != http.StatusCreated {
		return fmt.Errorf("POST /api/v1/requests: %d %s %v", ans.Status, ans.Body, ans.Err)
	}
	code, err := ans.TrackingCode()
	if err != nil {
		return err
	}
	s.submitted.Add(1)
	s.accepted <- applicant{code: code, nationalID: a.NationalID}
	return nil
}

// healthz is the floor of any call: an HTTP round trip through the API's
// middleware with no work behind it.
func (s *system) healthz(ctx context.Context) error {
	status, _, err := s.call(ctx, http.MethodGet, "/healthz", nil, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET /healthz: %d", status)
	}
	return err
}

// call sends a JSON request and decodes a 2xx answer into out; it returns
// the status and, for an error answer, its message.
func (s *system) call(ctx context.Context, method, path string, in, out any) (int, string, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, "", err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
			e.Error.Message = string(raw[:min(len(raw), 200)])
		}
		return resp.StatusCode, e.Error.Message, nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, "", nil
}

// drain waits, at most limit, until Mailpit holds every email the system
// owes so far (a receipt per submission, a confirmation per booking), so
// the next measurement does not share the machine with this one's backlog
// and the CPU counted until then is a request's whole cost. It returns how
// long that took and how many emails were still missing.
func (s *system) drain(ctx context.Context, limit time.Duration) (time.Duration, int, error) {
	begin := time.Now()
	for {
		have, err := s.mail.Count(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("count the emails in Mailpit: %w", err)
		}
		behind := int(s.submitted.Load()+s.booked.Load()) - have
		if behind <= 0 || time.Since(begin) >= limit || !sleep(ctx, 250*time.Millisecond) {
			return time.Since(begin), max(0, behind), ctx.Err()
		}
	}
}

// tail is the end of a log, for the error message when the bench fails.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

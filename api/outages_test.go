package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/testenv"
)

// link is a TCP forwarder to a real server that a test can cut, as when
// the server stops: open connections are dropped and new ones refused.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func forward(t *testing.T, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target}
	go l.serve()
	t.Cleanup(l.cut)
	return l
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) serve() {
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", l.target)
		if err != nil {
			in.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, in, out)
		l.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

func (l *link) cut() {
	l.ln.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// While PostgreSQL or MinIO is out of reach a submission is refused
// clearly, 503 with Retry-After in English and Persian, never a 500
// "internal error" (found by the soak on the production-shaped stack):
// the client retries with the same Idempotency-Key.
func TestSubmissionWhileADependencyIsDownIsRefusedWith503(t *testing.T) {
	for _, down := range []string{"postgres", "minio"} {
		t.Run(down, func(t *testing.T) {
			cfg := testenv.Config(t)
			db, dbURL := testenv.Database(t)
			var l *link
			switch down {
			case "postgres":
				u, err := url.Parse(dbURL)
				if err != nil {
					t.Fatal(err)
				}
				l = forward(t, u.Host)
				u.Host = l.addr()
				cfg.Database.URL = u.String()
			case "minio":
				cfg.Database.URL = dbURL
				l = forward(t, cfg.Storage.Endpoint)
				cfg.Storage.Endpoint = l.addr()
			}
			app, _ := inProcess(t, cfg, nil)
			token := testenv.APIClient(t, db)
			l.cut()
			time.Sleep(1500 * time.Millisecond) // the pool pings a connection idle for over a second
			resp, err := app.Test(drivingLicenceInquiry(t, email(t)).request("/api/v1/requests", "outage-"+down, token), 60_000)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct {
					Message   string `json:"message"`
					MessageFa string `json:"message_fa"`
				} `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || body.Error.MessageFa == "" {
				t.Fatalf("%s down: %d (Retry-After %q, %+v), want 503 with Retry-After in English and Persian",
					down, resp.StatusCode, resp.Header.Get("Retry-After"), body.Error)
			}
			var saved int
			if err := db.QueryRow(context.Background(), "SELECT count(*) FROM submissions WHERE idempotency_key = $1", "outage-"+down).Scan(&saved); err != nil || saved != 0 {
				t.Errorf("%d submissions saved while %s was down (%v), want none", saved, down, err)
			}
		})
	}
}

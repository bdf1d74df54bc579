package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openconsular/consular/api/health"
	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/metrics"
	"github.com/openconsular/consular/internal/testenv"
)

// Each dependency in turn runs as a private server of this test, beside the
// shared test stack for the other three. While it runs, /readyz answers 200
// "ready"; once it is stopped, the answer names it, and only it: 503
// "unavailable" for PostgreSQL (this API can serve nothing), 200 "degraded"
// for the shared others (every replica would leave the load balancer at
// once), with consular_dependency_up at 0 for it and 1 for the rest.
func TestReadyzTurnsUnavailableWhenADependencyStops(t *testing.T) {
	base := testenv.Config(t)
	tools, err := stack.InstallTools(context.Background(), os.Stderr) // cached: returns at once
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dependency string
		wantCode   int
		wantStatus string
		start      func(t *testing.T, dir string, cfg *config.Config) *stack.Process
	}{
		{"postgres", 503, "unavailable", func(t *testing.T, dir string, cfg *config.Config) *stack.Process {
			pg := stack.Postgres{Bin: tools.Postgres, Dir: filepath.Join(dir, "pg"), Port: freePort(t)}
			p := start(t, func() (*stack.Process, error) { return pg.Start(context.Background(), filepath.Join(dir, "pg.log")) })
			cfg.Database.URL = pg.URL("postgres")
			return p
		}},
		{"temporal", 200, "degraded", func(t *testing.T, dir string, cfg *config.Config) *stack.Process {
			tp := stack.Temporal{Bin: tools.Temporal, DBFile: filepath.Join(dir, "temporal.db"), Port: freePort(t),
				Namespace: cfg.Temporal.Namespace, Headless: true}
			p := start(t, func() (*stack.Process, error) {
				return tp.Start(context.Background(), filepath.Join(dir, "temporal.log"))
			})
			cfg.Temporal.Address = tp.Address()
			return p
		}},
		{"minio", 200, "degraded", func(t *testing.T, dir string, cfg *config.Config) *stack.Process {
			m := stack.MinIO{Bin: tools.MinIO, Dir: filepath.Join(dir, "minio"), Port: freePort(t), ConsolePort: freePort(t),
				AccessKey: cfg.Storage.AccessKey, SecretKey: cfg.Storage.SecretKey, Buckets: []string{cfg.Storage.DocumentsBucket, cfg.Storage.ReceiptsBucket}}
			p := start(t, func() (*stack.Process, error) { return m.Start(context.Background(), filepath.Join(dir, "minio.log")) })
			cfg.Storage.Endpoint = m.Endpoint()
			return p
		}},
		{"smtp", 200, "degraded", func(t *testing.T, dir string, cfg *config.Config) *stack.Process {
			m := stack.Mailpit{Bin: tools.Mailpit, DBFile: filepath.Join(dir, "mailpit.db"), SMTPPort: freePort(t), UIPort: freePort(t)}
			p := start(t, func() (*stack.Process, error) {
				return m.Start(context.Background(), filepath.Join(dir, "mailpit.log"))
			})
			cfg.Mail.Port = m.SMTPPort
			return p
		}},
	}
	for _, tc := range cases {
		t.Run(tc.dependency, func(t *testing.T) {
			dir, err := os.MkdirTemp(testenv.StackDir(t), "readyz-")
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o711) // PostgreSQL runs as nobody when the tests run as root
			cfg := base
			server := tc.start(t, dir, &cfg)

			app, _ := inProcess(t, cfg, nil)

			code, report := readyz(t, app)
			if code != 200 || report.Status != "ready" {
				t.Fatalf("with every dependency up: %d %+v", code, report)
			}
			if err := server.Stop(stack.StopTimeout); err != nil {
				t.Fatal(err)
			}
			// /readyz answers from a probe up to 2 s old: the outage shows within that.
			for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait); time.Sleep(250 * time.Millisecond) {
				if code, report = readyz(t, app); code == tc.wantCode && report.Status == tc.wantStatus {
					break
				}
			}
			if code != tc.wantCode || report.Status != tc.wantStatus {
				t.Fatalf("with %s stopped: want %d %s, got %d %+v", tc.dependency, tc.wantCode, tc.wantStatus, code, report)
			}
			for name := range report.Checks {
				want := 1.0
				if name == tc.dependency {
					want = 0
				}
				if got := testutil.ToFloat64(metrics.DependencyUp.WithLabelValues(name)); got != want {
					t.Errorf("with %s stopped, consular_dependency_up{dependency=%q} = %v, want %v", tc.dependency, name, got, want)
				}
			}
			for name, st := range report.Checks {
				want := "ok"
				if name == tc.dependency {
					want = "unavailable"
				}
				if st.Status != want {
					t.Errorf("with %s stopped, %s is %q (%s), want %q", tc.dependency, name, st.Status, st.Error, want)
				}
			}
			if len(report.Checks) != 4 {
				t.Errorf("want 4 checks, got %v", report.Checks)
			}
		})
	}
}

func readyz(t *testing.T, app *fiber.App) (int, health.Report) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", "/readyz", nil), 15_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var report health.Report
	if err := json.NewDecoder(resp.Body).Decode(&report); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, report
}

func freePort(t *testing.T) int {
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// start starts a private server and stops it when the test ends, if the test has not.
func start(t *testing.T, run func() (*stack.Process, error)) *stack.Process {
	t.Helper()
	p, err := run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

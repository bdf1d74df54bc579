//go:build cluster

package stack

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/temporalclient"
)

// The soak's faults on the production-shaped stack stop the history
// service and PostgreSQL and start them again on their data: a workflow
// started after the history service's restart is still there after
// PostgreSQL's, and Temporal serves again without being restarted itself.
// Built with the tag "cluster": make cluster-check runs it once the server
// is built.
func TestClusterHistoryAndPostgresStartAgainOnTheirData(t *testing.T) {
	t.Setenv("CONSULAR_ENV", string(config.Development))
	base, err := config.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "consular-restart-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("data and logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o711); err != nil { // PostgreSQL, run as nobody under root, must reach its folder
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Dir: dir, Headless: true, Base: base, Progress: os.Stderr, Cluster: true, SeparateServices: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.StartServer(ctx, "temporal-history"); err == nil {
		t.Error("StartServer started a second history service beside the running one")
	}
	if err := s.StartServer(ctx, "no-such-server"); err == nil {
		t.Error("StartServer accepted a name the stack does not have")
	}

	tc, err := client.Dial(client.Options{HostPort: s.Temporal.Address(), Namespace: s.Temporal.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	restart(ctx, t, s, "temporal-history", func() {
		// /readyz's temporal check must see the history service gone: the
		// frontend answers DescribeNamespace without it.
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := temporalclient.Ping(pctx, tc, s.Temporal.Namespace); err == nil {
			t.Error("temporalclient.Ping (the readiness check) passed with the history service down")
		}
	})
	// Shards are acquired again some time after the port answers: retry.
	var run client.WorkflowRun
	eventually(ctx, t, "start a workflow after the history service's restart", func(ctx context.Context) (err error) {
		run, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-check", TaskQueue: "nobody-polls"}, "Nothing")
		return err
	})
	restart(ctx, t, s, "postgres", func() {})
	eventually(ctx, t, "describe the workflow after PostgreSQL's restart", func(ctx context.Context) error {
		_, err := tc.DescribeWorkflowExecution(ctx, "restart-check", run.GetRunID())
		return err
	})
}

// restart stops server name, runs whileDown, and starts it again.
func restart(ctx context.Context, t *testing.T, s *Stack, name string, whileDown func()) {
	t.Helper()
	if err := s.StopServer(name); err != nil {
		t.Fatalf("stop %s: %v", name, err)
	}
	whileDown()
	if err := s.StopServer(name); err == nil {
		t.Errorf("%s stopped twice", name)
	}
	if err := s.StartServer(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// eventually retries do for up to a minute, as the soak's clients do.
func eventually(ctx context.Context, t *testing.T, what string, do func(context.Context) error) {
	t.Helper()
	began := time.Now()
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := do(attempt)
		cancel()
		if err == nil {
			t.Logf("%s: done after %.1fs", what, time.Since(began).Seconds())
			return
		}
		if time.Since(began) > time.Minute {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
)

// The production shape's own listeners, beside the dev stack's (8080, 8081):
// applicants and the Web UI's codec calls reach the proxy, which spreads
// them over the APIs; each worker serves /healthz and /metrics on its own.
const (
	clusterProxyAddr = "127.0.0.1:8180"
	clusterUIOrigin  = "http://127.0.0.1:8333"
)

var (
	clusterAPIAddrs    = []string{"127.0.0.1:8181", "127.0.0.1:8182"}
	clusterWorkerAddrs = []string{"127.0.0.1:8191", "127.0.0.1:8192", "127.0.0.1:8193"}
)

// cluster runs the production-shaped stack until Ctrl-C: the real Temporal
// server on the stack's PostgreSQL with its Web UI, MinIO, Mailpit, three
// workers and two APIs behind a round-robin proxy. Data stays in its own
// state folder, so the next run starts warm.
func cluster(ctx context.Context, base config.Config) error {
	started := time.Now()
	dir, unlock, err := claimStateFolder(clusterStateDir())
	if err != nil {
		return err
	}
	defer unlock()

	separate, err := separateServices()
	if err != nil {
		return err
	}
	publicURL := "http://" + clusterProxyAddr
	s, err := stack.Start(ctx, stack.Options{Dir: dir, Ports: stack.ClusterStackPorts, Base: base, Progress: os.Stdout,
		Cluster: true, SeparateServices: separate, CodecEndpoint: publicURL + "/codec"})
	if err != nil {
		return err
	}
	defer s.Stop()
	serversReady := time.Since(started)
	if err := s.Postgres.CreateDatabase(ctx, "consular"); err != nil {
		return err
	}
	if err := database.Migrate(ctx, s.Postgres.URL("consular"), slog.Default()); err != nil {
		return err
	}

	env := append(append(os.Environ(), s.Env("consular")...), "CONSULAR_ENV=development",
		"CONSULAR_PUBLIC_URL="+publicURL,
		"CONSULAR_TEMPORAL_UI_ORIGIN="+clusterUIOrigin,
		// The APIs see the proxy's address; the client's is in X-Forwarded-For.
		"CONSULAR_TRUSTED_PROXIES=127.0.0.1/32")
	bin := filepath.Join(dir, "bin")
	if err := stack.BuildApp(ctx, bin); err != nil {
		return err
	}
	var workers, apis []stack.Replica
	for i, addr := range clusterWorkerAddrs {
		workers = append(workers, stack.Replica{Name: fmt.Sprintf("worker-%d", i+1), HTTPAddr: addr})
	}
	for i, addr := range clusterAPIAddrs {
		apis = append(apis, stack.Replica{Name: fmt.Sprintf("api-%d", i+1), HTTPAddr: addr})
	}
	replicas, err := stack.StartReplicas(ctx, stack.AppOptions{Bin: bin, LogDir: filepath.Join(dir, "logs"), Env: env,
		Temporal: s.Temporal.Address(), Namespace: s.Temporal.Namespace, TaskQueue: base.Temporal.TaskQueue}, workers, apis)
	if err != nil {
		return err
	}
	s.Adopt(replicas.All()...)

	proxy, err := stack.StartProxy(clusterProxyAddr, clusterAPIAddrs)
	if err != nil {
		return err
	}
	defer proxy.Close()
	fmt.Printf(`
The production-shaped stack is running (servers ready in %.0fs, all ready in %.0fs).
Ctrl-C stops everything; data stays in %s.

  Portal and API     %s   (a proxy over %v; health: /readyz)
  Temporal           %s   (Temporal server %s on PostgreSQL, %d history shards, %s)
  Temporal Web UI    %s   (namespace %s; payloads decoded for a staff admin signed in to the portal)
  Mailpit (mail)     http://127.0.0.1:%d
  MinIO console      http://127.0.0.1:%d   (user %s)
  PostgreSQL         %s   (Temporal's databases: temporal, temporal_visibility)
  Workers            %v   (/healthz, /metrics)

  Logs               %s
`, serversReady.Seconds(), time.Since(started).Seconds(), dir, publicURL, clusterAPIAddrs,
		s.Temporal.Address(), stack.TemporalServer.Version, s.Temporal.Cluster.HistoryShards, servicesShape(separate), clusterUIOrigin, s.Temporal.Namespace,
		s.Ports.MailpitUI, s.Ports.MinIOConsole, s.MinIO.AccessKey, s.Postgres.URL("consular"), clusterWorkerAddrs, filepath.Join(dir, "logs"))

	watchUntilStopped(ctx, replicas.All(), "APIs, workers, then the servers")
	return nil
}

// separateServices reads CONSULAR_CLUSTER_SERVICES: "separate" runs the
// server's four services as four processes, "one" (the default) in one.
func separateServices() (bool, error) {
	switch v := os.Getenv("CONSULAR_CLUSTER_SERVICES"); v {
	case "", "one":
		return false, nil
	case "separate":
		return true, nil
	default:
		return false, fmt.Errorf("CONSULAR_CLUSTER_SERVICES=%q: want one or separate", v)
	}
}

func servicesShape(separate bool) string {
	if separate {
		return "frontend, history, matching and worker as four processes"
	}
	return "its four services in one process"
}

func clusterStateDir() string {
	if d := os.Getenv("CONSULAR_CLUSTER_STATE_DIR"); d != "" {
		return d
	}
	return filepath.Join(".state", "cluster") // beside make dev's data, ignored by git like it
}

// clusterTools builds the real server, its schema tool and the UI server,
// then checks what the stack needs of them: the configuration renders and
// the server accepts its dynamic configuration, and the schema folders hold
// versioned changes.
func clusterTools(ctx context.Context) error {
	tools, err := stack.InstallClusterTools(ctx, false, os.Stdout)
	if err != nil {
		return err
	}
	return stack.CheckCluster(ctx, tools, os.Stdout)
}

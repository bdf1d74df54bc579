package stack

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/workflows/request"
)

// The production-shaped stack runs the real Temporal server (the one a
// ministry deploys with the Helm chart), not the CLI's dev server: its
// services on PostgreSQL, the schema tool that creates and upgrades their
// databases, and the Web UI as a server of its own. All three are built from
// the module proxy like the other tools. The server's module asks for a newer
// Go than the project's, so that build alone uses go1.27.3.
var (
	TemporalServer  = Tool{Name: "temporal-server", Module: "go.temporal.io/server/cmd/server", Version: "v1.32.2", Toolchain: "go1.27.3"}
	TemporalSQLTool = Tool{Name: "temporal-sql-tool", Module: "go.temporal.io/server/cmd/tools/sql", Version: TemporalServer.Version, Toolchain: TemporalServer.Toolchain}
	// The UI server at the version the dev server embeds: v2.58.1 needs
	// modules the proxy here refuses (echo v4.16.1, go.temporal.io/api v1.64.0).
	TemporalUIServer = Tool{Name: "temporal-ui-server", Module: "github.com/temporalio/ui-server/v2/cmd/server", Version: "v2.42.1"}
)

// temporalServerModule holds the server and its PostgreSQL schema files.
const temporalServerModule = "go.temporal.io/server"

// ClusterTools are the production-shaped stack's Temporal programs, and the
// folder of the PostgreSQL schema they were released with.
type ClusterTools struct {
	Server  string
	SQLTool string
	UI      string // empty when the stack runs headless
	// Schema is schema/postgresql/v12 of the server's module, copied into the
	// tool cache: temporal/versioned and visibility/versioned are inside.
	Schema string
}

// InstallClusterTools builds what is missing of the server, the schema tool
// and (unless headless) the UI server, one at a time, and copies the
// server's schema files beside its binary.
func InstallClusterTools(ctx context.Context, headless bool, progress io.Writer) (ClusterTools, error) {
	var ct ClusterTools
	cache, err := ToolCache()
	if err != nil {
		return ct, err
	}
	tools := []struct {
		tool Tool
		dst  *string
	}{{TemporalServer, &ct.Server}, {TemporalSQLTool, &ct.SQLTool}}
	if !headless {
		tools = append(tools, struct {
			tool Tool
			dst  *string
		}{TemporalUIServer, &ct.UI})
	}
	for _, t := range tools {
		if *t.dst, err = t.tool.Install(ctx, cache, progress); err != nil {
			return ct, err
		}
	}
	ct.Schema, err = installSchema(ctx, cache)
	return ct, err
}

// SchemaDirs are the versioned schema folders of the two databases, relative
// to ClusterTools.Schema.
var SchemaDirs = map[string]string{
	"temporal":            filepath.Join("temporal", "versioned"),
	"temporal_visibility": filepath.Join("visibility", "versioned"),
}

// installSchema copies schema/postgresql/v12 from the server's module (in
// the Go module cache since the build) into the tool cache, so a cleaned
// module cache does not strand a built server without its schema.
func installSchema(ctx context.Context, cache string) (string, error) {
	dst := filepath.Join(filepath.Dir(TemporalServer.Path(cache)), "schema", "postgresql", "v12")
	if _, err := os.Stat(filepath.Join(dst, SchemaDirs["temporal"])); err == nil {
		return dst, nil
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", temporalServerModule+"@"+TemporalServer.Version)
	cmd.Dir = cache
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN="+TemporalServer.Toolchain)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", temporalServerModule, TemporalServer.Version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", temporalServerModule, TemporalServer.Version, err, mod.Error)
	}
	scratch, err := os.MkdirTemp(filepath.Dir(TemporalServer.Path(cache)), "schema-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	if err := os.CopyFS(scratch, os.DirFS(filepath.Join(mod.Dir, "schema", "postgresql", "v12"))); err != nil {
		return "", fmt.Errorf("copy the Temporal schema: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(scratch, dst); err != nil {
		if _, statErr := os.Stat(filepath.Join(dst, SchemaDirs["temporal"])); statErr != nil {
			return "", fmt.Errorf("install the Temporal schema: %w", err)
		}
	}
	return dst, nil
}

// ClusterPorts are the real server's listeners: each service's gRPC port and
// the membership port its peers find it on, the frontend's HTTP API, and
// Prometheus metrics.
type ClusterPorts struct {
	FrontendHTTP       int
	FrontendMembership int
	History            int
	HistoryMembership  int
	Matching           int
	MatchingMembership int
	Worker             int
	WorkerMembership   int
	// Metrics is the one process's Prometheus listener, or the frontend's
	// when the services run apart; the others then have their own.
	Metrics         int
	HistoryMetrics  int
	MatchingMetrics int
	WorkerMetrics   int
}

func (p *ClusterPorts) all() []*int {
	return []*int{&p.FrontendHTTP, &p.FrontendMembership, &p.History, &p.HistoryMembership,
		&p.Matching, &p.MatchingMembership, &p.Worker, &p.WorkerMembership,
		&p.Metrics, &p.HistoryMetrics, &p.MatchingMetrics, &p.WorkerMetrics}
}

// metrics is where a process running service (or "" for all four)
// serves /metrics.
func (p ClusterPorts) metrics(service string) int {
	switch service {
	case "history":
		return p.HistoryMetrics
	case "matching":
		return p.MatchingMetrics
	case "worker":
		return p.WorkerMetrics
	default:
		return p.Metrics
	}
}

func (p *ClusterPorts) membership() []*int {
	return []*int{&p.FrontendMembership, &p.HistoryMembership, &p.MatchingMembership, &p.WorkerMembership}
}

// membershipPortLimit: the server records each member's membership port in
// PostgreSQL as a smallint (cluster_membership.rpc_port), so a port the
// kernel hands out at random (32768 and up) stops it at start ("value out
// of range for type smallint").
const membershipPortLimit = 32768

// freePortBelow finds a port nobody listens on below limit, from 20000 up
// at random (below the kernel's ephemeral range, so nothing takes it between
// now and the server's start).
func freePortBelow(limit int) (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(limit-20000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port between 20000 and %d", limit)
}

//go:embed cluster/temporal.yaml cluster/dynamicconfig.yaml
var clusterFiles embed.FS

// ServerConfig fills the server's configuration template
// (cluster/temporal.yaml).
type ServerConfig struct {
	LogLevel           string
	HistoryShards      int
	PostgresAddr       string // host:port
	User               string
	Database           string
	VisibilityDatabase string
	Ports              ClusterPorts
	Frontend           int // the frontend's gRPC port, what clients dial
	MetricsPort        int // this process's Prometheus listener
	DynamicConfig      string
}

// RenderServerConfig writes the server's configuration for c.
func RenderServerConfig(w io.Writer, c ServerConfig) error {
	src, err := clusterFiles.ReadFile("cluster/temporal.yaml")
	if err != nil {
		return err
	}
	t, err := template.New("temporal.yaml").Option("missingkey=error").Parse(string(src))
	if err != nil {
		return fmt.Errorf("parse the Temporal config template: %w", err)
	}
	if err := t.Execute(w, c); err != nil {
		return fmt.Errorf("render the Temporal config: %w", err)
	}
	return nil
}

// DynamicConfig is the server's dynamic configuration, as shipped.
func DynamicConfig() ([]byte, error) { return clusterFiles.ReadFile("cluster/dynamicconfig.yaml") }

// Cluster is what turns Temporal from the dev server into the real server
// on the stack's PostgreSQL.
type Cluster struct {
	Tools    ClusterTools
	Dir      string // the server's configuration files
	Postgres Postgres
	Ports    ClusterPorts
	// HistoryShards is fixed when the databases are created: 8 keeps two
	// cores busy without one shard's lock serialising every workflow.
	HistoryShards int
	// Separate runs frontend, history, matching and worker as four
	// processes (as four deployments would), which can be stopped one by
	// one; otherwise one process runs all four.
	Separate bool

	prepared sync.Mutex // held while the databases are prepared, once
	ready    bool
}

// ClusterServices are the Temporal server's services, in the order they
// start when they run apart: the frontend last, since it answers only once
// history and matching do.
var ClusterServices = []string{"history", "matching", "worker", "frontend"}

// The server's role and databases in the stack's PostgreSQL.
const (
	clusterUser       = "temporal"
	clusterDB         = "temporal"
	clusterVisibility = "temporal_visibility"
	// clusterRetention is how long closed workflows stay visible: a week,
	// long enough to look at a request's history after it ended.
	clusterRetention = 7 * 24 * time.Hour
)

func (c *Cluster) config(frontend int, service string) ServerConfig {
	return ServerConfig{LogLevel: "warn", HistoryShards: c.HistoryShards, PostgresAddr: fmt.Sprintf("127.0.0.1:%d", c.Postgres.Port),
		User: clusterUser, Database: clusterDB, VisibilityDatabase: clusterVisibility, Ports: c.Ports, Frontend: frontend,
		MetricsPort: c.Ports.metrics(service), DynamicConfig: filepath.Join(c.Dir, "dynamicconfig.yaml")}
}

// prepareOnce prepares the databases for the first service to start; the
// others wait for it, and later restarts skip it.
func (c *Cluster) prepareOnce(ctx context.Context) error {
	c.prepared.Lock()
	defer c.prepared.Unlock()
	if c.ready {
		return nil
	}
	if err := c.prepareDatabases(ctx); err != nil {
		return err
	}
	c.ready = true
	return nil
}

// startCluster creates or upgrades the databases, writes the configuration,
// starts the four services in one process and waits until the namespace
// and the search attributes are registered.
func (t Temporal) startCluster(ctx context.Context, logPath string) (*Process, error) {
	return ClusterService{Temporal: t}.Start(ctx, logPath)
}

// ClusterService is one process of the real server: one service when the
// services run apart, or all four.
type ClusterService struct {
	Temporal Temporal
	Service  string // "" for all four
}

// Name is the process's name, as Stack.LogPath knows it.
func (cs ClusterService) Name() string {
	if cs.Service == "" {
		return "temporal"
	}
	return "temporal-" + cs.Service
}

// Start starts the process once the databases are ready, and waits until it
// serves: the frontend (or the whole server) when the namespace and search
// attributes are registered, another service when its gRPC port answers.
func (cs ClusterService) Start(ctx context.Context, logPath string) (*Process, error) {
	t, c := cs.Temporal, cs.Temporal.Cluster
	ports := map[string][]int{
		"frontend": {t.Port, c.Ports.FrontendHTTP, c.Ports.FrontendMembership},
		"history":  {c.Ports.History, c.Ports.HistoryMembership},
		"matching": {c.Ports.Matching, c.Ports.MatchingMembership},
		"worker":   {c.Ports.Worker, c.Ports.WorkerMembership},
	}
	services := ClusterServices
	if cs.Service != "" {
		services = []string{cs.Service}
	}
	var listens []int
	for _, svc := range services {
		listens = append(listens, ports[svc]...)
	}
	for _, port := range append(listens, c.Ports.metrics(cs.Service)) {
		if portInUse(port) {
			return nil, fmt.Errorf("%s: port %d: %w", cs.Name(), port, errPortTaken)
		}
	}
	if err := c.prepareOnce(ctx); err != nil {
		return nil, err
	}
	cfgPath, err := c.writeConfig(t.Port, cs.Service)
	if err != nil {
		return nil, err
	}
	args := []string{"--config-file", cfgPath, "--allow-no-auth", "start"}
	for _, svc := range services {
		args = append(args, "--service", svc)
	}
	p, err := startProcess(cs.Name(), logPath, syscall.SIGTERM, exec.Command(c.Tools.Server, args...))
	if err != nil {
		return nil, err
	}
	if !slices.Contains(services, "frontend") {
		if err := p.WaitFor(ctx, 2*startTimeout, func(context.Context) error {
			if !portInUse(ports[cs.Service][0]) {
				return fmt.Errorf("%s does not listen on %d yet", cs.Service, ports[cs.Service][0])
			}
			return nil
		}); err != nil {
			p.Kill()
			return nil, err
		}
		return p, nil
	}
	cl, err := client.NewLazyClient(client.Options{HostPort: t.Address(), Namespace: t.Namespace, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		p.Kill()
		return nil, err
	}
	defer cl.Close()
	// The server is up when its own namespace answers; ours is then
	// registered (once), and its search attributes added (once).
	if err := p.WaitFor(ctx, 2*startTimeout, func(ctx context.Context) error {
		return temporalclient.Ping(ctx, cl, "temporal-system")
	}); err != nil {
		p.Kill()
		return nil, err
	}
	if err := p.WaitFor(ctx, startTimeout, func(ctx context.Context) error {
		return registerNamespace(ctx, cl, t.Namespace)
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// prepareDatabases creates the server's role and databases unless they
// exist, then has the schema tool create the schema (first run) and apply
// whatever versioned change is new (every run, a no-op when none is).
func (c *Cluster) prepareDatabases(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.Postgres.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+clusterUser+`') THEN CREATE ROLE `+clusterUser+` LOGIN; END IF;
	END $$`); err != nil {
		return fmt.Errorf("create role %s: %w", clusterUser, err)
	}
	for _, db := range []string{clusterDB, clusterVisibility} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+db+" OWNER "+clusterUser); err != nil {
				return fmt.Errorf("create database %s: %w", db, err)
			}
		}
		if err := c.migrate(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) migrate(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, c.Postgres.URL(db))
	if err != nil {
		return err
	}
	var versioned bool
	err = conn.QueryRow(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&versioned)
	conn.Close(ctx)
	if err != nil {
		return err
	}
	tool := func(args ...string) error {
		base := []string{"--plugin", "postgres12", "--endpoint", "127.0.0.1", "--port", strconv.Itoa(c.Postgres.Port),
			"--user", clusterUser, "--database", db}
		cmd := exec.CommandContext(ctx, c.Tools.SQLTool, append(base, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("temporal-sql-tool %s on %s: %w\n%s", args[0], db, err, lastLines(out, 10))
		}
		return nil
	}
	// setup-schema -v 0.0 only creates the version table; it would reset the
	// recorded version of a database already set up, so it runs once.
	if !versioned {
		if err := tool("setup-schema", "-v", "0.0"); err != nil {
			return err
		}
	}
	return tool("update-schema", "--schema-dir", filepath.Join(c.Tools.Schema, SchemaDirs[db]))
}

// writeConfig writes the configuration of the process running service ("":
// all four), temporal.yaml or temporal-<service>.yaml, and the dynamic
// configuration they share.
func (c *Cluster) writeConfig(frontend int, service string) (string, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := RenderServerConfig(&b, c.config(frontend, service)); err != nil {
		return "", err
	}
	name := "temporal.yaml"
	if service != "" {
		name = "temporal-" + service + ".yaml"
	}
	path := filepath.Join(c.Dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return "", err
	}
	dyn, err := DynamicConfig()
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(filepath.Join(c.Dir, "dynamicconfig.yaml"), dyn, 0o644)
}

// registerNamespace registers the namespace (and "default") and adds the
// project's search attributes, each unless it is there already (the dev
// server does both from its flags).
func registerNamespace(ctx context.Context, cl client.Client, namespace string) error {
	// "default" too, as the dev server has it: the temporal CLI and the
	// samples an operator tries first use it.
	for _, ns := range slices.Compact([]string{namespace, "default"}) {
		_, err := cl.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(clusterRetention)})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("register namespace %s: %w", ns, err)
		}
	}
	have, err := cl.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, sa := range request.SearchAttributes {
		if _, ok := have.GetCustomAttributes()[sa.GetName()]; !ok {
			missing[sa.GetName()] = sa.GetValueType()
		}
	}
	if len(missing) > 0 {
		if _, err := cl.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: namespace, SearchAttributes: missing}); err != nil {
			return fmt.Errorf("add search attributes: %w", err)
		}
	}
	return temporalclient.Ping(ctx, cl, namespace)
}

// TemporalUI is the Web UI server on its own, pointed at the frontend and at
// the API's codec endpoint. The UI sends the browser's cookies along to the
// codec ("include credentials"), so a staff admin signed in to the API sees
// payloads decoded; everyone else sees ciphertext.
type TemporalUI struct {
	Bin           string
	Dir           string // its configuration
	Port          int
	Frontend      string // host:port
	Namespace     string
	CodecEndpoint string
}

// Start writes the UI's configuration and starts it.
func (u TemporalUI) Start(ctx context.Context, logPath string) (*Process, error) {
	if portInUse(u.Port) {
		return nil, fmt.Errorf("temporal-ui: port %d: %w", u.Port, errPortTaken)
	}
	if err := os.MkdirAll(u.Dir, 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`# Written by the launcher (deploy/stack/cluster.go) on every start.
temporalGrpcAddress: %q
host: 127.0.0.1
port: %d
enableUi: true
defaultNamespace: %q
hideLogs: true
cors:
  cookieInsecure: true
codec:
  endpoint: %q
  includeCredentials: true
`, u.Frontend, u.Port, u.Namespace, u.CodecEndpoint)
	if err := os.WriteFile(filepath.Join(u.Dir, "cluster.yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(u.Bin, "--root", u.Dir, "--config", ".", "--env", "cluster", "start")
	p, err := startProcess("temporal-ui", logPath, syscall.SIGTERM, cmd)
	if err != nil {
		return nil, err
	}
	if err := p.WaitFor(ctx, startTimeout, HTTPOK(fmt.Sprintf("http://127.0.0.1:%d/", u.Port))); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// schemaFiles lists the versioned schema folders found under dir, for the
// checks: each must hold at least one vX.Y folder.
func schemaFiles(dir string) (map[string][]string, error) {
	found := map[string][]string{}
	for db, rel := range SchemaDirs {
		entries, err := fs.ReadDir(os.DirFS(dir), filepath.ToSlash(rel))
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", db, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				found[db] = append(found[db], e.Name())
			}
		}
		slices.SortFunc(found[db], func(a, b string) int {
			var amaj, amin, bmaj, bmin int
			fmt.Sscanf(a, "v%d.%d", &amaj, &amin)
			fmt.Sscanf(b, "v%d.%d", &bmaj, &bmin)
			return cmp.Or(cmp.Compare(amaj, bmaj), cmp.Compare(amin, bmin))
		})
	}
	return found, nil
}

// CheckCluster checks the production-shaped stack's Temporal pieces with the
// built server itself, without starting it: the configuration the launcher
// writes loads (render-config), the dynamic configuration names only keys
// the server knows, and the schema folders hold versioned changes.
func CheckCluster(ctx context.Context, tools ClusterTools, w io.Writer) error {
	dir, err := os.MkdirTemp("", "consular-cluster-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ports := ClusterStackPorts
	c := &Cluster{Tools: tools, Dir: dir, Postgres: Postgres{Port: ports.Postgres}, Ports: ports.Cluster, HistoryShards: 8}
	cfgPath, err := c.writeConfig(ports.Temporal, "")
	if err != nil {
		return err
	}
	// render-config reads <dir>/<env>.yaml through the server's own loader.
	if err := os.Rename(cfgPath, filepath.Join(dir, "check.yaml")); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, tools.Server, "--config", dir, "--env", "check", "render-config").CombinedOutput()
	if err != nil {
		return fmt.Errorf("the server does not load the rendered configuration: %w\n%s", err, lastLines(out, 20))
	}
	for _, want := range []string{fmt.Sprintf("grpcPort: %d", ports.Temporal), "databaseName: " + clusterVisibility, "numHistoryShards: 8"} {
		if !bytes.Contains(out, []byte(want)) {
			return fmt.Errorf("the server's view of the rendered configuration lacks %q:\n%s", want, lastLines(out, 80))
		}
	}
	fmt.Fprintf(w, "ok   %s loads the configuration rendered from deploy/stack/cluster/temporal.yaml\n", TemporalServer.Name)
	dyn := filepath.Join(dir, "dynamicconfig.yaml")
	out, err = exec.CommandContext(ctx, tools.Server, "validate-dynamic-config", dyn).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("warning:")) {
		return fmt.Errorf("deploy/stack/cluster/dynamicconfig.yaml: %v\n%s", err, out)
	}
	fmt.Fprintf(w, "ok   %s accepts every key of deploy/stack/cluster/dynamicconfig.yaml\n", TemporalServer.Name)
	found, err := schemaFiles(tools.Schema)
	if err != nil {
		return err
	}
	for _, db := range []string{clusterDB, clusterVisibility} {
		if len(found[db]) == 0 {
			return fmt.Errorf("no versioned schema for %s under %s", db, tools.Schema)
		}
		fmt.Fprintf(w, "ok   schema of %s: %d versions (%s to %s) in %s\n", db, len(found[db]), found[db][0], found[db][len(found[db])-1],
			filepath.Join(tools.Schema, SchemaDirs[db]))
	}
	return nil
}

package stack

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The server's configuration as far as the stack relies on it; the real
// server loads the same file in `make cluster-check` (CheckCluster).
type renderedConfig struct {
	Persistence struct {
		DefaultStore     string `yaml:"defaultStore"`
		VisibilityStore  string `yaml:"visibilityStore"`
		NumHistoryShards int    `yaml:"numHistoryShards"`
		DataStores       map[string]struct {
			SQL struct {
				PluginName   string `yaml:"pluginName"`
				DatabaseName string `yaml:"databaseName"`
				ConnectAddr  string `yaml:"connectAddr"`
				User         string `yaml:"user"`
			} `yaml:"sql"`
		} `yaml:"datastores"`
	} `yaml:"persistence"`
	Global struct {
		Metrics struct {
			Prometheus struct {
				ListenAddress string `yaml:"listenAddress"`
			} `yaml:"prometheus"`
		} `yaml:"metrics"`
	} `yaml:"global"`
	Services map[string]struct {
		RPC struct {
			GRPCPort       int    `yaml:"grpcPort"`
			MembershipPort int    `yaml:"membershipPort"`
			HTTPPort       int    `yaml:"httpPort"`
			BindOnIP       string `yaml:"bindOnIP"`
		} `yaml:"rpc"`
	} `yaml:"services"`
	ClusterMetadata struct {
		CurrentClusterName string `yaml:"currentClusterName"`
		ClusterInformation map[string]struct {
			RPCAddress string `yaml:"rpcAddress"`
		} `yaml:"clusterInformation"`
	} `yaml:"clusterMetadata"`
	DynamicConfigClient struct {
		Filepath string `yaml:"filepath"`
	} `yaml:"dynamicConfigClient"`
}

func TestClusterConfigRendersEveryServiceOnItsOwnPortsAndBothDatabases(t *testing.T) {
	c := &Cluster{Dir: "/state/temporal", Postgres: Postgres{Port: 55433}, Ports: ClusterStackPorts.Cluster, HistoryShards: 8}
	var b bytes.Buffer
	if err := RenderServerConfig(&b, c.config(7333, "")); err != nil {
		t.Fatal(err)
	}
	var got renderedConfig
	if err := yaml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("the rendered configuration is not YAML: %v\n%s", err, b.String())
	}

	p := got.Persistence
	if p.NumHistoryShards != 8 {
		t.Errorf("numHistoryShards = %d, want 8", p.NumHistoryShards)
	}
	for store, db := range map[string]string{p.DefaultStore: clusterDB, p.VisibilityStore: clusterVisibility} {
		sql := p.DataStores[store].SQL
		if sql.DatabaseName != db || sql.PluginName != "postgres12" || sql.ConnectAddr != "127.0.0.1:55433" || sql.User != clusterUser {
			t.Errorf("store %q = %+v, want database %s on the stack's PostgreSQL as %s", store, sql, db, clusterUser)
		}
	}

	// Four services, each with its own gRPC and membership port, none shared
	// with another listener; membership ports below the smallint limit.
	seen := map[int]string{}
	claim := func(port int, what string) {
		t.Helper()
		if port == 0 {
			t.Errorf("%s has no port", what)
		}
		if other, ok := seen[port]; ok {
			t.Errorf("%s and %s both on port %d", what, other, port)
		}
		seen[port] = what
	}
	for _, svc := range []string{"frontend", "history", "matching", "worker"} {
		rpc, ok := got.Services[svc]
		if !ok {
			t.Errorf("service %s missing", svc)
			continue
		}
		claim(rpc.RPC.GRPCPort, svc+" gRPC")
		claim(rpc.RPC.MembershipPort, svc+" membership")
		if rpc.RPC.MembershipPort >= membershipPortLimit {
			t.Errorf("%s membership port %d does not fit the server's smallint column", svc, rpc.RPC.MembershipPort)
		}
		if rpc.RPC.BindOnIP != "127.0.0.1" {
			t.Errorf("%s binds on %q, want loopback only", svc, rpc.RPC.BindOnIP)
		}
	}
	claim(got.Services["frontend"].RPC.HTTPPort, "frontend HTTP")
	claim(portOf(t, got.Global.Metrics.Prometheus.ListenAddress), "metrics")
	if f := got.Services["frontend"].RPC.GRPCPort; f != 7333 {
		t.Errorf("frontend gRPC port = %d, want 7333 (what clients dial)", f)
	}
	if rpc := got.ClusterMetadata.ClusterInformation[got.ClusterMetadata.CurrentClusterName].RPCAddress; rpc != "127.0.0.1:7333" {
		t.Errorf("the cluster's rpcAddress = %q, want the frontend", rpc)
	}
	if got.DynamicConfigClient.Filepath != filepath.Join("/state/temporal", "dynamicconfig.yaml") {
		t.Errorf("dynamic config at %q, want beside the configuration", got.DynamicConfigClient.Filepath)
	}
}

func TestClusterDynamicConfigIsYAMLOfKnownShape(t *testing.T) {
	b, err := DynamicConfig()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]struct {
		Value       any            `yaml:"value"`
		Constraints map[string]any `yaml:"constraints"`
	}
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatalf("dynamicconfig.yaml: %v", err)
	}
	if v := got["system.forceSearchAttributesCacheRefreshOnRead"]; len(v) != 1 || v[0].Value != true {
		t.Errorf("search attributes cache refresh = %+v, want true (registered at start, used at once)", v)
	}
}

func portOf(t *testing.T, hostPort string) int {
	t.Helper()
	var port int
	if _, err := fmt.Sscanf(hostPort[strings.LastIndex(hostPort, ":")+1:], "%d", &port); err != nil {
		t.Fatalf("%q: %v", hostPort, err)
	}
	return port
}

func TestClusterFreePortsKeepMembershipBelowTheSmallintLimit(t *testing.T) {
	// The server stores each membership port in a smallint column and stops
	// at start on a port the kernel hands out (32768 and up).
	for range 5 {
		p, err := fillPorts(Ports{}, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, port := range p.Cluster.membership() {
			if *port == 0 || *port >= membershipPortLimit {
				t.Fatalf("membership port %d, want one in 1..%d", *port, membershipPortLimit-1)
			}
		}
		for _, port := range p.Cluster.all() {
			if *port == 0 {
				t.Fatalf("a cluster port was left unset: %+v", p.Cluster)
			}
		}
	}
}

package stack

import "testing"

// On a fresh database each of the real server's services writes the
// cluster's metadata row as it starts; two at once collide and one exits.
// So history starts alone, after PostgreSQL, and the others after it.
func TestSeparateClusterServicesStartAfterHistory(t *testing.T) {
	s := &Stack{Temporal: Temporal{Cluster: &Cluster{Separate: true}}}
	servers, after := s.startOrder(true)
	if _, ok := servers["temporal"]; ok {
		t.Error("the one-process server is started beside the separate services")
	}
	if after["temporal-history"] != "postgres" {
		t.Errorf("temporal-history starts after %q, want postgres", after["temporal-history"])
	}
	for _, svc := range []string{"temporal-matching", "temporal-worker", "temporal-frontend"} {
		if _, ok := servers[svc]; !ok || after[svc] != "temporal-history" {
			t.Errorf("%s (started: %v) starts after %q, want temporal-history", svc, ok, after[svc])
		}
	}
}

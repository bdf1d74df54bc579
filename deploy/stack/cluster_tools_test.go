//go:build cluster

package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// TestClusterSchemaFilesAreShipped checks the schema the built server
// ships; it is built with the tag "cluster", by make cluster-check, which
// builds the server first (make test never builds it).
func TestClusterSchemaFilesAreShipped(t *testing.T) {
	cache, err := ToolCache()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(TemporalServer.Path(cache)), "schema", "postgresql", "v12")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the Temporal server's schema is missing (make cluster-check builds the server first): %v", err)
	}
	found, err := schemaFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{clusterDB, clusterVisibility} {
		if len(found[db]) == 0 || found[db][0] != "v0.0" && found[db][0] != "v1.0" {
			t.Errorf("versions of %s = %v, want a series from v1.0", db, found[db])
		}
	}
}

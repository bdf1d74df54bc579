package web

import (
	"bytes"
	"strings"
	"testing"
)

func TestSealedValuesReadOnlyWithTheirKey(t *testing.T) {
	key, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	sealed, err := Seal(key, `{"email":"sara@example.org","national_id":"0013542419"}`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "sara") || strings.Contains(sealed, "0013542419") {
		t.Fatalf("sealed value readable: %s", sealed)
	}
	if v, ok := Open(key, sealed); !ok || !strings.Contains(v, "sara@example.org") {
		t.Fatalf("Open = %q, %v", v, ok)
	}
	if _, ok := Open(other, sealed); ok {
		t.Error("opened with another key")
	}
	if _, ok := Open(key, sealed[:len(sealed)-2]+"AA"); ok {
		t.Error("opened a tampered value")
	}
}

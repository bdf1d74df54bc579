package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbeSucceedsOnlyOn2xxAndOpenPorts(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := run([]string{srv.URL + "/readyz"}); err != nil {
		t.Errorf("ready server: %v", err)
	}
	ready = false
	if err := run([]string{srv.URL + "/readyz"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("unready server: got %v, want a 503 error", err)
	}
	if err := run([]string{"tcp", strings.TrimPrefix(srv.URL, "http://")}); err != nil {
		t.Errorf("open port: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if err := run([]string{"tcp", closed}); err == nil {
		t.Error("closed port: want an error")
	}
	if err := run(nil); err == nil {
		t.Error("no arguments: want the usage")
	}
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openconsular/consular/deploy/stack"
)

// With a metrics listener (production's default), /metrics is not on the
// public port at all.
func TestMetricsLeaveThePublicListener(t *testing.T) {
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	internal := fmt.Sprintf("127.0.0.1:%d", port)
	s := startSystem(t, map[string]string{"CONSULAR_METRICS_ADDR": internal})
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := get(s.url + "/metrics"); status == http.StatusOK || strings.Contains(body, "consular_") {
		t.Fatalf("public /metrics: %d, want no metrics there", status)
	}
	if status, body := get("http://" + internal + "/metrics"); status != http.StatusOK || !strings.Contains(body, "consular_http_request_duration_seconds") {
		t.Fatalf("internal /metrics: %d, want the API's metrics", status)
	}
}

package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openconsular/consular/internal/config"
)

// Every route, page or not, answers with the security headers; in
// production with HSTS too.
func TestEveryRouteSendsTheSecurityHeaders(t *testing.T) {
	app := inProcessOwnDatabase(t, func(c *config.Config) { c.Env = config.Production })
	seen := 0
	for _, r := range app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "CONNECT" || r.Method == "TRACE" || r.Path == "/" && r.Method == "USE" {
			continue
		}
		path := r.Path
		for _, p := range r.Params {
			path = strings.Replace(path, ":"+p, "x", 1)
		}
		path = strings.ReplaceAll(path, "*", "x")
		method := r.Method
		if method == "USE" {
			method = "GET"
		}
		res, err := app.Test(httptest.NewRequest(method, path, nil), 30_000)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		seen++
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy", "Strict-Transport-Security"} {
			if res.Header.Get(h) == "" {
				t.Errorf("%s %s (%d) has no %s", method, path, res.StatusCode, h)
			}
		}
	}
	if seen < 30 {
		t.Fatalf("only %d routes checked", seen)
	}
}

package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openconsular/consular/internal/config"
)

func TestLanguageSwitchRedirectsOnlyToThisSite(t *testing.T) {
	app := inProcessOwnDatabase(t, func(*config.Config) {})
	for _, next := range []string{"/%5Cevil.example", "/%252Fevil.example", "//evil.example", "https:evil.example", "/\t/evil.example", "/%09/evil.example"} {
		req := httptest.NewRequest(http.MethodGet, "/lang/en?next="+url.QueryEscape(next), nil)
		res, err := app.Test(req, 30_000)
		if err != nil {
			t.Fatal(err)
		}
		loc := res.Header.Get("Location")
		u, err := url.Parse(loc)
		if res.StatusCode != http.StatusSeeOther || err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") ||
			strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t") {
			t.Errorf("next=%q: %d Location %q, want a path on this site", next, res.StatusCode, loc)
		}
	}
}

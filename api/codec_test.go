package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/testenv"
)

// The Temporal UI's codec endpoint decrypts for operators only, and answers
// cross-origin only to the configured UI.
func TestCodecEndpointDecryptsForOperatorsOnly(t *testing.T) {
	s, logins := newStaffApp(t)
	cfg := testenv.Config(t)
	payloads, _ := codec.New(cfg.Keys.Payload)
	secret, err := payloads.DataConverter().ToPayload("applicant@example.org")
	if err != nil {
		t.Fatal(err)
	}
	requestBody, _ := json.Marshal(map[string]any{"payloads": []*commonpb.Payload{secret}})
	decode := func(auth string, cookies []*http.Cookie) (int, string) {
		req := httptest.NewRequest("POST", "/codec/decode", strings.NewReader(string(requestBody)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", cfg.Temporal.Namespace)
		req.Header.Set("Origin", cfg.Temporal.UIOrigin)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := s.app.Test(req, 15_000)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != cfg.Temporal.UIOrigin {
			t.Errorf("CORS origin %q, want the UI's", resp.Header.Get("Access-Control-Allow-Origin"))
		}
		return resp.StatusCode, body(resp)
	}
	if status, out := decode("", nil); status != http.StatusUnauthorized || strings.Contains(out, "YXBwbGljYW50") {
		t.Fatalf("without authorisation: %d %s", status, out)
	}
	if status, _ := decode("wrong", nil); status != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d, want 401", status)
	}
	// "applicant@example.org" as JSON, base64: the decoded payload's data.
	if status, out := decode(cfg.Keys.Operator, nil); status != 200 || !strings.Contains(out, "ImFwcGxpY2FudEBleGFtcGxlLm9yZyI") {
		t.Fatalf("with the operator token: %d %s", status, out)
	}
	officer, admin := logins["officer"], logins["admin"]
	s.mustSignIn(officer)
	s.mustSignIn(admin)
	if status, _ := decode("", officer.cookies); status != http.StatusUnauthorized {
		t.Fatalf("an officer's session: %d, want 401 (admins only)", status)
	}
	if status, _ := decode("", admin.cookies); status != 200 {
		t.Fatalf("an admin's session: %d, want 200", status)
	}
	req := httptest.NewRequest("OPTIONS", "/codec/decode", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, _ := s.app.Test(req, 15_000)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS answered another origin")
	}
}

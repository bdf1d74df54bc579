package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/testenv"
)

// In-process requests come from 0.0.0.0 (Fiber's test connection): trusting
// that address makes the test the ingress.
var testIngress = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}

// junkLookup sends a booking lookup that matches nothing, as client (an
// X-Forwarded-For value, "" for none), and returns the status.
func junkLookup(t *testing.T, s *staffApp, client string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"national_id": testenv.NationalID(), "tracking_code": "1404-AAAA-AAAA"})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/appointments/lookup", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	res, err := s.app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}

func TestClientsBehindTheIngressHaveTheirOwnLimitsAndAuditLines(t *testing.T) {
	const perIP = 3
	s, logins := newStaffAppWith(t, func(c *config.Config) {
		c.HTTP.TrustedProxies = testIngress
		c.Booking.LookupsPerIP = perIP
		c.Booking.LookupsPerCode = 1000
	})
	for i := 0; i < perIP; i++ {
		if status := junkLookup(t, s, "203.0.113.1"); status == http.StatusTooManyRequests {
			t.Fatalf("lookup %d of client A limited already", i+1)
		}
	}
	if status := junkLookup(t, s, "203.0.113.1"); status != http.StatusTooManyRequests {
		t.Fatalf("client A over its limit: %d, want 429", status)
	}
	// The client's own X-Forwarded-For entry, at the left, does not pass it off as someone else.
	if status := junkLookup(t, s, "198.51.100.200, 203.0.113.1"); status != http.StatusTooManyRequests {
		t.Fatalf("client A with a forged entry: %d, want 429", status)
	}
	if status := junkLookup(t, s, "203.0.113.2"); status == http.StatusTooManyRequests {
		t.Fatal("client B is limited by client A's lookups")
	}

	s.headers = map[string]string{"X-Forwarded-For": "203.0.113.50"}
	s.mustSignIn(logins["officer"])
	var ip string
	if err := s.db.QueryRow(s.ctx, `SELECT source_ip FROM audit_log WHERE staff_email = $1 AND action = 'sign_in' AND outcome = 'ok'`,
		logins["officer"].email).Scan(&ip); err != nil {
		t.Fatal(err)
	}
	if ip != "203.0.113.50" {
		t.Fatalf("audit line of a sign-in behind the ingress: source %s, want the client 203.0.113.50", ip)
	}
}

func TestForgedForwardedForFromAnUntrustedPeerChangesNothing(t *testing.T) {
	const perIP = 3
	s, _ := newStaffAppWith(t, func(c *config.Config) {
		c.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		c.Booking.LookupsPerIP = perIP
		c.Booking.LookupsPerCode = 1000
	})
	forged := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"}
	for _, client := range forged[:perIP] {
		if status := junkLookup(t, s, client); status == http.StatusTooManyRequests {
			t.Fatalf("limited too early (%s)", client)
		}
	}
	if status := junkLookup(t, s, forged[perIP]); status != http.StatusTooManyRequests {
		t.Fatalf("a new forged X-Forwarded-For escaped the limit: %d, want 429", status)
	}
}

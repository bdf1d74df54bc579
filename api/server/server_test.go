package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestClientAddressBelievesOnlyTrustedHops(t *testing.T) {
	ingress := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name      string
		peer      string
		forwarded []string
		trusted   []netip.Prefix
		want      string
	}{
		{"no proxy configured: the header is ignored", "198.51.100.7", []string{"203.0.113.9"}, nil, "198.51.100.7"},
		{"untrusted peer forging the header", "198.51.100.7", []string{"203.0.113.9"}, ingress, "198.51.100.7"},
		{"behind the ingress", "10.1.2.3", []string{"203.0.113.9"}, ingress, "203.0.113.9"},
		{"client's own entry at the left is not believed", "10.1.2.3", []string{"1.1.1.1, 203.0.113.9"}, ingress, "203.0.113.9"},
		{"two trusted hops", "10.1.2.3", []string{"203.0.113.9, 10.9.9.9"}, ingress, "203.0.113.9"},
		{"header over two lines", "10.1.2.3", []string{"1.1.1.1", "203.0.113.9"}, ingress, "203.0.113.9"},
		{"port written by a load balancer", "10.1.2.3", []string{"203.0.113.9:4711"}, ingress, "203.0.113.9"},
		{"IPv6 client", "10.1.2.3", []string{"2001:db8::1"}, ingress, "2001:db8::1"},
		{"garbage from the proxy: the last known hop", "10.1.2.3", []string{"not-an-address"}, ingress, "10.1.2.3"},
		{"trusted peer without a header", "10.1.2.3", nil, ingress, "10.1.2.3"},
		{"IPv4-mapped peer", "::ffff:10.1.2.3", []string{"203.0.113.9"}, ingress, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientAddress(addr(tc.peer), tc.forwarded, tc.trusted); got != addr(tc.want) {
				t.Fatalf("ClientAddress = %s, want %s", got, tc.want)
			}
		})
	}
}

// Over a real connection from 127.0.0.1: c.IP() is what every rate limit
// and audit line uses, and a client cannot set it by any header.
func TestIPIsTheClientBehindATrustedProxyAndThePeerOtherwise(t *testing.T) {
	serve := func(trusted []netip.Prefix) string {
		app := New(Options{Logger: slog.New(slog.DiscardHandler), RequestTimeout: 5 * time.Second, Bodies: BodyLimits{Form: 1 << 10, JSON: 1 << 10}, TrustedProxies: trusted})
		app.Get("/ip", func(c *fiber.Ctx) error { return c.SendString(c.IP()) })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = app.Listener(ln) }()
		t.Cleanup(func() { _ = app.Shutdown() })
		return "http://" + ln.Addr().String()
	}
	ask := func(url string, headers map[string]string) string {
		req, _ := http.NewRequest(http.MethodGet, url+"/ip", nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	forged := map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Real-Ip": "203.0.113.8", clientAddressHeader: "203.0.113.7"}

	untrusted := serve([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if got := ask(untrusted, forged); got != "127.0.0.1" {
		t.Errorf("untrusted peer with forged headers: c.IP() = %q, want the peer 127.0.0.1", got)
	}
	behind := serve([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	if got := ask(behind, map[string]string{"X-Forwarded-For": "203.0.113.9"}); got != "203.0.113.9" {
		t.Errorf("behind a trusted proxy: c.IP() = %q, want 203.0.113.9", got)
	}
	if got := ask(behind, map[string]string{clientAddressHeader: "203.0.113.7"}); got != "127.0.0.1" {
		t.Errorf("client setting the internal header: c.IP() = %q, want 127.0.0.1", got)
	}
}

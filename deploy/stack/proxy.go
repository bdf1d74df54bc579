package stack

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

// StartProxy serves addr by handing each request to the next API in turn, as
// a load balancer in front of API replicas would. An API that refuses the
// connection (stopped, restarting) is skipped for that request. `make
// cluster` puts it in front of its two APIs, and so does the soak on the
// production-shaped stack.
func StartProxy(addr string, backends []string) (*http.Server, error) {
	var next atomic.Uint64
	proxies := make([]*httputil.ReverseProxy, len(backends))
	for i, b := range backends {
		proxies[i] = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: b})
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := int(next.Add(1))
		for i := range backends {
			b := backends[(first+i)%len(backends)]
			// Only a refused connection moves on: a request already sent is
			// never sent twice.
			if conn, err := net.DialTimeout("tcp", b, time.Second); err == nil {
				conn.Close()
				proxies[(first+i)%len(backends)].ServeHTTP(w, r)
				return
			}
		}
		http.Error(w, "no API is up", http.StatusBadGateway)
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "proxy:", err)
		}
	}()
	return srv, nil
}

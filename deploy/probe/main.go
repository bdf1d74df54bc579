// Command probe is the containers' health check. The images are distroless:
// no shell, no curl, so Docker's HEALTHCHECK (and compose's healthcheck) run
// this instead. It reads no configuration: the address is its argument.
//
//	probe http://127.0.0.1:8080/readyz   exit 0 when a GET answers 2xx
//	probe tcp temporal:7233              exit 0 when a TCP connection opens
//
// Kubernetes does not need it: its httpGet probes call the API and the
// worker directly.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

const timeout = 3 * time.Second

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch {
	case len(args) == 1:
		return get(ctx, args[0])
	case len(args) == 2 && args[0] == "tcp":
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", args[1])
		if err != nil {
			return err
		}
		return conn.Close()
	default:
		return fmt.Errorf("usage: probe URL | probe tcp HOST:PORT")
	}
}

func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

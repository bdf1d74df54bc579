package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/openconsular/consular/deploy/stack"
)

// The API and the worker have no pprof endpoint. For -profile the bench
// builds them with one anyway, through a build overlay (go build -overlay):
// a file that exists only in this build serves net/http/pprof on an address
// taken from the environment. The working tree is not touched, and without
// -profile the bench measures the very binaries `make dev` runs.
const pprofFile = `package main

// Compiled in by deploy/bench for -profile only (go build -overlay).

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv(%q); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
`

func pprofEnv(binary string) string { return "CONSULAR_BENCH_PPROF_" + strings.ToUpper(binary) }

// buildProfiled builds the API and the worker into bin with pprof compiled
// in, and returns the address each will serve it on.
func buildProfiled(ctx context.Context, bin, dir string) (map[string]string, error) {
	overlay, addrs := map[string]string{}, map[string]string{}
	for _, pkg := range []string{"api", "workers"} {
		out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", "./"+pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("go list ./%s: %w", pkg, err)
		}
		src := filepath.Join(dir, pkg+"_pprof.go")
		if err := os.WriteFile(src, fmt.Appendf(nil, pprofFile, pprofEnv(pkg)), 0o644); err != nil {
			return nil, err
		}
		overlay[filepath.Join(strings.TrimSpace(string(out)), "zz_bench_pprof.go")] = src
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		addrs[pkg] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	spec, _ := json.Marshal(map[string]any{"Replace": overlay})
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, spec, 0o644); err != nil {
		return nil, err
	}
	for _, pkg := range []string{"api", "workers"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlayPath, "-o", filepath.Join(bin, pkg), "./"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./%s with pprof: %w\n%s", pkg, err, out)
		}
	}
	return addrs, nil
}

// profile starts CPU profiles of the API and the worker over the next
// measurement when -profile is set and n is the aim's level, and returns
// the wait for them.
func (b *bench) profile(ctx context.Context, n int, what string) func() error {
	if b.o.profileDir == "" || n != aimClients {
		return func() error { return nil }
	}
	done := make(chan error, len(b.sys.pprof))
	for name, addr := range b.sys.pprof {
		path := filepath.Join(b.o.profileDir, fmt.Sprintf("%s-cpu-%s-%d-clients.pprof", name, what, n))
		b.rep.profiles = append(b.rep.profiles, path)
		go func() { done <- cpuProfile(ctx, addr, b.o.duration, path) }()
	}
	return func() error {
		var first error
		for range b.sys.pprof {
			first = cmp.Or(first, <-done)
		}
		return first
	}
}

// cpuProfile asks a process for a CPU profile of the next d and writes it to dest.
func cpuProfile(ctx context.Context, addr string, d time.Duration, dest string) error {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d/time.Second)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile from %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile from %s: %s", addr, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return f.Close()
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openconsular/consular/deploy/stack"
)

// The API and the worker have no pprof endpoint. For -profile the bench
// builds them with one anyway, through a build overlay (go build -overlay):
// a file that exists only in this build adds net/http/pprof on an address
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

const module = "github.com/openconsular/consular/"

func pprofEnv(binary string) string {
	return "CONSULAR_BENCH_PPROF_" + strings.ToUpper(binary)
}

// buildProfiled builds the API and the worker into bin with pprof compiled
// in, and returns the address each will serve it on.
func buildProfiled(ctx context.Context, bin, dir string) (map[string]string, error) {
	overlay := map[string]string{}
	addrs := map[string]string{}
	for _, pkg := range []string{"api", "workers"} {
		out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", module+pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("go list %s: %w", pkg, err)
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
	spec, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		return nil, err
	}
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, spec, 0o644); err != nil {
		return nil, err
	}
	for _, pkg := range []string{"api", "workers"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlayPath, "-o", filepath.Join(bin, pkg), module+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./%s with pprof: %w\n%s", pkg, err, out)
		}
	}
	return addrs, nil
}

// cpuProfile asks a process for a CPU profile of the next d and writes it to dest.
func cpuProfile(ctx context.Context, addr string, d time.Duration, dest string) error {
	seconds := max(1, int(d/time.Second))
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), nil)
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
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return f.Close()
}

// cpuCategories sort a profile's samples by what they were for. Each sample
// goes to the first category with a matching frame anywhere in its stack,
// so the shares add up to 100%: document checks read the body as they go,
// and that reading counts as checking; MinIO's signing hashes count as MinIO.
var cpuCategories = []struct {
	name   string
	frames []string
}{
	{"garbage collector (background)", []string{"runtime.gcBgMarkWorker"}},
	{"PDF receipt (gopdf, QR code)", []string{"signintech/gopdf", "skip2/go-qrcode"}},
	{"MinIO client (put/get, signing)", []string{"minio/minio-go"}},
	{"JPEG decode (document check)", []string{"image/jpeg."}},
	{"document check: read body, SHA-256", []string{"internal/documents.Check"}},
	{"Temporal SDK, gRPC", []string{"go.temporal.io/", "google.golang.org/grpc"}},
	{"PostgreSQL (pgx)", []string{"jackc/pgx", "jackc/puddle"}},
	{"mail (SMTP)", []string{"go-simple-mail", "net/smtp"}},
	{"mail composition (templates, iCalendar)", []string{"internal/calendar", "html/template", "text/template"}},
	{"appointment slots (internal/schedule)", []string{"internal/schedule"}},
	{"logging (slog)", []string{"log/slog"}},
	{"HTTP server, multipart (fasthttp, Fiber)", []string{"valyala/fasthttp", "gofiber/fiber", "mime/multipart"}},
}

const otherCategory = "other (scheduler, syscalls, ...)"

// categorize reads a CPU profile with `go tool pprof -traces` and returns
// the share of samples in each category, and the total CPU time sampled.
func categorize(ctx context.Context, path string) (map[string]float64, time.Duration, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-traces", path).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("go tool pprof -traces %s: %w", path, err)
	}
	spent := map[string]time.Duration{}
	var total time.Duration
	// Each sample is a block: a line "-----------+----", then the sample's
	// value and its leaf frame on one line, then one frame per line.
	var value time.Duration
	var stack []string
	flush := func() {
		if value == 0 {
			return
		}
		total += value
		spent[classify(stack)] += value
		value, stack = 0, nil
	}
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if d, err := time.ParseDuration(fields[0]); err == nil && len(fields) >= 2 {
			flush()
			value, stack = d, []string{fields[1]}
			continue
		}
		if value != 0 {
			stack = append(stack, fields[0])
		}
	}
	flush()
	shares := map[string]float64{}
	for name, d := range spent {
		if total > 0 {
			shares[name] = float64(d) / float64(total)
		}
	}
	return shares, total, lines.Err()
}

func classify(stack []string) string {
	for _, c := range cpuCategories {
		for _, frame := range stack {
			for _, f := range c.frames {
				if strings.Contains(frame, f) {
					return c.name
				}
			}
		}
	}
	return otherCategory
}

// topFunctions is `go tool pprof -top`'s table of the functions that used
// the CPU themselves (flat), first n.
func topFunctions(ctx context.Context, path string, n int) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount="+strconv.Itoa(n), path).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof -top %s: %w", path, err)
	}
	// Keep the table, not the header about the file and build.
	s := string(out)
	if i := strings.Index(s, "      flat"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}

// sortedCategories lists category names by share, largest first.
func sortedCategories(shares ...map[string]float64) []string {
	seen := map[string]float64{}
	for _, m := range shares {
		for k, v := range m {
			seen[k] = max(seen[k], v)
		}
	}
	names := make([]string, 0, len(seen))
	for k := range seen {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return seen[names[i]] > seen[names[j]] })
	return names
}

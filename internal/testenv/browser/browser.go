// Package browser drives Debian's Chromium (/usr/bin/chromium) for browser
// tests of the portal's pages, through chromedp: each Browser is one headless
// Chromium with its own profile and cookie jar; its helpers wait for elements,
// fail the test with the page's URL (and a screenshot of it), save full-page
// screenshots under .artifacts/browser/, and check pages with a pinned
// axe-core. deploy/browser-deps.sh installs Chromium and axe-core (`make test`
// runs it); a test run without them fails with a message naming `make test`,
// it never skips. Nothing is fetched from the network while tests run.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

const (
	// DefaultTimeout bounds every helper: an element that does not appear,
	// or a page that does not load, within it fails the test.
	DefaultTimeout = 15 * time.Second
	startTimeout   = 30 * time.Second
	closeTimeout   = 10 * time.Second

	// The viewport a Browser starts with; ScreenshotBothWidths adds the phone.
	desktopWidth  = 1280
	desktopHeight = 800
	phoneWidth    = 390
	phoneHeight   = 844
)

const missingTools = "run `make test`, or `bash deploy/browser-deps.sh` once before `go test`"

// Browser is one headless Chromium with a fresh profile (so its own cookie
// jar) and one tab, belonging to the test that made it. Its methods run on
// the test's goroutine and fail the test (t.Fatalf) when the page does not do
// what they ask within the timeout.
type Browser struct {
	t       testing.TB
	ctx     context.Context // the tab; lives until the test's cleanup
	cancel  context.CancelFunc
	alloc   context.CancelFunc
	profile string
	root    string
	axe     axeSource
	timeout time.Duration

	width, height int
	status        int  // HTTP status of the last document loaded by a helper
	failing       bool // inside fatalf: no second failure screenshot

	// StartupTime is how long Chromium took to start and open its tab.
	StartupTime time.Duration

	mu      sync.Mutex
	console []string     // errors the page reported (console.error, exceptions, CSP, failed loads)
	logs    []string     // chromedp's own complaints
	output  cappedBuffer // Chromium's stdout and stderr
}

// New starts a headless Chromium for the test and stops it when the test
// ends. It fails the test, naming `make test`, when Chromium or axe-core is
// not installed.
func New(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("browser tests need Debian's Chromium at %s (not found): %s", ChromiumPath, missingTools)
	}
	root := RepoRoot(t)
	b := &Browser{
		t:       t,
		root:    root,
		axe:     loadAxe(t, root),
		profile: t.TempDir(),
		timeout: DefaultTimeout,
		width:   desktopWidth,
		height:  desktopHeight,
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless, // with hide-scrollbars: screenshots are exactly the viewport's width
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// This machine's network is closed: without these Chromium keeps
		// trying to reach Google's hosts, many connections at a time.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		// Same colours on every machine, and English unless a test asks otherwise.
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(b.profile),
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.CombinedOutput(&b.output),
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(b.logf), chromedp.WithLogf(b.logf))
	b.ctx, b.cancel, b.alloc = ctx, cancel, allocCancel
	t.Cleanup(b.close)

	// The first Do starts the browser and binds it to ctx, so it cannot take
	// a deadline of its own; bound the wait here instead.
	start := time.Now()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium (%s): %v\n%s", ChromiumPath, err, quiet(b.output.String()))
		}
	case <-time.After(startTimeout):
		t.Fatalf("start Chromium (%s): no tab after %v\n%s", ChromiumPath, startTimeout, quiet(b.output.String()))
	}
	b.StartupTime = time.Since(start)
	t.Logf("browser: Chromium started in %v (profile %s)", b.StartupTime.Round(time.Millisecond), b.profile)

	b.do("set the viewport", chromedp.EmulateViewport(desktopWidth, desktopHeight))
	// Subscribe now, so the first page's messages are not missed.
	go b.collectConsole(chromedp.Console(ctx))
	return b
}

// SetTimeout changes how long each helper waits (DefaultTimeout otherwise).
func (b *Browser) SetTimeout(d time.Duration) { b.timeout = d }

// Context is the chromedp context of the tab, for what the helpers do not
// cover: chromedp.Run(b.Context(), ...). Derive a timeout from it per call.
func (b *Browser) Context() context.Context { return b.ctx }

// ConsoleErrors returns what the pages reported as errors so far:
// console.error calls, uncaught exceptions, and browser log errors such as
// Content-Security-Policy refusals and failed loads.
func (b *Browser) ConsoleErrors() []string {
	time.Sleep(50 * time.Millisecond) // events arrive asynchronously; let the last ones in
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

func (b *Browser) collectConsole(messages iter.Seq2[chromedp.ConsoleMessage, error]) {
	for m, err := range messages {
		if err != nil {
			return
		}
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		line := m.String()
		if m.URL != "" {
			line += " (" + m.URL + ":" + strconv.FormatInt(m.Line+1, 10) + ")"
		}
		b.mu.Lock()
		b.console = append(b.console, line)
		b.mu.Unlock()
	}
}

// logf keeps chromedp's messages; they are shown only when the test fails.
func (b *Browser) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.logs) < 200 {
		b.logs = append(b.logs, fmt.Sprintf(format, args...))
	}
}

func (b *Browser) close() {
	if b.cancel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, closeTimeout)
	_ = chromedp.Cancel(ctx) // closes the browser gracefully, then its context
	cancel()
	b.cancel()
	b.alloc()
	// We chose the profile folder, so chromedp does not hunt down Chromium's
	// helper processes; stop any of ours still using it before the test's
	// TempDir cleanup removes it.
	stopProcessesUsing(b.profile)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.t.Failed() {
		if len(b.console) > 0 {
			b.t.Logf("browser: errors the pages reported:\n  %s", strings.Join(b.console, "\n  "))
		}
		if len(b.logs) > 0 {
			b.t.Logf("browser: chromedp said:\n  %s", strings.Join(b.logs, "\n  "))
		}
		if out := quiet(b.output.String()); out != "" {
			b.t.Logf("browser: Chromium's output:\n%s", out)
		}
	}
}

// stopProcessesUsing waits up to two seconds for the processes started with
// --user-data-dir=dir to exit, then kills those left. Only our own browser's
// processes carry that folder, a fresh TempDir.
func stopProcessesUsing(dir string) {
	want := []byte("--user-data-dir=" + dir)
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					pids = append(pids, pid)
					break
				}
			}
		}
		return pids
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		pids := find()
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do runs actions with the helper timeout and fails the test on error.
func (b *Browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%s: %v", what, b.explain(err))
	}
}

// run runs one action that returns a value, with the helper timeout.
func run[T any](b *Browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fatalf("%s: %v", what, b.explain(err))
	}
	return v
}

func (b *Browser) explain(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("nothing after %v (no such element, not visible yet, or no page load)", b.timeout)
	}
	// A helper's own script threw: its message is the explanation, the
	// stack through our wrappers is noise.
	var ex *chromedp.ExceptionError
	if errors.As(err, &ex) && ex.Exception != nil && ex.Exception.Description != "" {
		msg, _, _ := strings.Cut(ex.Exception.Description, "\n    at ")
		return errors.New(strings.TrimPrefix(msg, "Error: "))
	}
	return err
}

// fatalf fails the test with the page's URL and a screenshot of the page.
func (b *Browser) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if b.failing {
		b.t.Fatalf("browser: %s", msg)
	}
	b.failing = true
	where := "unknown (the tab does not answer)"
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	if u, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		where = u
	}
	cancel()
	shot := ""
	if path, err := b.screenshot("failure"); err == nil {
		shot = "\n  screenshot: " + path
	}
	b.t.Fatalf("browser: %s\n  page: %s%s", msg, where, shot)
}

// quiet drops what Chromium always says on a machine without a desktop
// session (no D-Bus), so what is left may explain a failure.
func quiet(output string) string {
	var keep []string
	for line := range strings.Lines(output) {
		if !strings.Contains(line, "dbus") && !strings.Contains(line, "unexpected operator") {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, ""))
}

// cappedBuffer keeps the first 64 KB written to it, from any goroutine.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 64<<10 - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

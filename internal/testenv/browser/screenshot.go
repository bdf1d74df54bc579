package browser

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// SetViewport resizes the page's viewport to width x height CSS pixels at
// scale 1 (a desktop window of that size: media queries see the width, a
// screenshot is width pixels wide).
func (b *Browser) SetViewport(width, height int) {
	b.t.Helper()
	b.do(fmt.Sprintf("set the viewport to %dx%d", width, height), chromedp.EmulateViewport(int64(width), int64(height)))
	b.width, b.height = width, height
}

// Screenshot saves a full-page PNG of the current page as
// .artifacts/browser/<TestName>/<name>-<width>.png in the repository and
// returns its path. The test's folder is emptied before its first screenshot
// in a run, so what is there belongs to the last run.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	path, err := b.screenshot(name)
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	return path
}

// ScreenshotBothWidths saves full-page screenshots at 390 px (a phone) and at
// 1280 px and returns their paths in that order; the viewport is then back
// to what it was.
func (b *Browser) ScreenshotBothWidths(name string) []string {
	b.t.Helper()
	w, h := b.width, b.height
	defer b.SetViewport(w, h)
	var paths []string
	for _, size := range [][2]int{{phoneWidth, phoneHeight}, {desktopWidth, desktopHeight}} {
		b.SetViewport(size[0], size[1])
		paths = append(paths, b.Screenshot(name))
	}
	return paths
}

func (b *Browser) screenshot(name string) (string, error) {
	dir, err := b.artifactDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", safeName(name), b.width))
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		height := int64(b.height)
		if s := m.CSSContentSize; s != nil {
			height = max(height, int64(math.Ceil(s.Height)))
			if w := int(math.Ceil(s.Width)); w > b.width {
				b.t.Logf("browser: %s is %d px wide in a %d px viewport (it scrolls sideways); the screenshot shows the viewport's width", name, w, b.width)
			}
		}
		// Grow the viewport to the page's height for the shot and back.
		// CaptureBeyondViewport does the same inside Chromium, but here it
		// rendered short pages at 980 px while the viewport was 390.
		if height > int64(b.height) {
			if _, err := chromedp.EmulateViewport(int64(b.width), height)(ctx, t); err != nil {
				return nil, err
			}
			defer chromedp.EmulateViewport(int64(b.width), int64(b.height))(ctx, t)
		}
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
		return r.Data, err
	})
	if err != nil {
		return "", b.explain(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// clearedDirs holds the artifact folders emptied in this run.
var clearedDirs sync.Map

func (b *Browser) artifactDir() (string, error) {
	var parts []string
	for p := range strings.SplitSeq(b.t.Name(), "/") {
		parts = append(parts, safeName(p))
	}
	dir := filepath.Join(append([]string{b.root, ".artifacts", "browser"}, parts...)...)
	if _, done := clearedDirs.LoadOrStore(dir, true); !done {
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	return dir, os.MkdirAll(dir, 0o755)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName keeps a file name portable and inside its folder.
func safeName(s string) string {
	s = strings.Trim(unsafeChars.ReplaceAllString(s, "_"), ".")
	if s == "" {
		return "_"
	}
	return s
}

var (
	rootOnce sync.Once
	root     string
	rootErr  error
)

// RepoRoot is the folder of the repository's go.mod, found by walking up
// from the test's working directory (its package folder).
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				root = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = fmt.Errorf("no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("find the repository root: %v", rootErr)
	}
	return root
}

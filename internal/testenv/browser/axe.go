package browser

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxeResult is what axe-core found on one page.
type AxeResult struct {
	Version    string         `json:"version"`    // axe-core's version
	URL        string         `json:"url"`        // the page checked
	Violations []AxeViolation `json:"violations"` // rules broken, every impact
	Incomplete []AxeViolation `json:"incomplete"` // rules axe could not decide (e.g. contrast over an image): review by eye
	Passes     int            `json:"passes"`     // how many rules held
}

// AxeViolation is one axe-core rule broken by some elements of the page.
type AxeViolation struct {
	ID      string    `json:"id"`     // the rule, e.g. "label", "color-contrast"
	Impact  string    `json:"impact"` // "minor", "moderate", "serious" or "critical"
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []AxeNode `json:"nodes"`
}

// AxeNode is one element that breaks a rule.
type AxeNode struct {
	Target  []string `json:"target"` // CSS selectors (">>>" joins a shadow root or frame path)
	HTML    string   `json:"html"`
	Summary string   `json:"failureSummary"`
}

// Blocking reports whether the violation fails CheckAccessibility: impact
// serious or critical.
func (v AxeViolation) Blocking() bool {
	return v.Impact == "serious" || v.Impact == "critical"
}

// String is one line per element: rule, impact, help, and where.
func (v AxeViolation) String() string {
	var targets []string
	for _, n := range v.Nodes {
		targets = append(targets, strings.Join(n.Target, " >>> "))
	}
	return fmt.Sprintf("%s (%s): %s\n      at %s\n      %s", v.ID, v.Impact, v.Help, strings.Join(targets, "\n      at "), v.HelpURL)
}

// String summarises the result for a test log.
func (r *AxeResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "axe-core %s on %s: %d rules passed, %d violated, %d to review", r.Version, r.URL, r.Passes, len(r.Violations), len(r.Incomplete))
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return b.String()
}

// CheckAccessibility runs axe-core on the current page and fails t (Errorf,
// so the test goes on) listing every violation of impact serious or
// critical, with the selectors of its elements. It returns the whole result,
// minor and moderate findings included, for logging. axe-core is injected
// through the DevTools protocol, so it runs on pages whose
// Content-Security-Policy forbids inline and foreign scripts.
func (b *Browser) CheckAccessibility(t testing.TB) *AxeResult {
	t.Helper()
	r := b.axeRun()
	var blocking []string
	for _, v := range r.Violations {
		if v.Blocking() {
			blocking = append(blocking, v.String())
		}
	}
	if len(blocking) > 0 {
		t.Errorf("accessibility (axe-core %s) on %s: %d serious or critical violations:\n  %s",
			r.Version, r.URL, len(blocking), strings.Join(blocking, "\n  "))
	}
	return r
}

// Violations runs axe-core on the current page and returns every rule it
// finds broken, of any impact, without failing the test (only an axe-core
// that cannot run does). CheckAccessibility fails on those that are Blocking.
func (b *Browser) Violations() []AxeViolation {
	b.t.Helper()
	return b.axeRun().Violations
}

func (b *Browser) axeRun() *AxeResult {
	b.t.Helper()
	// Runtime.evaluate runs the script as the DevTools console would, outside
	// the page's Content-Security-Policy: no <script> element is added.
	loaded := b.evalString("look for axe-core", `() => (window.axe && axe.version) || ''`)
	if loaded != b.axe.version {
		run(b, "inject axe-core", chromedp.Evaluate[chromedp.Void](b.axe.source+"\n;undefined"))
	}
	raw := b.eval("run axe-core", `async () => {
		const r = await axe.run(document, {resultTypes: ['violations']});
		const rules = list => list.map(v => ({
			id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => ({
				target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : String(t)),
				html: n.html, failureSummary: n.failureSummary || '',
			})),
		}));
		return {version: r.testEngine.version, url: r.url, violations: rules(r.violations),
			incomplete: rules(r.incomplete), passes: r.passes.length};
	}`)
	var r AxeResult
	if err := json.Unmarshal(raw, &r); err != nil {
		b.fatalf("read axe-core's result: %v", err)
	}
	return &r
}

type axeSource struct {
	version string
	source  string
}

var (
	axeMu    sync.Mutex
	axeCache = map[string]axeSource{}
)

var pinnedAxe = regexp.MustCompile(`(?m)^AXE_VERSION=([0-9A-Za-z.+-]+)\s*$`)

// loadAxe reads the axe-core that deploy/browser-deps.sh installed, and checks
// it is the version the script pins.
func loadAxe(t testing.TB, root string) axeSource {
	t.Helper()
	axeMu.Lock()
	defer axeMu.Unlock()
	if a, ok := axeCache[root]; ok {
		return a
	}
	script := filepath.Join(root, "deploy", "browser-deps.sh")
	deps, err := os.ReadFile(script)
	if err != nil {
		t.Fatalf("read the pinned axe-core version: %v", err)
	}
	m := pinnedAxe.FindSubmatch(deps)
	if m == nil {
		t.Fatalf("no AXE_VERSION= line in %s", script)
	}
	want := string(m[1])
	dir := filepath.Join(root, ".tools", "axe-core")
	var pkg struct{ Version string }
	manifest, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(manifest, &pkg)
	}
	if err != nil {
		t.Fatalf("browser tests need axe-core %s in %s (%v): %s", want, dir, err, missingTools)
	}
	if pkg.Version != want {
		t.Fatalf("browser tests need axe-core %s, %s holds %s: %s", want, dir, pkg.Version, missingTools)
	}
	src, err := os.ReadFile(filepath.Join(dir, "axe.min.js"))
	if err != nil {
		t.Fatalf("browser tests need axe-core %s in %s (%v): %s", want, dir, err, missingTools)
	}
	a := axeSource{version: want, source: string(src)}
	axeCache[root] = a
	return a
}

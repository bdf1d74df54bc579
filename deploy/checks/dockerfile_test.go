package checks

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"golang.org/x/mod/semver"
)

type dockerfile struct {
	stages   map[string]instructions.Stage
	metaArgs map[string]string
	lint     []string
}

// parseDockerfile parses deploy/Dockerfile with BuildKit's own parser and
// runs BuildKit's lint rules (those of `docker build --check`).
func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(Path("deploy/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	d := dockerfile{stages: map[string]instructions.Stage{}, metaArgs: map[string]string{}}
	for _, w := range res.Warnings {
		d.lint = append(d.lint, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		d.lint = append(d.lint, fmt.Sprintf("%s: %s (line %d)", rule, msg, loc[0].Start.Line))
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				d.metaArgs[kv.Key] = *kv.Value
			}
		}
	}
	for _, s := range stages {
		d.stages[s.Name] = s
	}
	return d
}

func TestDockerfileHasNoLintWarnings(t *testing.T) {
	if d := parseDockerfile(t); len(d.lint) > 0 {
		t.Errorf("BuildKit lint:\n%s", strings.Join(d.lint, "\n"))
	}
}

// Both targets end in an image that runs as a numeric non-root user, on
// distroless (or scratch), with no shell to fall back to.
func TestDockerfileTargetsRunAsNonRoot(t *testing.T) {
	d := parseDockerfile(t)
	for _, target := range []string{"api", "worker"} {
		stage, ok := d.stages[target]
		if !ok {
			t.Errorf("no stage %q", target)
			continue
		}
		user, base := "", ""
		// Walk FROM to the image the target starts from; the last USER wins.
		for chain := []instructions.Stage{stage}; ; {
			s := chain[len(chain)-1]
			parent, isStage := d.stages[s.BaseName]
			if !isStage {
				base = s.BaseName
				for i := len(chain) - 1; i >= 0; i-- {
					for _, c := range chain[i].Commands {
						if u, ok := c.(*instructions.UserCommand); ok {
							user = u.User
						}
					}
				}
				break
			}
			chain = append(chain, parent)
		}
		uid, _, _ := strings.Cut(user, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("%s: USER %q, want a numeric non-root uid (Kubernetes' runAsNonRoot checks numbers)", target, user)
		}
		if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
			t.Errorf("%s: final image from %q, want distroless static or scratch", target, base)
		}
		if strings.HasPrefix(base, "gcr.io/distroless/") && !strings.Contains(base, "nonroot") {
			t.Errorf("%s: %q is not a nonroot distroless variant", target, base)
		}
	}
}

// The build stage uses the Go of go.mod and builds static binaries.
func TestDockerfileBuildsStaticBinariesWithTheModulesGo(t *testing.T) {
	d := parseDockerfile(t)
	build, ok := d.stages["build"]
	if !ok {
		t.Fatal("no stage build")
	}
	if !strings.HasPrefix(build.BaseName, "golang:${GO_VERSION}") {
		t.Errorf("build stage from %q, want golang:${GO_VERSION}...", build.BaseName)
	}
	mod, err := GoVersion()
	if err != nil {
		t.Fatal(err)
	}
	img := d.metaArgs["GO_VERSION"]
	if semver.MajorMinor("v"+img) != semver.MajorMinor("v"+mod) || semver.Compare("v"+img, "v"+mod) < 0 {
		t.Errorf("Dockerfile GO_VERSION=%s, go.mod says go %s: want the same minor version, not older", img, mod)
	}
	static, runs := false, ""
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				static = static || (kv.Key == "CGO_ENABLED" && kv.Value == "0")
			}
		case *instructions.RunCommand:
			runs += " " + strings.Join(c.CmdLine, " ") + " "
		}
	}
	if !static {
		t.Error("build stage does not set CGO_ENABLED=0")
	}
	for _, pkg := range []string{"./api", "./workers", "./deploy/probe"} {
		if !strings.Contains(runs, " "+pkg+" ") {
			t.Errorf("build stage does not build %s", pkg)
		}
	}
}

package checks

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
)

// exampleEnv is deploy/.env.example with every empty value filled, as a user
// who followed its instructions would have it.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(Path("deploy/.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := ParseEnvFile(b)
	for k, v := range env {
		if v == "" && k != "CONSULAR_RECEIPT_PREVIOUS_KEYS" {
			env[k] = "placeholder0" + strings.ToLower(k)
		}
	}
	return env
}

// loadCompose loads a compose file the way `docker compose` does (compose-go,
// with schema validation and consistency checks on: an unknown or misspelt
// key fails), with env as the only environment.
func loadCompose(t *testing.T, file string, env map[string]string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(list),
		cli.WithConsistency(true),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func composeProject(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, Path("deploy/docker-compose.yml"), exampleEnv(t))
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeServicesArePinnedHealthyAndOrdered(t *testing.T) {
	p := composeProject(t)
	for _, want := range []string{"postgres", "temporal-schema", "temporal", "temporal-setup", "temporal-ui",
		"minio", "minio-setup", "mailpit", "migrate", "api", "worker"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("no service %s", want)
		}
	}
	for name, s := range p.Services {
		if s.Build == nil {
			ref, err := reference.ParseNormalizedNamed(s.Image)
			if err != nil {
				t.Errorf("%s: image %q: %v", name, s.Image, err)
				continue
			}
			tagged, isTagged := ref.(reference.Tagged)
			_, isDigested := ref.(reference.Digested)
			if !isDigested && (!isTagged || tagged.Tag() == "latest") {
				t.Errorf("%s: image %q is not pinned to a tag or digest", name, s.Image)
			}
		}
		oneShot := s.Restart == types.RestartPolicyNo
		if !oneShot && (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) {
			t.Errorf("%s: a long-running service without a health check", name)
		}
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy && d.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("%s depends on %s with condition %q: want service_healthy or service_completed_successfully", name, dep, d.Condition)
			}
		}
	}
	api := p.Services["api"]
	if api.HealthCheck == nil || !strings.Contains(strings.Join(api.HealthCheck.Test, " "), "/readyz") {
		t.Errorf("api: health check %v does not call /readyz", api.HealthCheck)
	}
	for _, name := range []string{"api", "worker", "migrate"} {
		s := p.Services[name]
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: not built from deploy/Dockerfile", name)
		}
		if !s.ReadOnly {
			t.Errorf("%s: root filesystem is writable", name)
		}
	}
	if w := p.Services["worker"]; w.HealthCheck == nil || !strings.Contains(strings.Join(w.HealthCheck.Test, " "), "127.0.0.1:8081/healthz") ||
		w.Environment["CONSULAR_WORKER_HTTP_ADDR"] == nil || *w.Environment["CONSULAR_WORKER_HTTP_ADDR"] != "0.0.0.0:8081" {
		t.Errorf("worker: health check %v does not call the /healthz it serves on CONSULAR_WORKER_HTTP_ADDR", w.HealthCheck)
	}
	if w := p.Services["worker"]; w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas != 2 {
		t.Errorf("worker: want deploy.replicas 2")
	}
	for _, name := range []string{"api", "worker"} {
		for _, dep := range []string{"migrate", "temporal-setup", "minio-setup"} {
			if _, ok := p.Services[name].DependsOn[dep]; !ok {
				t.Errorf("%s does not wait for %s", name, dep)
			}
		}
	}
}

// Every CONSULAR_* variable compose sets is one the app reads (the README's
// configuration table), so a misspelt variable cannot be silently ignored.
func TestComposeSetsOnlyVariablesTheAppReads(t *testing.T) {
	known, err := ReadmeVariables()
	if err != nil {
		t.Fatal(err)
	}
	p := composeProject(t)
	seen := 0
	for name, s := range p.Services {
		for k := range s.Environment {
			if !strings.HasPrefix(k, "CONSULAR_") {
				continue
			}
			seen++
			if _, ok := known[k]; !ok {
				t.Errorf("%s sets %s, which the app does not read (no row in README.md's configuration table)", name, k)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no CONSULAR_* variable found in compose")
	}
	for _, k := range []string{"CONSULAR_DATABASE_URL", "CONSULAR_TEMPORAL_ADDRESS", "CONSULAR_MINIO_ENDPOINT", "CONSULAR_SMTP_HOST",
		"CONSULAR_PAYLOAD_KEYS", "CONSULAR_RECEIPT_SIGNING_KEY", "CONSULAR_LINK_KEY", "CONSULAR_STAFF_API_KEY"} {
		if _, ok := p.Services["worker"].Environment[k]; !ok {
			t.Errorf("worker: %s is not set", k)
		}
	}
}

// The host ports are `make dev`'s, so the README's addresses work with either.
func TestComposePublishesTheDevPorts(t *testing.T) {
	dev, err := DevPorts()
	if err != nil {
		t.Fatal(err)
	}
	vars, err := ReadmeVariables()
	if err != nil {
		t.Fatal(err)
	}
	_, apiPort, _ := strings.Cut(strings.Trim(vars["CONSULAR_HTTP_ADDR"], "`"), ":")
	api, err := strconv.Atoi(apiPort)
	if err != nil {
		t.Fatalf("README: CONSULAR_HTTP_ADDR default %q: %v", vars["CONSULAR_HTTP_ADDR"], err)
	}
	want := []struct {
		service string
		target  uint32
		host    int
	}{
		{"postgres", 5432, dev["Postgres"]},
		{"temporal", 7233, dev["Temporal"]},
		{"temporal-ui", 8080, dev["TemporalUI"]},
		{"minio", 9000, dev["MinIO"]},
		{"minio", 9001, dev["MinIOConsole"]},
		{"mailpit", 1025, dev["SMTP"]},
		{"mailpit", 8025, dev["MailpitUI"]},
		{"api", 8080, api},
	}
	if len(dev) != 7 {
		t.Errorf("DevPorts has %d ports, this test maps 7: add the new one here and to compose", len(dev))
	}
	p := composeProject(t)
	published := 0
	for _, s := range p.Services {
		published += len(s.Ports)
	}
	if published != len(want) {
		t.Errorf("compose publishes %d ports, want %d", published, len(want))
	}
	for _, w := range want {
		found := false
		for _, port := range p.Services[w.service].Ports {
			if port.Target == w.target {
				found = true
				if port.Published != strconv.Itoa(w.host) || port.HostIP != "127.0.0.1" {
					t.Errorf("%s:%d is published on %s:%s, want 127.0.0.1:%d", w.service, w.target, port.HostIP, port.Published, w.host)
				}
			}
		}
		if !found {
			t.Errorf("%s does not publish port %d", w.service, w.target)
		}
	}
}

// temporal-setup registers exactly the search attributes the workflow upserts.
func TestComposeRegistersTheWorkflowSearchAttributes(t *testing.T) {
	attrs, err := SearchAttributes()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(Path("deploy/compose/temporal-setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, a := range attrs {
		want = append(want, a.Name+"="+a.Type)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if list, ok := strings.CutPrefix(strings.TrimSpace(line), "for attr in "); ok {
			got := strings.Fields(strings.TrimSuffix(list, "; do"))
			if !slices.Equal(got, want) {
				t.Errorf("temporal-setup.sh registers %v, workflows/request/contract.go declares %v", got, want)
			}
			return
		}
	}
	t.Error("temporal-setup.sh: no `for attr in ...; do` line")
}

func TestComposeRefusesToStartWithoutSecrets(t *testing.T) {
	b, err := os.ReadFile(Path("deploy/.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadCompose(t, Path("deploy/docker-compose.yml"), ParseEnvFile(b))
	if err == nil || !strings.Contains(err.Error(), "set it in deploy/.env") {
		t.Fatalf("loading with the example's empty secrets: got %v, want a required-variable error", err)
	}
}

// The loader is strict: a misspelt key is an error, not ignored.
func TestComposeRejectsAMisspeltKey(t *testing.T) {
	b, err := os.ReadFile(Path("deploy/docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), "    healthcheck:\n      test: [\"CMD\", \"/usr/local/bin/probe\", \"http",
		"    healthchek:\n      test: [\"CMD\", \"/usr/local/bin/probe\", \"http", 1)
	if bad == string(b) {
		t.Fatal("the api's healthcheck was not found to misspell")
	}
	file := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = loadCompose(t, file, exampleEnv(t))
	if err == nil || !strings.Contains(err.Error(), "healthchek") {
		t.Fatalf("got %v, want an error naming healthchek", err)
	}
}

// gen-env.sh writes a .env that compose accepts, with keys of the shapes
// internal/config wants.
func TestGeneratedEnvFileIsComplete(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("gen-env.sh needs openssl (Debian: openssl): install it")
	}
	certs := t.TempDir()
	gen := exec.Command("sh", Path("deploy/compose/gen-env.sh"))
	gen.Env = append(os.Environ(), "CONSULAR_CERTS="+certs)
	out, err := gen.Output()
	if err != nil {
		t.Fatal(err)
	}
	env := ParseEnvFile(out)
	example := exampleEnv(t)
	for k := range example {
		if _, ok := env[k]; !ok {
			t.Errorf("gen-env.sh does not write %s", k)
		}
	}
	if _, err := loadCompose(t, Path("deploy/docker-compose.yml"), env); err != nil {
		t.Fatalf("compose with the generated .env: %v", err)
	}
	// Mailpit's certificate chains to the authority the app is told to trust, for the name it is reached by.
	caPEM, err1 := os.ReadFile(filepath.Join(certs, "ca.pem"))
	serverPEM, err2 := os.ReadFile(filepath.Join(certs, "mailpit.pem"))
	if _, err3 := os.Stat(filepath.Join(certs, "mailpit-key.pem")); err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("gen-env.sh did not write the mail certificates: %v %v %v", err1, err2, err3)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	block, _ := pem.Decode(serverPEM)
	if block == nil {
		t.Fatal("mailpit.pem holds no certificate")
	}
	server, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "mailpit"}); err != nil {
		t.Errorf("Mailpit's certificate does not verify as mailpit under the generated authority: %v", err)
	}
	if _, err := os.Stat(filepath.Join(certs, "ca-key.pem")); err == nil {
		t.Error("the authority's private key was left behind")
	}
	key := func(name, v string) {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != 32 {
			t.Errorf("%s: want base64 of 32 bytes, got %d bytes, %v", name, len(b), err)
		}
	}
	for _, k := range []string{"CONSULAR_PAYLOAD_KEYS", "CONSULAR_RECEIPT_SIGNING_KEY", "CONSULAR_TOTP_KEY"} {
		id, v, ok := strings.Cut(env[k], ":")
		if !ok || id == "" {
			t.Errorf("%s: want id:base64", k)
		}
		key(k, v)
	}
	key("CONSULAR_LINK_KEY", env["CONSULAR_LINK_KEY"])
}

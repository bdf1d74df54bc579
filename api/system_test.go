package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/tracing"
)

// system is the API and the worker, built from this tree and run as
// processes against the test stack, with a database, buckets and a task
// queue of their own: the whole system as an applicant and staff reach it.
type system struct {
	t         *testing.T
	url       string
	db        *pgxpool.Pool
	objects   *minio.Client
	documents string // bucket
	temporal  client.Client
	api       *stack.Process
	worker    *stack.Process
	logs      string
	queue     string
	workerURL string   // the worker's /healthz and /metrics
	environ   []string // the API's and the worker's environment
	client    string   // a registered API client's token, for every mission
}

// inProcess builds the API inside the test's process on cfg (tr: a tracer
// of the test's, nil for none), its clients open until the test ends; for
// tests that change the configuration or call the app directly.
func inProcess(t *testing.T, cfg config.Config, tr *tracing.Tracing) (*fiber.App, dependencies) {
	t.Helper()
	d, err := openWith(context.Background(), cfg, testenv.Logger(t), tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	app, _, err := newApp(cfg, testenv.Logger(t), d)
	if err != nil {
		t.Fatal(err)
	}
	return app, d
}

// inProcessOwnDatabase is inProcess on the test stack's configuration with
// a database of the test's own, changed by configure.
func inProcessOwnDatabase(t *testing.T, configure func(*config.Config)) *fiber.App {
	t.Helper()
	cfg := testenv.Config(t)
	_, cfg.Database.URL = testenv.Database(t)
	configure(&cfg)
	app, _ := inProcess(t, cfg, nil)
	return app
}

// env is the environment the system's processes run with.
func (s *system) env() []string { return s.environ }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds ./api and ./workers once per test run.
func binaries(t *testing.T) string {
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp(testenv.StackDir(t), "bin-"); buildErr == nil {
			buildErr = stack.BuildApp(context.Background(), binDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// startSystem runs the API and the worker; env overrides their configuration.
func startSystem(t *testing.T, env map[string]string) *system {
	t.Helper()
	bin := binaries(t)
	db, dbURL := testenv.Database(t)
	cfg := testenv.Config(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	s := &system{t: t, db: db, objects: testenv.Storage(t),
		documents: "e2e-docs-" + suffix, temporal: testenv.Temporal(t), logs: t.TempDir(), client: testenv.APIClient(t, db)}
	receipts := "e2e-receipts-" + suffix
	if err := storage.EnsureBuckets(context.Background(), s.objects, s.documents, receipts); err != nil {
		t.Fatal(err)
	}
	queue := testenv.TaskQueue(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"workers", "api"} {
				b, _ := os.ReadFile(filepath.Join(s.logs, name+".log"))
				t.Logf("--- %s log ---\n%s", name, b)
			}
		}
	})
	// A free port can be taken by a test running beside this one before
	// the API binds it: then the system starts again on others.
	var app *stack.App
	for attempt := 1; ; attempt++ {
		port, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		workerPort, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.url, s.workerURL = fmt.Sprintf("http://127.0.0.1:%d", port), fmt.Sprintf("http://127.0.0.1:%d", workerPort)
		vars := map[string]string{
			"CONSULAR_WORKER_HTTP_ADDR":       fmt.Sprintf("127.0.0.1:%d", workerPort),
			"CONSULAR_DATABASE_URL":           dbURL,
			"CONSULAR_HTTP_ADDR":              fmt.Sprintf("127.0.0.1:%d", port),
			"CONSULAR_PUBLIC_URL":             s.url,
			"CONSULAR_TEMPORAL_TASK_QUEUE":    queue,
			"CONSULAR_MINIO_DOCUMENTS_BUCKET": s.documents,
			"CONSULAR_MINIO_RECEIPTS_BUCKET":  receipts,
			"CONSULAR_LOG_LEVEL":              "debug",
		}
		for k, v := range env {
			vars[k] = v
		}
		environ := os.Environ()
		for k, v := range vars {
			environ = append(environ, k+"="+v)
		}
		s.environ = environ
		app, err = stack.StartApp(context.Background(), stack.AppOptions{Bin: bin, LogDir: s.logs, Env: environ,
			HTTPAddr: vars["CONSULAR_HTTP_ADDR"], Temporal: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, TaskQueue: queue})
		if err == nil {
			break
		}
		logs, _ := os.ReadFile(filepath.Join(s.logs, "api.log"))
		workerLogs, _ := os.ReadFile(filepath.Join(s.logs, "workers.log"))
		if attempt == 3 || !strings.Contains(string(logs)+string(workerLogs), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("a port was taken meanwhile; starting again (%v)", err)
	}
	t.Cleanup(app.Kill)
	s.api, s.worker, s.queue = app.API, app.Worker, queue
	return s
}

// document is one file of a submission.
type document struct {
	kind, name string
	content    []byte
}

type form struct {
	fields    map[string]string
	documents []document
}

// drivingLicenceInquiry is a complete, valid submission.
func drivingLicenceInquiry(t *testing.T, email string) form {
	return form{
		fields: map[string]string{"service": "driving_licence_inquiry", "mission": "AT-VIE", "full_name": "Sara Ahmadi",
			"email": email, "national_id": "۰۰۱۳۵۴۲۴۱۹", "language": "fa", "field.licence_number": "۱۲۳۴۵۶۷۸"},
		documents: []document{
			{"licence", "licence.jpg", testenv.JPEG(t)},
			{"residence_proof", "meldezettel.jpg", testenv.JPEG(t)},
			{"passport", "passport.jpeg", testenv.JPEG(t)},
		},
	}
}

// request is the submission of the form to url (POST /api/v1/requests),
// multipart as a registered API client sends it, with key as its
// Idempotency-Key and token as its bearer token when not empty.
func (f form) request(url, key, token string) *http.Request {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range f.fields {
		_ = w.WriteField(k, v)
	}
	for _, d := range f.documents {
		part, _ := w.CreateFormFile("document."+d.kind, d.name)
		_, _ = part.Write(d.content)
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, url, &body)
	if req.Host == "" { // a path for app.Test: HTTP/1.1 (and fasthttp) require a Host
		req.Host = "consular.test"
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// submit posts the form as the system's API client; key is the Idempotency-Key.
func (s *system) submit(f form, key string) (int, []byte) {
	s.t.Helper()
	return s.do(f.request(s.url+"/api/v1/requests", key, s.client))
}

func (s *system) do(req *http.Request) (int, []byte) {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// staff sends a staff action with the development staff key.
func (s *system) staff(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer dev-staff-key")
	code, b := s.do(req)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return code, out
}

type submitted struct {
	TrackingCode string    `json:"tracking_code"`
	Deadline     time.Time `json:"deadline"`
	ReceiptURL   string    `json:"receipt_url"`
}

func (s *system) mustSubmit(f form) submitted {
	s.t.Helper()
	code, body := s.submit(f, fmt.Sprintf("key-%d", time.Now().UnixNano()))
	if code != http.StatusCreated {
		s.t.Fatalf("submit: %d %s", code, body)
	}
	var out submitted
	if err := json.Unmarshal(body, &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// objectsOf lists the stored documents of a request.
func (s *system) objectsOf(code string) []string {
	var keys []string
	for obj := range s.objects.ListObjects(context.Background(), s.documents, minio.ListObjectsOptions{Prefix: code, Recursive: true}) {
		if obj.Err == nil {
			keys = append(keys, obj.Key)
		}
	}
	return keys
}

// waitStatus waits until the projection shows the request in status.
func (s *system) waitStatus(code, want string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for time.Now().Before(deadline) {
		_ = s.db.QueryRow(context.Background(), "SELECT status FROM requests WHERE tracking_code = $1", code).Scan(&got)
		if got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("request %s is %q after %s, want %q", code, got, timeout, want)
}

func (s *system) waitClosed(code string, timeout time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.temporal.GetWorkflow(ctx, code, "").Get(ctx, nil); err != nil {
		s.t.Fatalf("workflow %s: %v; its history:\n%s", code, err, s.historyOf(code))
	}
}

// historyOf is where a workflow stands, for a failed test to say: its
// status, pending activities and history, one event a line.
func (s *system) historyOf(code string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	if d, err := s.temporal.DescribeWorkflowExecution(ctx, code, ""); err != nil {
		fmt.Fprintf(&b, "describe: %v\n", err)
	} else {
		fmt.Fprintf(&b, "status %s, history length %d\n", d.GetWorkflowExecutionInfo().GetStatus(), d.GetWorkflowExecutionInfo().GetHistoryLength())
		for _, a := range d.GetPendingActivities() {
			fmt.Fprintf(&b, "pending activity %s, attempt %d, state %s, last failure %v\n", a.GetActivityType().GetName(), a.GetAttempt(), a.GetState(), a.GetLastFailure().GetMessage())
		}
		if wt := d.GetPendingWorkflowTask(); wt != nil {
			fmt.Fprintf(&b, "pending workflow task: %s, attempt %d\n", wt.GetState(), wt.GetAttempt())
		}
	}
	it := s.temporal.GetWorkflowHistory(ctx, code, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
			break
		}
		fmt.Fprintf(&b, "%d %s %s", e.GetEventId(), e.GetEventTime().AsTime().Format("15:04:05.000"), e.GetEventType())
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			fmt.Fprintf(&b, " %s", a.GetActivityType().GetName())
		}
		if a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
			fmt.Fprintf(&b, " %s", a.GetAcceptedRequest().GetInput().GetName())
		}
		if a := e.GetTimerStartedEventAttributes(); a != nil {
			fmt.Fprintf(&b, " %s", a.GetStartToFireTimeout().AsDuration())
		}
		b.WriteString("\n")
	}
	return b.String()
}

func email(t *testing.T) string {
	return fmt.Sprintf("%s-%d@example.org", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano())
}

// stop ends both processes with SIGTERM and expects a clean exit.
func (s *system) stop() {
	s.t.Helper()
	for _, p := range []*stack.Process{s.api, s.worker} {
		if err := p.Stop(30 * time.Second); err != nil {
			s.t.Fatal(err)
		}
		if err := p.Err(); err != nil {
			s.t.Errorf("%s exited with %v after SIGTERM, want 0", p.Name, err)
		}
	}
}

func temporalCLI(t *testing.T) string {
	tools, err := stack.InstallTools(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return tools.Temporal
}

// history is the workflow's history as `temporal workflow show` prints it.
// With CONSULAR_RECORD_HISTORIES=DIR (make histories) it is also saved as
// DIR/name.json, for the replay test that keeps workflow changes
// deterministic.
func (s *system) history(code, name string) []byte {
	s.t.Helper()
	cfg := testenv.Config(s.t)
	out, err := exec.Command(temporalCLI(s.t), "workflow", "show", "--workflow-id", code,
		"--address", cfg.Temporal.Address, "--namespace", cfg.Temporal.Namespace, "--output", "json").Output()
	if err != nil {
		s.t.Fatalf("temporal workflow show: %v", err)
	}
	if dir := os.Getenv("CONSULAR_RECORD_HISTORIES"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), out, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	return out
}

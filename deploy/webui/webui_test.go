//go:build cluster

// Package webui checks the operator's view of a request in the Temporal Web
// UI, in headless Chromium, as the runbook tells an operator to set it up:
// the UI server of the production-shaped stack pointed at the API's codec
// endpoint with "include credentials", and a staff admin signed in to the
// API in the same browser.
//
// It needs the Web UI server in the tool cache and a stack from the
// launcher, so it is built with the tag "cluster" and runs from
// `make cluster-check`:
//
//	go run ./deploy/launcher cluster-test -- go test -tags cluster -count=1 -v ./deploy/webui/
package webui

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/testenv/browser"
)

func TestWebUIShowsARequestDecodedToAnAdminAndEncryptedToOthers(t *testing.T) {
	cache, err := stack.ToolCache()
	if err != nil {
		t.Fatal(err)
	}
	uiBin := stack.TemporalUIServer.Path(cache)
	if _, err := os.Stat(uiBin); err != nil {
		t.Fatalf("the Web UI server is not built (go run ./deploy/launcher cluster-tools): %v", err)
	}
	cfg := testenv.Config(t)
	db, dbURL := testenv.Database(t)
	ctx := context.Background()

	// The API and a worker of our own, built from the working tree, on our
	// database and task queue; the UI on a port of its own, its codec the API's.
	apiPort, _ := stack.FreePort()
	workerPort, _ := stack.FreePort()
	uiPort, _ := stack.FreePort()
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	uiURL := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	queue := testenv.TaskQueue(t)
	env := append(os.Environ(),
		"CONSULAR_DATABASE_URL="+dbURL,
		fmt.Sprintf("CONSULAR_HTTP_ADDR=127.0.0.1:%d", apiPort),
		fmt.Sprintf("CONSULAR_WORKER_HTTP_ADDR=127.0.0.1:%d", workerPort),
		"CONSULAR_PUBLIC_URL="+apiURL,
		"CONSULAR_TEMPORAL_UI_ORIGIN="+uiURL,
		"CONSULAR_TEMPORAL_TASK_QUEUE="+queue,
	)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := stack.BuildApp(ctx, bin); err != nil {
		t.Fatal(err)
	}
	app, err := stack.StartApp(ctx, stack.AppOptions{Bin: bin, LogDir: dir, Env: env, HTTPAddr: fmt.Sprintf("127.0.0.1:%d", apiPort),
		Temporal: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, TaskQueue: queue})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Stop() })
	ui, err := stack.TemporalUI{Bin: uiBin, Dir: filepath.Join(dir, "ui"), Port: uiPort, Frontend: cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace, CodecEndpoint: apiURL + "/codec"}.Start(ctx, filepath.Join(dir, "ui.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ui.Stop(stack.StopTimeout) })

	code := submit(t, apiURL, testenv.APIClient(t, db, "AT-VIE"))
	runID := waitRunning(t, code)
	history := fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", uiURL, cfg.Temporal.Namespace, code, runID)

	// Without credentials: the page settles and shows ciphertext only.
	anon := browser.New(t)
	anon.SetTimeout(45 * time.Second)
	anon.Visit(history)
	// The UI shows the stored payload at once and replaces it when the codec
	// answers: wait for the codec's refusal, not for the first paint.
	input := waitFor(t, anon, encryptedMark, "Codec Server could not connect")
	anon.Screenshot("webui-history-encrypted")
	if strings.Contains(input, `"Documents"`) || !strings.Contains(input, encryptedMark) {
		t.Errorf("without credentials the input should stay encrypted; it reads:\n%s", input)
	}

	// A staff admin signed in to the API: the UI sends the session cookie to
	// the codec endpoint, and the same page shows the input decoded.
	email, password, secret := addAdmin(t, bin, env)
	admin := browser.New(t)
	admin.SetTimeout(45 * time.Second)
	admin.Visit(apiURL + "/staff/signin")
	admin.Fill("#email", email)
	admin.Fill("#password", password)
	otp, _ := totp.GenerateCode(secret, time.Now())
	admin.Fill("#totp", otp)
	if status := admin.Submit(`main form button[type=submit]`); status != 200 || !admin.Exists("table#queue") {
		t.Fatalf("admin sign-in: %d\n%s", status, admin.Text("main"))
	}
	admin.Visit(history)
	input = waitFor(t, admin, `"Documents"`)
	admin.Screenshot("webui-history-decoded")
	for _, want := range []string{`"Documents"`, `"TrackingCode"`, code, "driving_licence_inquiry"} {
		if !strings.Contains(input, want) {
			t.Errorf("with an admin session the input should be decoded and name %s; it reads:\n%s", want, input)
		}
	}
	if strings.Contains(input, encryptedMark) {
		t.Errorf("with an admin session the input is still encrypted:\n%s", input)
	}
}

// encryptedMark is how the UI shows a payload it could not decode: its
// metadata as stored, base64, the encoding our codec gave it included.
var encryptedMark = base64.StdEncoding.EncodeToString([]byte(codec.Encoding))

// waitFor waits until the history page's text holds every one of want, and
// returns that text. It waits for content, not for the network to go idle:
// the page of a running workflow never does (it long-polls the history for
// new events), which is why it seemed never to settle in headless Chromium.
func waitFor(t *testing.T, b *browser.Browser, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var text string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.Context(), 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		cancel()
		if err == nil {
			text = got
			if containsAll(text, want) {
				return text
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Screenshot("webui-history-unsettled")
	t.Fatalf("the history page never showed %q; it reads:\n%s", want, text)
	return ""
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// submit sends a driving-licence inquiry through the JSON API and returns
// its tracking code.
func submit(t *testing.T, apiURL, token string) string {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, f := range [][2]string{{"service", "driving_licence_inquiry"}, {"mission", "AT-VIE"}, {"full_name", "Web UI Applicant"},
		{"email", fmt.Sprintf("webui-%d@example.org", time.Now().UnixNano())}, {"national_id", testenv.NationalID()},
		{"language", "en"}, {"field.licence_number", "12345678"}} {
		_ = w.WriteField(f[0], f[1])
	}
	for _, kind := range []string{"licence", "residence_proof", "passport"} {
		part, _ := w.CreateFormFile("document."+kind, kind+".jpg")
		_, _ = part.Write(testenv.JPEG(t))
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, apiURL+"/api/v1/requests", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", fmt.Sprintf("webui-%d", time.Now().UnixNano()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		TrackingCode string `json:"tracking_code"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.TrackingCode == "" {
		t.Fatalf("submission: %s %s", resp.Status, b)
	}
	return out.TrackingCode
}

// waitRunning waits until the request's workflow exists and returns its run.
func waitRunning(t *testing.T, code string) string {
	t.Helper()
	c := testenv.Temporal(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := c.DescribeWorkflowExecution(context.Background(), code, "")
		if err == nil {
			return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s: %v", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// addAdmin adds a staff admin with the API's own command, as an operator
// would, and returns the credentials it prints.
func addAdmin(t *testing.T, bin string, env []string) (email, password, secret string) {
	t.Helper()
	email = fmt.Sprintf("webui-admin-%d@example.org", time.Now().UnixNano())
	cmd := exec.Command(filepath.Join(bin, "api"), "staff", "add", "--email", email, "--role", "admin")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("api staff add: %v\n%s", err, out)
	}
	p := regexp.MustCompile(`password: (\S+)`).FindSubmatch(out)
	s := regexp.MustCompile(`TOTP secret: (\S+)`).FindSubmatch(out)
	if p == nil || s == nil {
		t.Fatalf("api staff add printed no credentials:\n%s", out)
	}
	return email, string(p[1]), string(s[1])
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/submission"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows/request"
)

// When Temporal cannot be reached, a submission is saved and answered 503
// "retry with the same Idempotency-Key"; its documents must stay, for the
// retry that starts the workflow (found by make soak: they were deleted and
// the request then failed its document check). Without a retry, the API's
// background sweep starts it once Temporal is back.
func TestSubmissionSavedWhileTemporalIsDownKeepsItsDocuments(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	db, url := testenv.Database(t)
	cfg.Database.URL = url
	cfg.Temporal.Address = "127.0.0.1:1" // nothing listens there
	app, d := inProcess(t, cfg, nil)
	req := drivingLicenceInquiry(t, email(t)).request("/api/v1/requests", "temporal-down-1", testenv.APIClient(t, db))
	resp, err := app.Test(req, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("submission with Temporal down: %d, want 503", resp.StatusCode)
	}
	var code string
	if err := db.QueryRow(ctx, "SELECT tracking_code FROM submissions WHERE idempotency_key = 'temporal-down-1'").Scan(&code); err != nil {
		t.Fatalf("the submission was not saved: %v", err)
	}
	rows, err := db.Query(ctx, "SELECT object_key FROM request_documents WHERE tracking_code = $1", code)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	if len(keys) != 3 {
		t.Fatalf("%d documents recorded, want 3", len(keys))
	}
	for _, k := range keys {
		if _, err := d.objects.StatObject(ctx, cfg.Storage.DocumentsBucket, k, minio.StatObjectOptions{}); err != nil {
			t.Errorf("document %s of the saved submission is gone: %v", k, err)
		}
	}

	// The applicant never retries. Once Temporal answers again, the API's
	// background loop starts the saved request (with its saved documents),
	// and only once.
	var pending bool
	if err := db.QueryRow(ctx, "SELECT start_pending FROM submissions WHERE tracking_code = $1", code).Scan(&pending); err != nil || !pending {
		t.Fatalf("the saved, unstarted submission is not marked start_pending (%v, %v)", pending, err)
	}
	up := testenv.Config(t)
	up.Temporal.TaskQueue = testenv.TaskQueue(t) // no worker polls it: the start is what is checked
	temporal := testenv.Temporal(t)
	h := &submission.Submitter{Config: up, DB: db, Temporal: temporal, Objects: d.objects, Logger: testenv.Logger(t)}
	if n, err := h.StartPending(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("a submission saved just now was started by the hour-old sweep: %d, %v", n, err)
	}
	if n, err := h.StartPending(ctx, 0); err != nil || n != 1 {
		t.Fatalf("the sweep started %d requests (%v), want this one", n, err)
	}
	if err := db.QueryRow(ctx, "SELECT start_pending FROM submissions WHERE tracking_code = $1", code).Scan(&pending); err != nil || pending {
		t.Fatalf("after the sweep: start_pending %v (%v)", pending, err)
	}
	desc, err := temporal.DescribeWorkflowExecution(ctx, code, "")
	if err != nil {
		t.Fatalf("no workflow for the saved request after the sweep: %v", err)
	}
	t.Cleanup(func() { _ = temporal.TerminateWorkflow(context.Background(), code, "", "test over") })
	if q := desc.GetExecutionConfig().GetTaskQueue().GetName(); q != up.Temporal.TaskQueue {
		t.Errorf("started on task queue %q, want %q", q, up.Temporal.TaskQueue)
	}
	var input request.Input
	hist := temporal.GetWorkflowHistory(ctx, code, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	first, err := hist.Next()
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := codec.New(up.Keys.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := payloads.DataConverter().FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &input); err != nil {
		t.Fatal(err)
	}
	if input.TrackingCode != code || len(input.Documents) != 3 {
		t.Errorf("started with %+v, want the saved request and its 3 documents", input)
	}
	if n, err := h.StartPending(ctx, 0); err != nil || n != 0 {
		t.Fatalf("a second sweep started %d requests (%v), want none", n, err)
	}
	again, err := temporal.DescribeWorkflowExecution(ctx, code, "")
	if err != nil || again.GetWorkflowExecutionInfo().GetExecution().GetRunId() != desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() {
		t.Fatalf("after a second sweep the request runs as another run (%v)", err)
	}
}

// An upload answered before its body is read (here: no client token)
// gets one answer; the rest of its body is not taken for another request
// (found by make soak: fasthttp answered the JPEG bytes as a second request).
func TestUploadAnsweredEarlyGetsOneAnswer(t *testing.T) {
	s := startSystem(t, nil)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("document.passport", "passport.jpg")
	_, _ = part.Write(testenv.JPEG(t))
	_ = w.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", w.FormDataContentType(), body.Len())
	if _, err := conn.Write(body.Bytes()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	first, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if first.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", first.StatusCode)
	}
	if second, err := http.ReadResponse(r, nil); err == nil {
		t.Fatalf("a second answer on the connection, to a request nobody sent: %d", second.StatusCode)
	}
}

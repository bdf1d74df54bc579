package submission_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.temporal.io/api/serviceerror"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/submission"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/internal/testenv"
)

// newSubmitter points at the test stack, with a task queue of the test's
// own that no worker polls: a started workflow just waits, which is what is
// checked.
func newSubmitter(t *testing.T) *submission.Submitter {
	t.Helper()
	cfg := testenv.Config(t)
	cfg.Temporal.TaskQueue = testenv.TaskQueue(t)
	db, _ := testenv.Database(t)
	return &submission.Submitter{Config: cfg, DB: db, Temporal: testenv.Temporal(t), Objects: testenv.Storage(t), Logger: testenv.Logger(t)}
}

// application is a driving-licence inquiry by caller with key, its three
// documents stored under a new tracking code.
func application(t *testing.T, s *submission.Submitter, caller, key string) submission.Application {
	t.Helper()
	code, err := consular.NewTrackingCode()
	if err != nil {
		t.Fatal(err)
	}
	app := submission.Application{Caller: caller, Key: key, Code: code, Service: "driving_licence_inquiry", Mission: "AT-VIE",
		Applicant: submission.Applicant{NationalID: "0013542419", Email: "sara@example.com", FullName: "Sara Ahmadi", Language: "fa",
			Form: map[string]string{"licence_number": "12345678"}}}
	for _, kind := range []string{"licence", "residence_proof", "passport"} {
		doc, err := s.StoreDocument(context.Background(), code, kind, kind+".jpg", bytes.NewReader(testenv.JPEG(t)))
		if err != nil {
			t.Fatalf("store %s: %v", kind, err)
		}
		app.Documents = append(app.Documents, doc)
	}
	t.Cleanup(func() { s.Discard(code, app.Documents) })
	return app
}

func objectsOf(t *testing.T, s *submission.Submitter, code consular.TrackingCode) int {
	t.Helper()
	n := 0
	for obj := range s.Objects.ListObjects(context.Background(), s.Config.Storage.DocumentsBucket,
		minio.ListObjectsOptions{Prefix: storage.RequestPrefix(string(code))}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	return n
}

func count(t *testing.T, s *submission.Submitter, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func terminate(t *testing.T, s *submission.Submitter, code string) {
	t.Cleanup(func() { _ = s.Temporal.TerminateWorkflow(context.Background(), code, "", "test over") })
}

// A retry with the same caller and key (a double click, a timeout) is the
// same request: the same tracking code, one workflow, the documents of the
// first attempt recorded once; the retry's own copies are the caller's to
// discard. Another caller's same key is another request.
func TestResubmittingWithTheSameKeyGivesTheSameRequestAndOneWorkflow(t *testing.T) {
	ctx := context.Background()
	s := newSubmitter(t)
	first := application(t, s, "api_client:1", "key-1")
	out, saved, err := s.Submit(ctx, first)
	if err != nil || !saved || out.TrackingCode != string(first.Code) || out.Mission != "AT-VIE" {
		t.Fatalf("first submission: %+v saved %v, %v", out, saved, err)
	}
	terminate(t, s, out.TrackingCode)
	_, token, _ := strings.Cut(out.ReceiptURL, "?token=")
	if out.Deadline.IsZero() || !submission.TokenNames(s.Config.Keys.Receipts, token, out.TrackingCode, time.Now()) {
		t.Errorf("receipt link %q does not open this request's receipt until %s", out.ReceiptURL, out.Deadline)
	}

	retry := application(t, s, "api_client:1", "key-1")
	again, saved, err := s.Submit(ctx, retry)
	if err != nil || saved || again.TrackingCode != out.TrackingCode {
		t.Fatalf("retry: %+v saved %v, %v; want the first request %s, not saved", again, saved, err, out.TrackingCode)
	}
	s.Discard(retry.Code, retry.Documents)
	if repeated, found, err := s.Repeat(ctx, "api_client:1", "key-1"); err != nil || !found || repeated.TrackingCode != out.TrackingCode {
		t.Fatalf("repeat: %+v found %v, %v", repeated, found, err)
	}
	if shown, err := s.Find(ctx, out.TrackingCode); err != nil || shown != out {
		t.Fatalf("found again: %+v, %v; want %+v", shown, err, out)
	}
	if _, err := s.Find(ctx, string(retry.Code)); !errors.Is(err, consular.ErrNotFound) {
		t.Fatalf("the retry's code: %v, want not found", err)
	}

	if n := count(t, s, "SELECT count(*) FROM submissions"); n != 1 {
		t.Fatalf("%d submissions saved, want 1", n)
	}
	if n := count(t, s, "SELECT count(*) FROM request_documents WHERE tracking_code = $1", out.TrackingCode); n != 3 {
		t.Errorf("%d documents recorded for the request, want its 3 once", n)
	}
	if n := count(t, s, "SELECT count(*) FROM request_documents WHERE tracking_code = $1", string(retry.Code)); n != 0 {
		t.Errorf("%d documents recorded under the retry's code", n)
	}
	if kept, gone := objectsOf(t, s, first.Code), objectsOf(t, s, retry.Code); kept != 3 || gone != 0 {
		t.Errorf("objects: %d of the request (want 3), %d of the discarded retry (want 0)", kept, gone)
	}
	if _, err := s.Temporal.DescribeWorkflowExecution(ctx, out.TrackingCode, ""); err != nil {
		t.Fatalf("no workflow for the request: %v", err)
	}
	var notFound *serviceerror.NotFound
	if _, err := s.Temporal.DescribeWorkflowExecution(ctx, string(retry.Code), ""); !errors.As(err, &notFound) {
		t.Fatalf("the retry started a workflow of its own: %v", err)
	}

	other := application(t, s, "api_client:2", "key-1")
	theirs, saved, err := s.Submit(ctx, other)
	if err != nil || !saved || theirs.TrackingCode == out.TrackingCode {
		t.Fatalf("another caller's same key: %+v saved %v, %v; want a request of its own", theirs, saved, err)
	}
	terminate(t, s, theirs.TrackingCode)
}

// A submission saved while Temporal is unreachable answers ErrNotStarted
// and keeps its documents; nobody retries, and StartPending starts it once
// Temporal answers, once, leaving younger ones to their own start.
func TestAStartThatFailedIsStartedLaterByStartPending(t *testing.T) {
	s := newSubmitter(t)
	down := *s
	cfg := s.Config
	cfg.Temporal.Address = "127.0.0.1:1" // nothing listens there
	var err error
	if down.Temporal, err = temporalclient.New(cfg.Temporal, cfg.Keys.Payload, s.Logger, nil); err != nil {
		t.Fatal(err)
	}
	defer down.Temporal.Close()
	app := application(t, &down, "account:7", "draft:1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, saved, err := down.Submit(ctx, app)
	if !errors.Is(err, submission.ErrNotStarted) || !saved {
		t.Fatalf("submission with Temporal down: saved %v, %v; want saved and ErrNotStarted", saved, err)
	}
	code := string(app.Code)
	if n := count(t, s, "SELECT count(*) FROM submissions WHERE tracking_code = $1 AND start_pending", code); n != 1 {
		t.Fatal("the saved, unstarted submission is not marked start_pending")
	}

	bg := context.Background()
	if n, err := s.StartPending(bg, time.Hour); err != nil || n != 0 {
		t.Fatalf("a submission saved just now was started by the hour-old sweep: %d, %v", n, err)
	}
	if n, err := s.StartPending(bg, 0); err != nil || n != 1 {
		t.Fatalf("the sweep started %d requests (%v), want this one", n, err)
	}
	terminate(t, s, code)
	desc, err := s.Temporal.DescribeWorkflowExecution(bg, code, "")
	if err != nil {
		t.Fatalf("no workflow after the sweep: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM submissions WHERE start_pending"); n != 0 {
		t.Fatalf("%d submissions still pending after the sweep", n)
	}
	if n, err := s.StartPending(bg, 0); err != nil || n != 0 {
		t.Fatalf("a second sweep started %d requests (%v), want none", n, err)
	}
	again, err := s.Temporal.DescribeWorkflowExecution(bg, code, "")
	if err != nil || again.GetWorkflowExecutionInfo().GetExecution().GetRunId() != desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() {
		t.Fatalf("after a second sweep the request runs as another run (%v)", err)
	}
	if n := objectsOf(t, s, app.Code); n != 3 {
		t.Errorf("%d documents of the saved request in storage, want 3", n)
	}
}

// The one submission path checks every application against its service,
// whoever calls it: the portal and the API check first to word the
// problems, but Submit refuses what they let through (*Refused, naming the
// fields), and a submission without a caller.
func TestSubmitRefusesAnApplicationItsServiceWouldNot(t *testing.T) {
	s := newSubmitter(t)
	app := submission.Application{Caller: submission.AccountCaller(1), Key: "draft:x", Code: "4821-7730-9152-06",
		Service: "driving_licence_inquiry", Mission: "AT-VIE",
		Documents: []submission.StoredDocument{{Kind: "licence"}, {Kind: "residence_proof"}, {Kind: "passport"}}}
	_, saved, err := s.Submit(context.Background(), app)
	var refused *submission.Refused
	if saved || !errors.As(err, &refused) || len(refused.Problems) != 1 || refused.Problems[0].Field != "licence_number" {
		t.Fatalf("no licence number: saved %v, %v", saved, err)
	}
	app.Applicant.Form = map[string]string{"licence_number": "12345678"}
	app.Mission = "XX-NOPE"
	if _, saved, err := s.Submit(context.Background(), app); saved || !errors.As(err, &refused) || refused.Problems[0].Reason != consular.ReasonMission {
		t.Fatalf("an unknown mission: saved %v, %v", saved, err)
	}
	app.Caller = ""
	if _, saved, err := s.Submit(context.Background(), app); saved || err == nil {
		t.Fatal("a submission without a caller was taken")
	}
	if n := count(t, s, "SELECT count(*) FROM submissions"); n != 0 {
		t.Fatalf("%d submissions saved", n)
	}
}

// A document the check refuses is a *documents.Problem with its reason,
// and nothing is stored.
func TestARefusedDocumentIsNotStored(t *testing.T) {
	s := newSubmitter(t)
	code, _ := consular.NewTrackingCode()
	png := append([]byte("\x89PNG\r\n\x1a\n"), testenv.JPEG(t)[8:]...)
	_, err := s.StoreDocument(context.Background(), code, "licence", "licence.jpg", bytes.NewReader(png))
	var problem *documents.Problem
	if !errors.As(err, &problem) || problem.Reason != documents.ReasonFormat {
		t.Fatalf("a PNG named .jpg: %v, want a format problem", err)
	}
	if n := objectsOf(t, s, code); n != 0 {
		t.Fatalf("%d objects stored for a refused document", n)
	}
}

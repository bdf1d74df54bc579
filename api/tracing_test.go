package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/tracing"
	"github.com/openconsular/consular/workflows"
)

// With tracing on, one trace runs from the applicant's POST through the
// workflow start to the workflow and its activities on the worker (carried
// in Temporal's headers, through the real server), and no span holds the
// applicant's data.
func TestSubmissionIsOneTraceFromHTTPToActivities(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	db, dbURL := testenv.Database(t)
	cfg.Database.URL = dbURL
	cfg.Temporal.TaskQueue = testenv.TaskQueue(t)

	spans := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = provider.Shutdown(ctx) })
	tr, err := tracing.New(provider)
	if err != nil {
		t.Fatal(err)
	}
	app, d := inProcess(t, cfg, tr)
	// The worker as workers/register.go builds it, from the same client: the
	// client's tracing interceptor comes with it.
	w := worker.New(d.temporal, cfg.Temporal.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.Request)
	w.RegisterActivity(&activities.Projection{DB: d.db})
	w.RegisterActivity(&activities.Seats{DB: d.db})
	w.RegisterActivity(&activities.Documents{Objects: d.objects, Bucket: cfg.Storage.DocumentsBucket})
	w.RegisterActivity(&activities.Receipts{DB: d.db, Objects: d.objects, Bucket: cfg.Storage.ReceiptsBucket,
		Signer: cfg.Keys.Receipt, VerifyURL: cfg.HTTP.PublicURL + "/receipts/verify"})
	w.RegisterActivity(&activities.Mail{DB: d.db, SMTP: d.smtp, Objects: d.objects, ReceiptsBucket: cfg.Storage.ReceiptsBucket,
		LinkKey: cfg.Keys.Links, PublicURL: cfg.HTTP.PublicURL})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	applicant := email(t)
	req := drivingLicenceInquiry(t, applicant).request("/api/v1/requests", fmt.Sprintf("trace-%d", time.Now().UnixNano()), testenv.APIClient(t, db))
	resp, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d %s", resp.StatusCode, answer)
	}
	var out submitted
	if err := json.Unmarshal(answer, &out); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.temporal.TerminateWorkflow(ctx, out.TrackingCode, "", "test over") })

	// The receipt's email follows the documents' check and the receipt: by
	// then every kind of span has been made.
	var sent trace.SpanContext
	for deadline := time.Now().Add(30 * time.Second); !sent.IsValid(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no RunActivity:Send span within 30 s; spans: %v", names(readOnly(spans.Started())))
		}
		for _, s := range spans.Ended() {
			if s.Name() == "RunActivity:Send" {
				sent = s.SpanContext()
			}
		}
	}

	var traceID trace.TraceID
	for _, s := range spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer && s.Name() == "POST /api/v1/requests/" {
			traceID = s.SpanContext().TraceID()
		}
	}
	if !traceID.IsValid() {
		t.Fatalf("no span of the HTTP request; spans: %v", names(spans.Ended()))
	}
	inTrace := map[string]bool{}
	for _, s := range spans.Started() {
		if s.SpanContext().TraceID() == traceID {
			inTrace[s.Name()] = true
		}
	}
	for _, want := range []string{"StartWorkflow:Request", "RunWorkflow:Request", "StartActivity:Validate", "RunActivity:Validate",
		"RunActivity:Record", "RunActivity:Issue", "RunActivity:Send"} {
		if !inTrace[want] {
			t.Errorf("span %s is not in the HTTP request's trace %s; spans in it: %v", want, traceID, inTrace)
		}
	}
	if sent.TraceID() != traceID {
		t.Errorf("the receipt's email ran in trace %s, the request in %s", sent.TraceID(), traceID)
	}

	// Nothing of the applicant in any span: names, attributes, events.
	secrets := []string{applicant, "0013542419", "۰۰۱۳۵۴۲۴۱۹", "Sara Ahmadi", "meldezettel"}
	for _, s := range append(spans.Ended(), readOnly(spans.Started())...) {
		text := s.Name()
		for _, a := range s.Attributes() {
			text += " " + string(a.Key) + "=" + a.Value.Emit()
		}
		for _, e := range s.Events() {
			text += " " + e.Name
			for _, a := range e.Attributes {
				text += " " + string(a.Key) + "=" + a.Value.Emit()
			}
		}
		text += " " + s.Status().Description
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("span %s holds %q: %s", s.Name(), secret, text)
			}
		}
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func readOnly(spans []sdktrace.ReadWriteSpan) []sdktrace.ReadOnlySpan {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = s
	}
	return out
}

package tracing

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/config"
)

func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	tr, err := Start(context.Background(), config.Tracing{Protocol: "http/protobuf"}, "consular-test", slog.New(slog.DiscardHandler))
	if err != nil || tr != nil {
		t.Fatalf("Start without an endpoint: %v, %v; want nil, nil", tr, err)
	}
	if got := tr.TemporalInterceptors(); got != nil {
		t.Errorf("interceptors when off: %v", got)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// An activity's error may quote what the applicant typed: the span keeps
// that it failed and the error's type, not the message.
func TestSpansKeepTheErrorsTypeNotItsMessage(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	for _, tc := range []struct {
		err  error
		want string
	}{
		{temporal.NewApplicationError("national ID 0013542419 does not match sara@example.org", "InvalidDocument"), "InvalidDocument"},
		{errors.New("smtp: 550 no mailbox sara@example.org"), "*errors.errorString"},
	} {
		_, span := provider.Tracer("test").Start(context.Background(), "RunActivity:Send")
		s := Redacted(span)
		s.RecordError(tc.err)
		s.SetStatus(codes.Error, tc.err.Error())
		s.End()
		got := spans.Ended()[len(spans.Ended())-1]
		if len(got.Events()) != 0 || got.Status().Code != codes.Error || got.Status().Description != "" {
			t.Errorf("events %v, status %+v: want none and a bare error status", got.Events(), got.Status())
		}
		attrs := ""
		for _, a := range got.Attributes() {
			attrs += string(a.Key) + "=" + a.Value.Emit() + " "
		}
		if !strings.Contains(attrs, "error.type="+tc.want) || strings.Contains(attrs, "sara@") || strings.Contains(attrs, "0013542419") {
			t.Errorf("attributes %q, want error.type=%s and no message", attrs, tc.want)
		}
	}
}

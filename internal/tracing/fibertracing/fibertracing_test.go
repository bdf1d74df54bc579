package fibertracing

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/openconsular/consular/internal/tracing"
)

func TestRequestSpanNamesTheRouteNotThePath(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tr, err := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Use(Middleware(tr))
	var handlerSpan trace.SpanContext
	app.Get("/api/v1/requests/:code/receipt", func(c *fiber.Ctx) error {
		handlerSpan = trace.SpanContextFromContext(c.UserContext())
		return c.SendStatus(http.StatusNotFound)
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })

	req := httptest.NewRequest(http.MethodGet, "/api/v1/requests/4821-7730-9152-06/receipt?token=s3cret", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("User-Agent", "Mozilla/5.0 (applicant)")
	if _, err := app.Test(req); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Test(httptest.NewRequest(http.MethodGet, "/healthz", nil)); err != nil {
		t.Fatal(err)
	}

	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want one (none for /healthz)", len(ended))
	}
	s := ended[0]
	if s.Name() != "GET /api/v1/requests/:code/receipt" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("trace %s parent %s: the ingress's traceparent was not followed", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if handlerSpan.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("the handler's context carries span %s, want the request's %s", handlerSpan.SpanID(), s.SpanContext().SpanID())
	}
	var attrs []string
	for _, a := range s.Attributes() {
		attrs = append(attrs, string(a.Key)+"="+a.Value.Emit())
	}
	got := strings.Join(attrs, " ")
	if got != "http.request.method=GET http.route=/api/v1/requests/:code/receipt http.response.status_code=404" {
		t.Errorf("attributes %q", got)
	}
}

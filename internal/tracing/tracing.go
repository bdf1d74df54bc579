// Package tracing owns OpenTelemetry: the tracer provider and its OTLP
// exporter, and the Temporal interceptor that carries a trace from the API's
// workflow start through the workflow to its activities (the API's HTTP
// spans are in the sub-package fibertracing). Tracing is off unless an OTLP
// endpoint is configured: then nothing is installed and nothing costs.
//
// Spans never hold personal data: no payloads (the Temporal interceptor
// records IDs only), no URLs, headers or client addresses, and no error
// messages, which may quote an email address or a national ID; only the
// error's type is kept (Temporal's history has the message, encrypted).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/config"
)

// Tracing is a tracer provider and what hangs from it. A nil *Tracing is
// tracing off: its methods return nothing to install.
type Tracing struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	temporal   interceptor.Interceptor
	shutdown   func(context.Context) error
}

// Start sets up the exporter to cfg's endpoint, naming this process service
// (OTEL_SERVICE_NAME overrides it). Without an endpoint it returns nil.
func Start(ctx context.Context, cfg config.Tracing, service string, logger *slog.Logger) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	var exporter sdktrace.SpanExporter
	var err error
	switch cfg.Protocol {
	case "grpc":
		exporter, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
	default:
		// The general endpoint is a base URL: the traces' path goes after it.
		exporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %w", cfg.Endpoint, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	// The SDK reports export failures (a collector down) here; spans are
	// dropped, requests go on.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Warn("tracing", "err", err) }))
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	t, err := New(provider)
	if err != nil {
		return nil, err
	}
	t.shutdown = provider.Shutdown
	logger.Info("tracing to OTLP", "endpoint", cfg.Endpoint, "protocol", cfg.Protocol)
	return t, nil
}

// New builds on a provider of the caller's (tests pass one with an
// in-process span recorder).
func New(provider trace.TracerProvider) (*Tracing, error) {
	t := &Tracing{provider: provider, propagator: propagation.TraceContext{}}
	var err error
	t.temporal, err = temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            provider.Tracer("github.com/openconsular/consular/temporal"),
		TextMapPropagator: t.propagator,
		// Baggage travels with every workflow and activity: nothing of ours
		// needs it, and it is a way for data to reach spans unseen.
		DisableBaggage: true,
		SpanStarter: func(ctx context.Context, tracer trace.Tracer, name string, opts ...trace.SpanStartOption) trace.Span {
			_, span := tracer.Start(ctx, name, opts...)
			return Redacted(span)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	return t, nil
}

// TemporalInterceptors go on the Temporal client; a worker made from that
// client inherits them.
func (t *Tracing) TemporalInterceptors() []interceptor.ClientInterceptor {
	if t == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{t.temporal}
}

// Tracer names the spans of one part of the system.
func (t *Tracing) Tracer(name string) trace.Tracer { return t.provider.Tracer(name) }

// Propagator reads and writes the W3C trace context.
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// Shutdown sends the spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Redacted wraps a span so errors recorded on it keep their type, never
// their message.
func Redacted(span trace.Span) trace.Span { return redacted{span} }

type redacted struct{ trace.Span }

func (s redacted) RecordError(err error, _ ...trace.EventOption) {
	if err != nil {
		s.Span.SetAttributes(attribute.String("error.type", ErrorType(err)))
	}
}

func (s redacted) SetStatus(code codes.Code, _ string) { s.Span.SetStatus(code, "") }

// ErrorType names an error without its message: an application error's
// type (e.g. "InvalidDocument"), otherwise its Go type.
func ErrorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		return app.Type()
	}
	return fmt.Sprintf("%T", err)
}

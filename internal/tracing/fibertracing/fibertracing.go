// Package fibertracing gives each HTTP request of the API a server span, the
// parent of everything the request does (a workflow start, its workflow and
// activities). It records the method, the route pattern and the status only:
// paths and queries carry tracking codes and signed tokens, headers carry
// cookies, and the client's address is personal data.
//
// We do not use gofiber/contrib/otelfiber: it records the full URL with its
// query, the user agent and the client's IP, and none of them can be left out.
package fibertracing

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/openconsular/consular/internal/tracing"
)

// untraced are probed every few seconds by Kubernetes and Prometheus: spans
// of them would only bury the requests.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware starts the span on the request's context (c.UserContext()),
// so install it after the middleware that sets that context. A W3C
// traceparent header from the ingress becomes the parent.
func Middleware(t *tracing.Tracing) fiber.Handler {
	tracer := t.Tracer("github.com/openconsular/consular/api")
	propagator := t.Propagator()
	return func(c *fiber.Ctx) error {
		if untraced[c.Path()] {
			return c.Next()
		}
		ctx := propagator.Extract(c.UserContext(), headers{c})
		method := utils.CopyString(c.Method())
		ctx, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		c.SetUserContext(ctx)

		err := c.Next()
		// The route is known once routing is done; its pattern (":code"),
		// never the path.
		route := utils.CopyString(c.Route().Path)
		status := c.Response().StatusCode()
		if err != nil {
			status = fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				status = fe.Code
			}
		}
		span.SetName(method + " " + route)
		span.SetAttributes(
			attribute.String("http.request.method", method),
			attribute.String("http.route", route),
			attribute.Int("http.response.status_code", status),
		)
		if status >= 500 {
			if err != nil {
				span.SetAttributes(attribute.String("error.type", tracing.ErrorType(err)))
			}
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return err
	}
}

// headers reads the request's headers for the propagator.
type headers struct{ c *fiber.Ctx }

var _ propagation.TextMapCarrier = headers{}

// Get copies: a trace state keeps parts of the string, and Fiber reuses
// the buffer behind it.
func (h headers) Get(key string) string { return utils.CopyString(h.c.Get(key)) }
func (headers) Set(string, string)      {}
func (h headers) Keys() []string {
	var keys []string
	h.c.Request().Header.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}

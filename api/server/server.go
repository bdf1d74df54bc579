// Package server builds the Fiber application every audience's routes hang
// from: request IDs, per-request deadlines, access logs, panics turned into
// 500s, and one error shape.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/openconsular/consular/internal/logging"
	"github.com/openconsular/consular/internal/metrics"
)

type Options struct {
	Logger         *slog.Logger
	RequestTimeout time.Duration // deadline of each request's context
	Bodies         BodyLimits    // each request's body limit; larger bodies are refused before they are read
	// HSTS asks browsers to use HTTPS only for this host (production:
	// TLS terminates at the ingress, and a first plain request could be
	// intercepted).
	HSTS bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed (the
	// ingress); c.IP() is then the client behind them, else the peer.
	TrustedProxies []netip.Prefix
	// HTMLErrors renders an error as a page for browsers (paths outside
	// /api/ whose client accepts HTML); the JSON shape serves the rest.
	HTMLErrors func(c *fiber.Ctx, code int) error
}

// New returns the application with the shared middleware installed. It
// panics on body limits that cannot be right (a table in the code, not
// configuration).
func New(opts Options) *fiber.App {
	if err := opts.Bodies.validate(); err != nil {
		panic(err)
	}
	app := fiber.New(fiber.Config{
		AppName: "consular",
		// fasthttp's own limit does not refuse a streamed body (it streams
		// it), so limitBodies applies each route's limit.
		BodyLimit:         int(opts.Bodies.largest()),
		StreamRequestBody: true, // uploads are read part by part, not held whole...
		// ...which needs this too: otherwise fasthttp reads a multipart body
		// whole, and parses it, before the handler runs.
		DisablePreParseMultipartForm: true,
		DisableStartupMessage:        true,
		ErrorHandler:                 errorHandler(opts.Logger, opts.HTMLErrors),
		ReadTimeout:                  opts.RequestTimeout,
		WriteTimeout:                 opts.RequestTimeout,
		IdleTimeout:                  2 * time.Minute,
		// c.IP() reads the address clientAddress decided, never a
		// client's header: see clientAddress.
		ProxyHeader: clientAddressHeader,
	})
	// A body over its limit is refused before fasthttp reads any of it;
	// FormValue never parses a multipart body.
	app.Server().HeaderReceived = headerReceived(opts.Bodies)
	app.Server().FormValueFunc = formValue
	app.Use(clientAddress(opts.TrustedProxies))
	app.Use(securityHeaders(opts.HSTS))
	app.Use(requestid.New())
	app.Use(requestContext(opts.RequestTimeout))
	app.Use(accessLog(opts.Logger))
	app.Use(recover.New())
	app.Use(limitBodies(opts.Bodies))
	return app
}

// securityHeaders go with every answer, JSON, files and errors included:
// nothing is sniffed, framed or given a referrer, and what is not a page
// may load nothing (pages set their own policy, web.SecurityHeaders).
func securityHeaders(hsts bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("X-Frame-Options", "DENY")
		c.Set("Referrer-Policy", "same-origin")
		c.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		if hsts {
			c.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return c.Next()
	}
}

// clientAddressHeader carries the client's address as clientAddress decided
// it. Fiber's c.IP() reads it (Config.ProxyHeader), so rate limits, audit
// lines and logs all see the same address through the one obvious call.
const clientAddressHeader = "X-Consular-Client-Address"

// clientAddress decides who the client is, before anything else runs: the
// peer, or, when the peer is a trusted proxy, the address that proxy (and
// any trusted proxy before it) says it served. Whatever a client sent in
// clientAddressHeader itself is overwritten.
func clientAddress(trusted []netip.Prefix) fiber.Handler {
	return func(c *fiber.Ctx) error {
		peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
		h := &c.Request().Header
		var forwarded []string
		if len(trusted) > 0 {
			for _, v := range h.PeekAll(fiber.HeaderXForwardedFor) {
				forwarded = append(forwarded, string(v))
			}
		}
		h.Del(clientAddressHeader)
		h.Set(clientAddressHeader, ClientAddress(peer, forwarded, trusted).String())
		return c.Next()
	}
}

// ClientAddress is the client's address: X-Forwarded-For read from the
// right, believed only as far as each hop that reported it is trusted. A
// client can put anything at the left of the header; the entry written by
// the first trusted proxy it reached is the address that proxy saw.
func ClientAddress(peer netip.Addr, forwardedFor []string, trusted []netip.Prefix) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	var hops []string
	for _, line := range forwardedFor {
		hops = append(hops, strings.Split(line, ",")...)
	}
	client := peer.Unmap()
	for i := len(hops) - 1; i >= 0 && isTrusted(client); i-- {
		hop := strings.TrimSpace(hops[i])
		reported, err := netip.ParseAddr(hop)
		if err != nil {
			withPort, perr := netip.ParseAddrPort(hop) // some load balancers add the port
			if perr != nil {
				break // a proxy wrote something we cannot read: stop at the last hop we know
			}
			reported = withPort.Addr()
		}
		client = reported.Unmap()
	}
	return client
}

// requestContext gives each request a context with a deadline and the request
// ID for the logs. Handlers pass c.UserContext() downstream, never a
// background context.
func requestContext(timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := utils.CopyString(c.GetRespHeader(fiber.HeaderXRequestID))
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c.SetUserContext(logging.With(ctx, slog.String("request_id", id)))
		return c.Next()
	}
}

func accessLog(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Let the error handler write the answer now, so the status logged is the one sent.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		took := time.Since(start)
		logger.Log(c.UserContext(), level, "http request",
			"method", c.Method(), "route", c.Route().Path, "status", status, "took", took, "client", c.IP())
		// Copies: Fiber's strings point into buffers it reuses, and the
		// metric keeps its labels.
		metrics.HTTPRequests.WithLabelValues(utils.CopyString(c.Method()), utils.CopyString(c.Route().Path), strconv.Itoa(status)).
			Observe(took.Seconds())
		return nil
	}
}

// ErrorBody is the one shape of every JSON error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

type ErrorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Fa      string `json:"message_fa,omitempty"` // Persian, where the answer has it
}

func errorHandler(logger *slog.Logger, html func(*fiber.Ctx, int) error) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code := fiber.StatusInternalServerError
		message := "internal error"
		var fe *fiber.Error
		var refusal refused
		fa := ""
		if errors.As(err, &refusal) {
			code, message, fa = refusal.Status(), refusal.Error(), refusal.Persian()
		} else if unavailable(err) {
			logger.WarnContext(c.UserContext(), "a server the API needs is out of reach", "err", err)
			code, message, fa = unavailableRefusal.Code, unavailableRefusal.Message, unavailableRefusal.Fa
			c.Set(fiber.HeaderRetryAfter, retryAfter)
		} else if errors.As(err, &fe) {
			code, message = fe.Code, fe.Message
		} else {
			logger.ErrorContext(c.UserContext(), "request failed", "err", err)
		}
		if html != nil && !strings.HasPrefix(c.Path(), "/api/") && strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
			if err := html(c, code); err == nil {
				return nil
			}
		}
		return c.Status(code).JSON(ErrorBody{Error: ErrorDetail{Code: code, Message: message, Fa: fa}})
	}
}

// Package server builds the Fiber application every audience's routes hang
// from: request IDs, per-request deadlines, access logs, panics turned into
// 500s, and one error shape.
package server

import (
	"context"
	"errors"
	"io"
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
	BodyLimit      int64         // bytes; larger bodies are refused before they are read
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

// New returns the application with the shared middleware installed.
func New(opts Options) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:           "consular",
		BodyLimit:         int(opts.BodyLimit),
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
	app.Use(clientAddress(opts.TrustedProxies))
	app.Use(securityHeaders(opts.HSTS))
	app.Use(requestid.New())
	app.Use(requestContext(opts.RequestTimeout))
	app.Use(accessLog(opts.Logger))
	app.Use(recover.New())
	app.Use(finishStreamedBody(opts.BodyLimit))
	return app
}

// finishStreamedBody reads what a handler left unread of a streamed body (an
// upload answered early: a missing header, a refused document, a retry
// answered from the saved submission) and closes the connection after the
// answer. Left on the connection, those bytes would be parsed as the next
// request and answered (fasthttp with StreamRequestBody; see valyala/fasthttp
// PR 2368). Reading them first lets the client finish sending and read the
// answer instead of a reset.
func finishStreamedBody(limit int64) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		if c.Request().IsBodyStream() {
			if stream := c.Context().RequestBodyStream(); stream != nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(stream, limit))
			}
			c.Context().SetConnectionClose()
		}
		return err
	}
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
}

func errorHandler(logger *slog.Logger, html func(*fiber.Ctx, int) error) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code := fiber.StatusInternalServerError
		message := "internal error"
		var fe *fiber.Error
		if errors.As(err, &fe) {
			code, message = fe.Code, fe.Message
		} else {
			logger.ErrorContext(c.UserContext(), "request failed", "err", err)
		}
		if html != nil && !strings.HasPrefix(c.Path(), "/api/") && strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
			if err := html(c, code); err == nil {
				return nil
			}
		}
		return c.Status(code).JSON(ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
	}
}

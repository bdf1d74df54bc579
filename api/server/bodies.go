package server

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// BodyLimits bound every request's body before any of it is read. A body
// whose Content-Length is over its limit is answered 413 at once and its
// connection closed; a chunked one is counted as it arrives and cut at the
// limit with 413. Small bodies (forms, JSON) are read whole, up to their
// limit, before any middleware or handler runs, so c.FormValue, c.Body and
// c.BodyParser only ever see a bounded buffer. The routes listed in Routes
// (uploads) get their body as a stream that stops at their limit.
//
// Nothing is written to disk: fasthttp's own multipart parsing (which
// spills files to the temporary folder) is never reached from FormValue,
// and every limit is far below its in-memory threshold.
type BodyLimits struct {
	Form   int64       // urlencoded forms, and any body no other rule names
	JSON   int64       // bodies whose media type ends in "json"
	Routes []BodyRoute // routes that take more, streamed to their handler
}

// BodyRoute is one route that takes a larger body, streamed.
type BodyRoute struct {
	Method string
	// Path as registered, "*" standing for one segment ("/services/*/apply").
	// Matched as Fiber routes by default: case-insensitively, a trailing
	// slash ignored.
	Path  string
	Type  string // media type ("multipart/form-data")
	Limit int64
}

// largestBody is where fasthttp's multipart parser (and Go's ReadForm)
// would start writing files to disk; no limit may come near it.
const largestBody = 8 << 20

func (l BodyLimits) validate() error {
	if l.Form <= 0 || l.JSON <= 0 {
		return errors.New("body limits: Form and JSON limits are required")
	}
	for _, r := range append(l.Routes, BodyRoute{Limit: l.Form}, BodyRoute{Limit: l.JSON}) {
		if r.Limit <= 0 || r.Limit > largestBody {
			return errors.New("body limits: every limit must be between 1 byte and 8 MB, got " + strconv.FormatInt(r.Limit, 10))
		}
	}
	return nil
}

// largest is the largest limit (fasthttp's own, which only sizes the
// prefetch of a streamed body).
func (l BodyLimits) largest() int64 {
	n := max(l.Form, l.JSON)
	for _, r := range l.Routes {
		n = max(n, r.Limit)
	}
	return n
}

// limit is the limit of a request, and whether its body is streamed.
func (l BodyLimits) limit(method, path, contentType string) (limit int64, stream bool) {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	for _, r := range l.Routes {
		if strings.EqualFold(r.Method, method) && r.Type == mediaType && pathMatches(r.Path, path) {
			return r.Limit, true
		}
	}
	if strings.HasSuffix(mediaType, "json") {
		return l.JSON, false
	}
	return l.Form, false
}

// pathMatches matches a route pattern as Fiber's default routing does
// (case-insensitive, trailing slash optional); "*" matches one segment.
func pathMatches(pattern, path string) bool {
	pattern = strings.TrimSuffix(pattern, "/")
	path = strings.TrimSuffix(path, "/")
	ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(ss) {
		return false
	}
	for i := range ps {
		if ps[i] == "*" {
			if ss[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(ps[i], ss[i]) {
			return false
		}
	}
	return true
}

// Refusal is an error answered with its status and a message in English and
// Persian (the JSON API's error shape carries both).
type Refusal struct {
	Code        int
	Message, Fa string
}

func (r *Refusal) Error() string   { return r.Message }
func (r *Refusal) Status() int     { return r.Code }
func (r *Refusal) Persian() string { return r.Fa }

// refused is any package's error that carries its status and a Persian
// message (Refusal, web.FormError).
type refused interface {
	error
	Status() int
	Persian() string
}

func tooLarge(limit int64) *Refusal {
	kb := strconv.FormatInt((limit+1023)/1024, 10)
	return &Refusal{Code: fiber.StatusRequestEntityTooLarge,
		Message: "the request body is too large: at most " + kb + " KB here",
		Fa:      "حجم درخواست بیش از حد مجاز است: حداکثر " + kb + " کیلوبایت"}
}

var errEncoded = &Refusal{Code: fiber.StatusUnsupportedMediaType,
	Message: "compressed request bodies (Content-Encoding) are not accepted",
	Fa:      "درخواست فشرده (Content-Encoding) پذیرفته نمی‌شود"}

// encoded reports a Content-Encoding other than identity: Fiber's c.Body
// would inflate it without limit (a few KB of gzip become gigabytes), and
// no browser compresses what it posts.
func encoded(h *fasthttp.RequestHeader) bool {
	v := strings.TrimSpace(string(h.Peek(fiber.HeaderContentEncoding)))
	return v != "" && !strings.EqualFold(v, "identity")
}

// limitBodies enforces l on each request before the rest of the chain runs,
// and afterwards finishes a streamed body the handler left unread.
func limitBodies(l BodyLimits) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := &c.Context().Request
		if encoded(&req.Header) {
			c.Context().SetConnectionClose()
			return errEncoded
		}
		limit, stream := l.limit(c.Method(), c.Path(), string(req.Header.ContentType()))
		// ContentLength is -1 for a chunked body, counted below.
		if len(req.Header.Peek(refusedHeader)) > 0 || int64(req.Header.ContentLength()) > limit {
			c.Context().SetConnectionClose() // the rest of the body is never read
			return tooLarge(limit)
		}
		body := c.Context().RequestBodyStream()
		if body == nil {
			if int64(len(req.Body())) > limit { // not streamed (as in tests calling app.Test)
				return tooLarge(limit)
			}
			return c.Next()
		}
		if !stream {
			// Read whole now, at most limit+1 bytes: whatever the chain calls
			// later (FormValue, Body, BodyParser) reads this buffer.
			b, err := io.ReadAll(io.LimitReader(body, limit+1))
			if err != nil {
				c.Context().SetConnectionClose()
				return fiber.NewError(fiber.StatusBadRequest, "the request body could not be read")
			}
			if int64(len(b)) > limit {
				c.Context().SetConnectionClose()
				return tooLarge(limit)
			}
			req.SetBodyRaw(b)
			return c.Next()
		}
		counted := &limitedBody{r: body, left: limit}
		req.SetBodyStream(counted, req.Header.ContentLength())
		err := c.Next()
		// Read what the handler left (an upload answered early) so it is not
		// parsed as the next request, and the client can finish sending and
		// read the answer; at most the route's limit, then close anyway
		// (valyala/fasthttp PR 2368).
		if !counted.over && counted.err == nil {
			_, _ = io.Copy(io.Discard, counted)
		}
		c.Context().SetConnectionClose()
		if counted.over {
			c.Response().Reset()
			c.Context().SetConnectionClose()
			return tooLarge(limit)
		}
		return err
	}
}

// limitedBody is a streamed body cut at its limit: past it, reads fail
// (and the request is answered 413, whatever the handler made of it).
type limitedBody struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

// ErrBodyTooLarge is what reading a streamed body past its limit returns.
var ErrBodyTooLarge = &Refusal{Code: fiber.StatusRequestEntityTooLarge,
	Message: "the request body is too large", Fa: "حجم درخواست بیش از حد مجاز است"}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, ErrBodyTooLarge
	}
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		keep := b.left
		b.over, b.left = true, 0
		return int(keep), ErrBodyTooLarge
	}
	b.left -= int64(n)
	if err != nil {
		b.err = err
	}
	return n, err
}

// refusedHeader marks a request whose Content-Length was over its limit
// when its headers arrived (see headerReceived). Any such header a client
// sends is removed first.
const refusedHeader = "X-Consular-Body-Over-Limit"

// headerReceived runs when a request's headers are in, before fasthttp
// reads any of its body. A body whose Content-Length is over its route's
// limit is not read at all: the request goes on as one without a body,
// marked, and limitBodies answers it 413 and closes the connection, so the
// bytes that follow are never read, let alone parsed as another request.
// (fasthttp's own limit cannot do this: with StreamRequestBody it streams
// a body over the limit, and it waits for the first 8 KB of it first.)
func headerReceived(l BodyLimits) func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	return func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		h.Del(refusedHeader)
		if h.ContentLength() <= 0 { // none, or chunked (-1): counted as it comes
			return fasthttp.RequestConfig{}
		}
		limit, _ := l.limit(string(h.Method()), pathOf(h.RequestURI()), string(h.ContentType()))
		if int64(h.ContentLength()) > limit || encoded(h) {
			h.Set(refusedHeader, strconv.Itoa(h.ContentLength()))
			h.SetContentLength(0)
			// A client waiting for "100 Continue" hears 413 instead.
			h.Del(fasthttp.HeaderExpect)
		}
		return fasthttp.RequestConfig{}
	}
}

// pathOf is the path of a request URI ("/a/b?c" → "/a/b"), as Fiber routes it.
func pathOf(uri []byte) string {
	p, _, _ := strings.Cut(string(uri), "?")
	if i := strings.Index(p, "://"); i >= 0 { // an absolute URI
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = "/"
		}
	}
	return p
}

// formValue is FormValue without its fall-back to fasthttp's multipart
// parser, which reads a whole multipart body and writes its files to the
// temporary folder: multipart forms are read with web.FormReader.
func formValue(ctx *fasthttp.RequestCtx, key string) []byte {
	if v := ctx.QueryArgs().Peek(key); len(v) > 0 {
		return v
	}
	return ctx.PostArgs().Peek(key) // empty unless the body is urlencoded
}

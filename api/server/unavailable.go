package server

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
)

// unavailableRefusal is the answer while a server the API needs (PostgreSQL,
// MinIO, Temporal) cannot be reached: 503 with a time to come back, not a
// 500 "internal error". A client retries a submission with the same
// Idempotency-Key; nothing is taken twice.
var unavailableRefusal = &Refusal{Code: fiber.StatusServiceUnavailable,
	Message: "the service is briefly unavailable: try again in a minute (a submission with the same Idempotency-Key)",
	Fa:      "سامانه لحظاتی در دسترس نیست: یک دقیقه دیگر دوباره تلاش کنید (ارسال درخواست با همان Idempotency-Key)"}

// retryAfter is the Retry-After of a 503, in seconds: about how long a
// restart of PostgreSQL or MinIO takes.
const retryAfter = "30"

// unavailable says err is a server the API needs being out of reach (refused
// or dropped connections, PostgreSQL shutting down or starting, Temporal
// unavailable) rather than a fault in the request or in our code.
func unavailable(err error) bool {
	var connect *pgconn.ConnectError
	var op *net.OpError
	var pg *pgconn.PgError
	var temporal *serviceerror.Unavailable
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // the request's own deadline, or its client gone: not an outage
	}
	switch {
	case errors.As(err, &connect), errors.As(err, &temporal):
		return true
	case errors.As(err, &op):
		// A dial that failed is a server out of reach; a reset is one only
		// from a server we called (MinIO's url.Error), never from a client
		// dropping its own upload.
		var call *url.Error
		return op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &call) && errors.Is(err, syscall.ECONNRESET)
	case errors.As(err, &pg):
		// Class 57: the server is shutting down or starting (57P01-57P03);
		// class 08: the connection failed.
		return strings.HasPrefix(pg.Code, "57") || strings.HasPrefix(pg.Code, "08")
	}
	// pgconn.SafeToRetry: the connection failed before the query was sent.
	return errors.Is(err, syscall.ECONNREFUSED) || pgconn.SafeToRetry(err)
}

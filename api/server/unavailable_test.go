package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
)

func TestAServerOutOfReachIsUnavailableNotAFault(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"MinIO refused (minio-go's url.Error)": {&url.Error{Op: "Put", URL: "http://minio/x", Err: dial}, true},
		"PostgreSQL refused, wrapped":          {fmt.Errorf("authenticate API client: %w", dial), true},
		"PostgreSQL shutting down (57P01)":     {&pgconn.PgError{Code: "57P01"}, true},
		"PostgreSQL starting (57P03)":          {fmt.Errorf("query: %w", &pgconn.PgError{Code: "57P03"}), true},
		"MinIO dropped the connection":         {&url.Error{Op: "Put", URL: "http://minio/x", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, true},
		"a client dropped its upload":          {fmt.Errorf("read body: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET}), false},
		"the request's own deadline":           {fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		"Temporal unavailable":                 {serviceerror.NewUnavailable("no frontend"), true},
		"a unique violation is ours":           {&pgconn.PgError{Code: "23505"}, false},
		"a plain error is ours":                {errors.New("nil map"), false},
	} {
		if got := unavailable(c.err); got != c.want {
			t.Errorf("%s: unavailable = %v, want %v", name, got, c.want)
		}
	}
}

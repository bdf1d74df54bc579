package submission

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
)

// StartPending starts the workflows of submissions saved more than
// olderThan ago whose start failed (Temporal unreachable) and that nobody
// retried since: the applicant was asked to try again and may not have, but
// their request and documents are kept, so it starts here and its receipt
// email tells them it arrived. It works in batches of 100, oldest first,
// until none is left; it stops when Temporal is unreachable, and passes
// over (logging) a submission whose start fails otherwise, which stays
// pending for the next round. It returns how many it started.
func (s *Submitter) StartPending(ctx context.Context, olderThan time.Duration) (int, error) {
	const batch = 100
	n, failed := 0, 0
	for {
		rows, err := s.DB.Query(ctx, `SELECT tracking_code FROM submissions
			WHERE start_pending AND submitted_at < now() - $1::interval ORDER BY submitted_at OFFSET $2 LIMIT $3`, olderThan, failed, batch)
		if err != nil {
			return n, err
		}
		codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return n, err
		}
		for _, code := range codes {
			rec, err := s.load(ctx, "tracking_code = $1", code)
			if err != nil {
				return n, err
			}
			if rec == nil {
				continue
			}
			if err := s.startWorkflow(ctx, *rec); err != nil {
				if unreachable(ctx, err) {
					return n, fmt.Errorf("Temporal unreachable: %w", err)
				}
				s.Logger.ErrorContext(ctx, "start a pending request", "tracking_code", rec.code, "err", err)
				failed++ // still pending: the next query passes over it
				continue
			}
			s.Logger.WarnContext(ctx, "started a request saved while Temporal was unreachable", "tracking_code", rec.code, "submitted_at", rec.submittedAt)
			n++
		}
		if len(codes) < batch {
			return n, nil
		}
	}
}

// unreachable says whether a start failed because Temporal could not be
// reached (or did not answer in time), as opposed to refusing this request.
func unreachable(ctx context.Context, err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &unavailable) || errors.As(err, &deadline)
}

// KeepStartingPending runs StartPending every interval until ctx ends, for
// submissions saved at least a minute before (a start in progress is left
// to finish).
func (s *Submitter) KeepStartingPending(ctx context.Context, interval time.Duration) {
	for {
		if _, err := s.StartPending(ctx, time.Minute); err != nil && ctx.Err() == nil {
			s.Logger.WarnContext(ctx, "start pending requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
)

// Retention purges what a finished request no longer needs: its documents
// and the applicant's personal data. The projection row stays, with codes
// and dates only, for statistics.
type Retention struct {
	DB              *pgxpool.Pool
	Objects         *minio.Client
	DocumentsBucket string
}

// ExpiredInput asks for a batch of finished requests last changed before Before.
type ExpiredInput struct {
	Before time.Time
	Limit  int
}

// Expired lists tracking codes due for purging, oldest first.
func (r *Retention) Expired(ctx context.Context, in ExpiredInput) ([]string, error) {
	rows, err := r.DB.Query(ctx, `SELECT tracking_code FROM requests
		WHERE purged_at IS NULL AND updated_at < $1
		  AND status IN ('rejected_documents', 'approved', 'rejected', 'completed', 'archived', 'withdrawn')
		ORDER BY updated_at LIMIT $2`, in.Before, in.Limit)
	if err != nil {
		return nil, fmt.Errorf("find expired requests: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PurgeResult counts what a purge removed.
type PurgeResult struct {
	Requests  int
	Documents int
}

// Purge removes the requests' documents from MinIO and their personal data
// from PostgreSQL. Idempotent: a request purged already is skipped.
func (r *Retention) Purge(ctx context.Context, codes []string) (PurgeResult, error) {
	var res PurgeResult
	for _, code := range codes {
		for obj := range r.Objects.ListObjects(ctx, r.DocumentsBucket, minio.ListObjectsOptions{Prefix: code + "/", Recursive: true}) {
			if obj.Err != nil {
				return res, fmt.Errorf("list documents of %s: %w", code, obj.Err)
			}
			if err := r.Objects.RemoveObject(ctx, r.DocumentsBucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
				return res, fmt.Errorf("delete %s: %w", obj.Key, err)
			}
			res.Documents++
		}
		tx, err := r.DB.Begin(ctx)
		if err != nil {
			return res, err
		}
		for _, q := range []string{
			`DELETE FROM request_documents WHERE tracking_code = $1`,
			`DELETE FROM request_applicants WHERE tracking_code = $1`,
			`UPDATE request_drafts SET fields = '{}' WHERE tracking_code = $1`,
			`UPDATE requests SET purged_at = now() WHERE tracking_code = $1 AND purged_at IS NULL`,
		} {
			if _, err := tx.Exec(ctx, q, code); err != nil {
				tx.Rollback(ctx)
				return res, fmt.Errorf("purge %s: %w", code, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return res, err
		}
		res.Requests++
	}
	return res, nil
}

package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/activity"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
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
//
// It first deletes sessions past their end (expireSessions): every purge
// run starts with this activity, whatever else it finds to do, and a
// change inside an activity leaves the workflow's history and its replay
// untouched (a new activity would need a workflow version). It is
// idempotent and bounded per call, like the rest of the purge.
func (r *Retention) Expired(ctx context.Context, in ExpiredInput) ([]string, error) {
	if _, err := r.expireSessions(ctx, sessionsPerCall); err != nil {
		return nil, err
	}
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
		for obj := range r.Objects.ListObjects(ctx, r.DocumentsBucket, minio.ListObjectsOptions{Prefix: storage.RequestPrefix(code), Recursive: true}) {
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
			`DELETE FROM request_corrections WHERE tracking_code = $1`, // old and new values are personal data
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

// OrphansInput asks for documents stored before Before under a tracking
// code that no submission was saved for, at most Limit of them (0: 1000).
type OrphansInput struct {
	Before time.Time
	Limit  int
}

// SweepOrphans deletes documents left under a tracking code that no
// submission owns: an upload cut off half-way (MinIO stopped, the API
// killed) whose own cleanup could not run. Every saved request has its
// submissions row for good (the purge keeps it), and uploads are stored
// under their tracking code only moments before the row is written, so a
// code without a row after a day is no request's. Drafts' uploads (under
// uploads/) are not touched. It returns how many documents it deleted.
func (r *Retention) SweepOrphans(ctx context.Context, in OrphansInput) (int, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = 1000
	}
	deleted, seen := 0, 0
	candidates := map[string][]string{} // tracking code -> its old objects
	settle := func() error {
		if len(candidates) == 0 {
			return nil
		}
		codes := make([]string, 0, len(candidates))
		for code := range candidates {
			codes = append(codes, code)
		}
		rows, err := r.DB.Query(ctx, `SELECT tracking_code FROM submissions WHERE tracking_code = ANY($1)`, codes)
		if err != nil {
			return fmt.Errorf("look up tracking codes: %w", err)
		}
		owned, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("look up tracking codes: %w", err)
		}
		for _, code := range owned {
			delete(candidates, code)
		}
		for _, keys := range candidates {
			for _, key := range keys {
				if deleted >= limit {
					break
				}
				if err := r.Objects.RemoveObject(ctx, r.DocumentsBucket, key, minio.RemoveObjectOptions{}); err != nil {
					return fmt.Errorf("delete %s: %w", key, err)
				}
				deleted++
			}
		}
		clear(candidates)
		return nil
	}
	for obj := range r.Objects.ListObjects(ctx, r.DocumentsBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return deleted, fmt.Errorf("list documents: %w", obj.Err)
		}
		if seen++; seen%1000 == 0 {
			activity.RecordHeartbeat(ctx, seen) // the listing alone can take minutes
		}
		prefix, _, ok := strings.Cut(obj.Key, "/")
		if !ok || !obj.LastModified.Before(in.Before) {
			continue
		}
		if code, err := consular.ParseTrackingCode(prefix); err != nil || string(code) != prefix {
			continue
		}
		candidates[prefix] = append(candidates[prefix], obj.Key)
		if len(candidates) >= 500 {
			if err := settle(); err != nil {
				return deleted, err
			}
			if deleted >= limit {
				return deleted, nil
			}
		}
	}
	return deleted, settle()
}

// DraftsInput asks for unsubmitted drafts untouched since Before (no change
// to their fields and no document uploaded to them), at most Limit (0: 500).
type DraftsInput struct {
	Before time.Time
	Limit  int
}

// ExpireDrafts deletes drafts an applicant started and never submitted,
// untouched since in.Before, with the documents uploaded to them (objects
// and rows). A submitted draft, and the documents of the applicant's
// profile, are not touched. It returns how many drafts it deleted.
func (r *Retention) ExpireDrafts(ctx context.Context, in DraftsInput) (int, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = 500
	}
	// Each draft with the keys of its documents; touched means a field
	// saved or a document uploaded since Before.
	rows, err := r.DB.Query(ctx, `SELECT d.id::text, d.account_id, array_remove(array_agg(u.object_key), NULL)
		FROM request_drafts d LEFT JOIN uploads u ON u.account_id = d.account_id AND u.owner = d.id::text
		WHERE d.tracking_code IS NULL AND d.updated_at < $1
		GROUP BY d.id HAVING coalesce(max(u.uploaded_at) < $1, true)
		ORDER BY d.updated_at LIMIT $2`, in.Before, limit)
	if err != nil {
		return 0, fmt.Errorf("find expired drafts: %w", err)
	}
	type draft struct {
		id      string
		account int64
		keys    []string
	}
	drafts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (draft, error) {
		var d draft
		return d, row.Scan(&d.id, &d.account, &d.keys)
	})
	if err != nil {
		return 0, fmt.Errorf("find expired drafts: %w", err)
	}
	deleted := 0
	for _, d := range drafts {
		for _, key := range d.keys {
			if err := r.Objects.RemoveObject(ctx, r.DocumentsBucket, key, minio.RemoveObjectOptions{}); err != nil {
				return deleted, fmt.Errorf("delete %s: %w", key, err)
			}
		}
		if err := r.forgetDraft(ctx, d.id, d.account, in.Before); err != nil {
			return deleted, fmt.Errorf("expire draft %s: %w", d.id, err)
		}
		deleted++
		activity.RecordHeartbeat(ctx, deleted)
	}
	return deleted, nil
}

// forgetDraft deletes a draft's rows and its uploads' rows, unless it was
// touched since before (an upload this very moment): then it stays.
func (r *Retention) forgetDraft(ctx context.Context, id string, account int64, before time.Time) error {
	tx, err := r.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM uploads WHERE account_id = $1 AND owner = $2 AND uploaded_at < $3`, account, id, before); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM request_drafts d WHERE id = $1::uuid AND tracking_code IS NULL AND updated_at < $2
		AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.account_id = d.account_id AND u.owner = d.id::text)`, id, before); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// sessionsPerCall bounds the sessions one call deletes from each table:
// a few thousand rows is a short statement; more wait for the next call.
const sessionsPerCall = 5000

// expireSessions deletes applicants' and staff sessions that have ended:
// unused for their idle timeout, or older than their absolute lifetime
// (each row carries both, as the API last applied them), at most limit
// rows from each table. An ended session opens nothing already; this
// removes what it held (a sign-in in progress, a proved booking). It
// returns how many rows it deleted. (Unexported: the worker registers
// every exported method as an activity.)
func (r *Retention) expireSessions(ctx context.Context, limit int) (int64, error) {
	var deleted int64
	for _, table := range []string{"sessions", "staff_sessions"} {
		tag, err := r.DB.Exec(ctx, `DELETE FROM `+table+` WHERE id_hash IN (
			SELECT id_hash FROM `+table+` WHERE seen_at + idle_timeout <= now() OR created_at + lifetime <= now() LIMIT $1)`, limit)
		if err != nil {
			return deleted, fmt.Errorf("delete expired %s: %w", table, err)
		}
		deleted += tag.RowsAffected()
	}
	return deleted, nil
}

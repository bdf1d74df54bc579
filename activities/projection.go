// Package activities performs every side effect of a request's workflow, one
// struct per dependency: the projection in PostgreSQL, documents and receipts
// in MinIO, and mail.
package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/metrics"
)

// Projection keeps the requests table in PostgreSQL current, so staff lists
// and the appointment system read requests without touching Temporal.
type Projection struct {
	DB *pgxpool.Pool
}

// RecordInput is a request's state after a transition.
type RecordInput struct {
	TrackingCode  string
	Status        consular.Status
	ServiceCode   string
	MissionCode   string
	SubmittedAt   time.Time
	DeadlineAt    time.Time
	AppointmentAt *time.Time
	// Version orders the writes of one workflow: a retried older write never
	// overwrites a newer one.
	Version int
}

const recordSQL = `
INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at, version, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (tracking_code) DO UPDATE SET
    status = EXCLUDED.status, deadline_at = EXCLUDED.deadline_at, appointment_at = EXCLUDED.appointment_at,
    version = EXCLUDED.version, updated_at = now()
WHERE requests.version < EXCLUDED.version
   OR (requests.version = EXCLUDED.version
       AND (requests.status, requests.deadline_at, requests.appointment_at)
           IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.deadline_at, EXCLUDED.appointment_at))`

// Record writes the request's state; it is idempotent.
//
// The workflow runs it as a local activity: the write happens before the
// workflow task that made the change is stored. If that task is lost (the
// worker dies, or an Update's task is dropped), the write stays while the
// workflow goes on from its previous state, and its next write carries the
// same version with what really happened: a write of the version stored
// replaces it when it says something else, so the projection follows the
// workflow again. The same write retried changes nothing and is counted once.
func (p *Projection) Record(ctx context.Context, in RecordInput) error {
	tag, err := p.DB.Exec(ctx, recordSQL, in.TrackingCode, string(in.Status), in.ServiceCode, in.MissionCode,
		in.SubmittedAt, in.DeadlineAt, in.AppointmentAt, in.Version)
	if err != nil {
		return fmt.Errorf("record request %s as %s: %w", in.TrackingCode, in.Status, err)
	}
	if tag.RowsAffected() > 0 { // counted once, whatever the retries
		metrics.Transitions.WithLabelValues(string(in.Status)).Inc()
	}
	return nil
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
)

// PurgeInput says how long finished requests keep their personal data.
type PurgeInput struct {
	Retention time.Duration
	BatchSize int
	// DraftsKept: unsubmitted drafts untouched this long are deleted with
	// their documents (0: drafts are left alone, as schedules made before
	// this field say).
	DraftsKept time.Duration
}

// PurgeResult reports what one run purged.
type PurgeResult struct {
	Requests  int
	Documents int
	// Orphaned documents deleted: left under a tracking code no submission
	// owns by an upload cut off half-way.
	Orphans int
	// Drafts deleted, never submitted and untouched for DraftsKept.
	Drafts int
}

// PurgeScheduleID is the Temporal Schedule that runs Purge daily.
const PurgeScheduleID = "consular-retention-purge"

var retention *activities.Retention

// Purge deletes the documents and personal data of requests finished longer
// ago than the retention period, in batches; a Temporal Schedule runs it
// every day. Each batch is idempotent, so a retried or overlapping run only
// finds less to do. After many batches it continues as new, keeping its
// history short. Once nothing is left to purge, it deletes documents that
// uploads cut off half-way left under no request (SweepOrphans), and drafts
// never submitted and untouched for in.DraftsKept (ExpireDrafts).
func Purge(ctx workflow.Context, in PurgeInput) (PurgeResult, error) {
	var total PurgeResult
	before := workflow.Now(ctx).Add(-in.Retention)
	batch := in.BatchSize
	if batch <= 0 {
		batch = 100
	}
	ctx = withRetries(ctx, 5*time.Minute)
	for i := 0; i < 50; i++ {
		var codes []string
		if err := workflow.ExecuteActivity(ctx, retention.Expired, activities.ExpiredInput{Before: before, Limit: batch}).Get(ctx, &codes); err != nil {
			return total, err
		}
		if len(codes) == 0 {
			if workflow.GetVersion(ctx, "retention-sweeps", workflow.DefaultVersion, 1) == 1 {
				sweep := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
					StartToCloseTimeout: time.Hour, // it lists the whole documents bucket
					HeartbeatTimeout:    2 * time.Minute,
					RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Minute, MaximumAttempts: 3},
				})
				orphans := activities.OrphansInput{Before: workflow.Now(ctx).Add(-24 * time.Hour), Limit: 1000}
				if err := workflow.ExecuteActivity(sweep, retention.SweepOrphans, orphans).Get(ctx, &total.Orphans); err != nil {
					// Orphans wait for tomorrow's run; the purge itself is done.
					workflow.GetLogger(ctx).Warn("sweep of orphaned documents failed", "err", err)
				}
				if in.DraftsKept > 0 {
					drafts := activities.DraftsInput{Before: workflow.Now(ctx).Add(-in.DraftsKept), Limit: 500}
					if err := workflow.ExecuteActivity(sweep, retention.ExpireDrafts, drafts).Get(ctx, &total.Drafts); err != nil {
						workflow.GetLogger(ctx).Warn("expiry of abandoned drafts failed", "err", err)
					}
				}
			}
			return total, nil
		}
		var res activities.PurgeResult
		if err := workflow.ExecuteActivity(ctx, retention.Purge, codes).Get(ctx, &res); err != nil {
			return total, err
		}
		total.Requests += res.Requests
		total.Documents += res.Documents
	}
	return total, workflow.NewContinueAsNewError(ctx, Purge, in)
}

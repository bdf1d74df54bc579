package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
)

// PurgeInput says how long finished requests keep their personal data.
type PurgeInput struct {
	Retention time.Duration
	BatchSize int
}

// PurgeResult reports what one run purged.
type PurgeResult struct {
	Requests  int
	Documents int
}

// PurgeScheduleID is the Temporal Schedule that runs Purge daily.
const PurgeScheduleID = "consular-retention-purge"

var retention *activities.Retention

// Purge deletes the documents and personal data of requests finished longer
// ago than the retention period, in batches; a Temporal Schedule runs it
// every day. Each batch is idempotent, so a retried or overlapping run only
// finds less to do. After many batches it continues as new, keeping its
// history short.
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

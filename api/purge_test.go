package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/workflows"
)

// The retention purge on the real stack, run by the worker binary: with a
// retention nothing has outlived, it purges no request and deletes none of
// an open request's documents, and it sweeps the documents bucket for
// orphans (none a day old here) and the drafts for abandoned ones. Its
// history is recorded by make histories for the replay test.
func TestRetentionPurgeRunsOnTheRealStack(t *testing.T) {
	s := startSystem(t, nil)
	ctx := context.Background()
	sub := s.mustSubmit(drivingLicenceInquiry(t, email(t)))
	s.waitStatus(sub.TrackingCode, "awaiting_appointment", 30*time.Second)
	before := s.objectsOf(sub.TrackingCode)

	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("purge-%d", time.Now().UnixNano()), TaskQueue: s.queue},
		workflows.Purge, workflows.PurgeInput{Retention: 100 * 365 * 24 * time.Hour, BatchSize: 10, DraftsKept: 100 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var res workflows.PurgeResult
	if err := run.Get(wait, &res); err != nil {
		t.Fatal(err)
	}
	if res != (workflows.PurgeResult{}) {
		t.Errorf("purged %+v with a century's retention, want nothing", res)
	}
	if after := s.objectsOf(sub.TrackingCode); len(after) != len(before) || len(after) == 0 {
		t.Errorf("the open request's documents: %v before the purge, %v after", before, after)
	}
	history := string(s.history(run.GetID(), "purge"))
	for _, want := range []string{`"markerName": "Version"`, `"SweepOrphans"`, `"ExpireDrafts"`} {
		if !strings.Contains(history, want) {
			t.Errorf("the purge's history lacks %s (the versioned sweeps of orphaned documents and abandoned drafts)", want)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows"
)

// The worker, as main registers it, runs a request on the real Temporal
// server and keeps the PostgreSQL projection and the search attributes in step.
func TestWorkerRunsARequestToItsDeadlineOnTheRealServer(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	temporal := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	w := worker.New(temporal, queue, worker.Options{})
	register(w, &activities.Projection{DB: db})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	code := fmt.Sprintf("T-%d", time.Now().UnixNano())
	run, err := temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: code, TaskQueue: queue}, workflows.Request,
		workflows.RequestInput{TrackingCode: code, ServiceCode: "passport", MissionCode: "AT-VIE",
			SubmittedAt: time.Now(), Policy: workflows.Policy{Deadline: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var result workflows.RequestResult
	if err := run.Get(ctx, &result); err != nil {
		t.Fatal(err)
	}
	if result.Status != consular.StatusArchived {
		t.Fatalf("ended %s, want archived", result.Status)
	}
	var status string
	if err := db.QueryRow(ctx, "SELECT status FROM requests WHERE tracking_code = $1", code).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != string(consular.StatusArchived) {
		t.Fatalf("projection says %s, want archived", status)
	}
	desc, err := temporal.DescribeWorkflow(ctx, code, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := desc.TypedSearchAttributes.GetKeyword(workflows.StatusAttribute); got != string(consular.StatusArchived) {
		t.Fatalf("search attribute RequestStatus = %q, want archived", got)
	}
}

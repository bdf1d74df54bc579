package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows"
)

// The purge's schedule is made once; a worker started later with other
// retention settings changes the schedule's input to them and keeps what an
// operator changed (here: paused).
func TestPurgeScheduleFollowsTheConfiguration(t *testing.T) {
	ctx := context.Background()
	c := testenv.Temporal(t)
	id := fmt.Sprintf("purge-schedule-%d", time.Now().UnixNano())
	cfg := testenv.Config(t)
	cfg.Temporal.TaskQueue = testenv.TaskQueue(t)
	if err := ensurePurgeSchedule(ctx, c, id, cfg); err != nil {
		t.Fatal(err)
	}
	h := c.ScheduleClient().GetHandle(ctx, id)
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	if err := h.Pause(ctx, client.SchedulePauseOptions{Note: "an operator"}); err != nil {
		t.Fatal(err)
	}

	cfg.Requests.PurgeAfter, cfg.Requests.DraftsKept = 400*24*time.Hour, 14*24*time.Hour
	if err := ensurePurgeSchedule(ctx, c, id, cfg); err != nil {
		t.Fatal(err)
	}
	desc, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !desc.Schedule.State.Paused {
		t.Error("the operator's pause was undone")
	}
	action := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	payloads, err := codec.New(cfg.Keys.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var in workflows.PurgeInput
	if err := payloads.DataConverter().FromPayload(action.Args[0].(*commonpb.Payload), &in); err != nil {
		t.Fatal(err)
	}
	if in.Retention != 400*24*time.Hour || in.DraftsKept != 14*24*time.Hour {
		t.Errorf("schedule input %+v, want the new configuration's", in)
	}
}

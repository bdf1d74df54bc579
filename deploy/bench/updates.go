package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/internal/config"
)

// updateCeiling sends Updates to idle workflows: the one thing a booking
// asks of Temporal, with nothing of ours around it (ceiling U). A worker in
// this process, with default options like the system's, runs a workflow that
// only waits and answers an update whose validator accepts it. Update latency
// grows with the number of Updates a workflow has received (temporalio/
// temporal issue 6512), and a request's workflow receives one booking: so
// consecutive Updates go to different workflows of a pool started
// beforehand, round-robin, and each takes only a few in the whole run.
//
// The same workflow has a second update whose handler runs two no-op
// activities one after the other before it completes: the shape of the
// booking Update (projection, then mail), without any of their work (U2).
type updateCeiling struct {
	client  client.Client
	worker  worker.Worker
	queue   string
	runID   string
	pool    []string // idle workflows' IDs
	spread  int      // the Updates of a measurement go round-robin to the first spread workflows of the pool
	name    string   // the update the measurement sends
	level   string   // tells this measurement's update IDs from others'
	next    atomic.Int64
	started atomic.Int64 // workflows that ran their first task

	mu   sync.Mutex
	slow []slowUpdate // over slowUpdate, since the last take
}

const (
	idleWorkflowName  = "BenchIdle"
	benchUpdateName   = "touch"
	shapedUpdateName  = "touch_with_activities"
	slowUpdateAfter   = time.Second
	idleWorkflowCount = 400
)

type slowUpdate struct {
	workflowID, updateID string
	begin                time.Time
	took                 time.Duration
}

// idleStarted counts idle workflows' first runs in this process, so the
// bench can wait until every one is parked before timing anything.
var idleStarted atomic.Int64

type touchInput struct{ N int }

type touchResult struct{ N int }

// noop is an activity that does nothing.
func noop(context.Context, touchInput) error { return nil }

func idleWorkflow(ctx workflow.Context) error {
	n := 0
	validator := workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, in touchInput) error {
		if in.N < 0 {
			return errors.New("negative")
		}
		return nil
	}}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, benchUpdateName,
		func(ctx workflow.Context, in touchInput) (touchResult, error) {
			n++
			return touchResult{N: n}, nil
		}, validator); err != nil {
		return err
	}
	acts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.SetUpdateHandlerWithOptions(ctx, shapedUpdateName,
		func(ctx workflow.Context, in touchInput) (touchResult, error) {
			n++
			for range 2 {
				if err := workflow.ExecuteActivity(acts, noop, in).Get(ctx, nil); err != nil {
					return touchResult{}, err
				}
			}
			return touchResult{N: n}, nil
		}, validator); err != nil {
		return err
	}
	if !workflow.IsReplaying(ctx) {
		idleStarted.Add(1)
	}
	// Waits until the workflow's run timeout ends it.
	return workflow.Await(ctx, func() bool { return false })
}

func newUpdateCeiling(cfg config.Temporal, runID string) (*updateCeiling, error) {
	// A plain client, like ceiling A's: the raw server's rate.
	c, err := client.Dial(client.Options{HostPort: cfg.Address, Namespace: cfg.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Address, err)
	}
	u := &updateCeiling{client: c, queue: "bench-idle-" + runID, runID: runID}
	u.worker = worker.New(c, u.queue, worker.Options{})
	u.worker.RegisterWorkflowWithOptions(idleWorkflow, workflow.RegisterOptions{Name: idleWorkflowName})
	u.worker.RegisterActivity(noop)
	if err := u.worker.Start(); err != nil {
		c.Close()
		return nil, fmt.Errorf("start the idle workflows' worker: %w", err)
	}
	return u, nil
}

// fill starts idle workflows until the pool holds n, from 16 goroutines,
// and waits until each has run its first task and waits for updates.
func (u *updateCeiling) fill(ctx context.Context, n int) error {
	have := len(u.pool)
	if n <= have {
		return nil
	}
	ids := make([]string, n-have)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-idle-%s-%d", u.runID, have+i)
	}
	if err := parallel(ctx, 16, len(ids), func(ctx context.Context, i int) error {
		_, err := u.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: u.queue,
			WorkflowRunTimeout: time.Hour}, idleWorkflowName)
		return err
	}); err != nil {
		return fmt.Errorf("start idle workflows: %w", err)
	}
	u.pool = append(u.pool, ids...)
	deadline := time.Now().Add(2 * time.Minute)
	for idleStarted.Load() < int64(len(u.pool)) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d idle workflows ran their first task after 2 minutes", idleStarted.Load(), len(u.pool))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// rewind starts the next measurement, of update name, at the first
// workflow of the pool, spreading its Updates round-robin over the first
// spread workflows (all when spread is 0).
func (u *updateCeiling) rewind(name, level string, spread int) {
	u.next.Store(0)
	u.name, u.level = name, level
	u.spread = len(u.pool)
	if spread > 0 {
		u.spread = min(spread, len(u.pool))
	}
	u.mu.Lock()
	u.slow = nil
	u.mu.Unlock()
}

// update sends one Update and waits until the workflow has completed it.
func (u *updateCeiling) update(ctx context.Context) error {
	i := u.next.Add(1) - 1
	id := u.pool[i%int64(u.spread)]
	updateID := fmt.Sprintf("%s-%s-%d", u.name, u.level, i)
	begin := time.Now()
	h, err := u.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateID: updateID, UpdateName: u.name,
		Args: []any{touchInput{N: int(i)}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		var out touchResult
		err = h.Get(ctx, &out)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if took := time.Since(begin); took > slowUpdateAfter {
		u.mu.Lock()
		u.slow = append(u.slow, slowUpdate{workflowID: id, updateID: updateID, begin: begin, took: took})
		u.mu.Unlock()
	}
	return nil
}

// perWorkflow is the most Updates one workflow took in the last measurement.
func (u *updateCeiling) perWorkflow() int {
	n := u.next.Load()
	return int((n + int64(u.spread) - 1) / int64(u.spread))
}

// takeSlow hands back the Updates slower than slowUpdateAfter, slowest first.
func (u *updateCeiling) takeSlow() []slowUpdate {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.slow
	u.slow = nil
	slices.SortFunc(s, func(a, b slowUpdate) int { return int(b.took - a.took) })
	return s
}

// explain reads a slow Update's workflow history and says where its time
// went: from the client's call to the workflow task that carried it (time
// in the server before the task existed), the task's wait for the worker,
// the worker's turn, and from completion back to the client; and whether a
// workflow task of it timed out or failed, or left the sticky queue.
func explain(ctx context.Context, c client.Client, s slowUpdate) (string, error) {
	events, err := history(ctx, c, s.workflowID)
	if err != nil {
		return "", err
	}
	accepted := -1
	var completed time.Time
	for i, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			if e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetMeta().GetUpdateId() == s.updateID {
				accepted = i
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			if e.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId() == s.updateID {
				completed = e.GetEventTime().AsTime()
			}
		}
	}
	if accepted < 0 || completed.IsZero() {
		return "update not found in the history", nil
	}
	// The workflow task that accepted it, and any earlier attempts of that task.
	from := accepted
	for from > 0 && events[from].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED {
		from--
	}
	var scheduled, started, done time.Time
	var notes []string
	for i := from; i <= accepted; i++ {
		e := events[i]
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			scheduled = at
			if q := e.GetWorkflowTaskScheduledEventAttributes().GetTaskQueue().GetKind(); q != enumspb.TASK_QUEUE_KIND_STICKY {
				notes = append(notes, "task on the "+strings.ToLower(strings.TrimPrefix(q.String(), "TASK_QUEUE_KIND_"))+" queue")
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			started = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			done = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			notes = append(notes, "task timed out: "+e.GetWorkflowTaskTimedOutEventAttributes().GetTimeoutType().String())
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			notes = append(notes, "task failed: "+e.GetWorkflowTaskFailedEventAttributes().GetCause().String())
		}
	}
	// Earlier tasks of the same Update that timed out sit just before it.
	for i := from - 1; i >= 0; i-- {
		t := events[i].GetEventType()
		if t == enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT {
			notes = append(notes, "an earlier task timed out: "+events[i].GetWorkflowTaskTimedOutEventAttributes().GetTimeoutType().String())
		} else if t != enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED && t != enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED {
			break
		}
	}
	out := fmt.Sprintf("in the server before its workflow task %s, task waiting for the worker %s, worker %s, accepted to completed %s, completed to the client %s",
		ms(scheduled.Sub(s.begin)), ms(started.Sub(scheduled)), ms(done.Sub(started)),
		ms(completed.Sub(events[accepted].GetEventTime().AsTime())), ms(s.begin.Add(s.took).Sub(completed)))
	// The longest wait between two events of this Update.
	var gap time.Duration
	var gapFrom, gapTo string
	for i := from + 1; i < len(events); i++ {
		if d := events[i].GetEventTime().AsTime().Sub(events[i-1].GetEventTime().AsTime()); d > gap {
			gap, gapFrom, gapTo = d, events[i-1].GetEventType().String(), events[i].GetEventType().String()
		}
		if events[i].GetEventTime().AsTime().Equal(completed) {
			break
		}
	}
	if gap > 0 {
		out += fmt.Sprintf("; longest wait %s, from %s to %s", ms(gap), eventName(gapFrom), eventName(gapTo))
	}
	if len(notes) > 0 {
		out += "; " + strings.Join(notes, "; ")
	}
	return out, nil
}

func eventName(s string) string { return strings.TrimPrefix(s, "EVENT_TYPE_") }

// history is a workflow's whole history.
func history(ctx context.Context, c client.Client, workflowID string) ([]*historypb.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		events = append(events, e)
	}
	return events, nil
}

func (u *updateCeiling) close() {
	u.worker.Stop()
	u.client.Close()
}

// parallel runs do(i) for i in [0, n) from at most width goroutines and
// returns the first error.
func parallel(ctx context.Context, width, n int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return first
}

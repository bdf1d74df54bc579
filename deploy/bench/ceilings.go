package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/storage"
)

// ceilings are what a submission and a booking ask of the servers, with
// nothing of ours around them, measured on the same servers in the same
// run: a submission starts a workflow (A) and puts three documents into
// MinIO (B); a booking sends one Update to a waiting workflow (U). A worker
// in this process, with default options, runs the workflows on a task
// queue of their own. A plain client, without the payload codec the API
// uses: this is the raw servers' rate.
type ceilings struct {
	temporal client.Client
	worker   worker.Worker
	queue    string
	runID    string
	seq      atomic.Int64

	idle    []string // waiting workflows, which ceiling U updates round-robin
	next    atomic.Int64
	parked  atomic.Int64 // idle workflows that ran their first task
	objects *minio.Client
	bucket  string
	docs    [][]byte
}

const (
	emptyWorkflow = "BenchEmpty"
	idleWorkflow  = "BenchIdle"
	touch         = "touch"
	// idleWorkflows receive ceiling U's Updates round-robin, each only a
	// few in the whole run: Update latency grows with the Updates a
	// workflow has received (temporalio/temporal issue 6512), and a
	// request's workflow receives one booking.
	idleWorkflows = 400
)

func newCeilings(ctx context.Context, cfg config.Config, runID string, docs [][]byte) (*ceilings, error) {
	c, err := client.Dial(client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Temporal.Address, err)
	}
	t := &ceilings{temporal: c, queue: "bench-" + runID, runID: runID, bucket: "bench-ceiling-" + runID, docs: docs}
	t.worker = worker.New(c, t.queue, worker.Options{})
	t.worker.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: emptyWorkflow})
	t.worker.RegisterWorkflowWithOptions(t.idleWorkflow, workflow.RegisterOptions{Name: idleWorkflow})
	if err := t.worker.Start(); err != nil {
		c.Close()
		return nil, fmt.Errorf("start the ceilings' worker: %w", err)
	}
	if t.objects, err = storage.New(cfg.Storage); err == nil {
		err = storage.EnsureBuckets(ctx, t.objects, t.bucket)
	}
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *ceilings) close() {
	t.worker.Stop()
	t.temporal.Close()
}

// start starts one empty workflow and returns once the server has accepted
// it, without waiting for it to run, as the submit endpoint does (A).
func (t *ceilings) start(ctx context.Context) error {
	id := fmt.Sprintf("bench-empty-%s-%d", t.runID, t.seq.Add(1))
	_, err := t.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: t.queue}, emptyWorkflow)
	return err
}

// put stores one submission's worth of documents, one after the other, as
// the submit endpoint does (B).
func (t *ceilings) put(ctx context.Context) error {
	n := t.seq.Add(1)
	for i, kind := range loadkit.DocumentKinds {
		key := fmt.Sprintf("%d/%s.jpg", n, kind)
		if _, err := t.objects.PutObject(ctx, t.bucket, key, bytes.NewReader(t.docs[i]), int64(len(t.docs[i])),
			minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	return nil
}

// idleWorkflow waits (until its run timeout) and answers Updates whose
// validator accepts them, as the request workflow does a booking.
func (t *ceilings) idleWorkflow(ctx workflow.Context) error {
	n := 0
	if err := workflow.SetUpdateHandlerWithOptions(ctx, touch, func(ctx workflow.Context, k int) (int, error) {
		n++
		return n, nil
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, k int) error {
		if k < 0 {
			return errors.New("negative")
		}
		return nil
	}}); err != nil {
		return err
	}
	if !workflow.IsReplaying(ctx) {
		t.parked.Add(1)
	}
	return workflow.Await(ctx, func() bool { return false })
}

// park starts the idle workflows and waits until each waits for Updates.
func (t *ceilings) park(ctx context.Context) error {
	t.idle = make([]string, idleWorkflows)
	for i := range t.idle {
		t.idle[i] = fmt.Sprintf("bench-idle-%s-%d", t.runID, i)
	}
	if err := parallel(ctx, 16, len(t.idle), func(ctx context.Context, i int) error {
		_, err := t.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: t.idle[i], TaskQueue: t.queue,
			WorkflowRunTimeout: time.Hour}, idleWorkflow)
		return err
	}); err != nil {
		return fmt.Errorf("start idle workflows: %w", err)
	}
	for deadline := time.Now().Add(2 * time.Minute); t.parked.Load() < int64(len(t.idle)); {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d idle workflows ran their first task after 2 minutes", t.parked.Load(), len(t.idle))
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// update sends one Update to the next idle workflow and waits until it is
// completed (U).
func (t *ceilings) update(ctx context.Context) error {
	i := t.next.Add(1) - 1
	id := t.idle[i%int64(len(t.idle))]
	h, err := t.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateID: fmt.Sprintf("touch-%d", i),
		UpdateName: touch, Args: []any{int(i)}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		var n int
		err = h.Get(ctx, &n)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	return nil
}

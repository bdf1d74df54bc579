package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/storage"
)

// temporalCeiling starts empty workflows: the one thing the submit endpoint
// asks of Temporal, with nothing of ours around it. A worker in this process
// runs them on a task queue of their own, so they complete as the API's
// would begin to, and the history of each stays two tasks long.
type temporalCeiling struct {
	client client.Client
	worker worker.Worker
	queue  string
	runID  string
	seq    atomic.Int64
}

const emptyWorkflowName = "BenchEmpty"

func emptyWorkflow(workflow.Context) error { return nil }

func newTemporalCeiling(cfg config.Temporal, runID string) (*temporalCeiling, error) {
	// A plain client, without the payload codec the API uses: an empty
	// workflow has no payload to encrypt, and this is the raw server's rate.
	c, err := client.Dial(client.Options{HostPort: cfg.Address, Namespace: cfg.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Address, err)
	}
	t := &temporalCeiling{client: c, queue: "bench-empty-" + runID, runID: runID}
	t.worker = worker.New(c, t.queue, worker.Options{})
	t.worker.RegisterWorkflowWithOptions(emptyWorkflow, workflow.RegisterOptions{Name: emptyWorkflowName})
	if err := t.worker.Start(); err != nil {
		c.Close()
		return nil, fmt.Errorf("start the empty workflows' worker: %w", err)
	}
	return t, nil
}

// start starts one workflow and returns once the server has accepted it,
// without waiting for it to run, as the submit endpoint does.
func (t *temporalCeiling) start(ctx context.Context) error {
	id := fmt.Sprintf("bench-empty-%s-%d", t.runID, t.seq.Add(1))
	if _, err := t.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: t.queue}, emptyWorkflowName); err != nil {
		return fmt.Errorf("start workflow: %w", err)
	}
	return nil
}

func (t *temporalCeiling) close() {
	t.worker.Stop()
	t.client.Close()
}

// minioCeiling puts one submission's worth of documents, three of about
// 200 KB one after the other, as the submit endpoint stores them.
type minioCeiling struct {
	client *minio.Client
	bucket string
	docs   [][]byte
	seq    atomic.Int64
}

func newMinioCeiling(ctx context.Context, cfg config.Storage, runID string, docs [][]byte) (*minioCeiling, error) {
	c, err := storage.New(cfg)
	if err != nil {
		return nil, err
	}
	m := &minioCeiling{client: c, bucket: "bench-ceiling-" + runID, docs: docs}
	if err := storage.EnsureBuckets(ctx, c, m.bucket); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *minioCeiling) put(ctx context.Context) error {
	n := m.seq.Add(1)
	for i, kind := range documentKinds {
		doc := m.docs[(int(n)+i)%len(m.docs)]
		key := fmt.Sprintf("%d/%s.jpg", n, kind)
		if _, err := m.client.PutObject(ctx, m.bucket, key, bytes.NewReader(doc), int64(len(doc)),
			minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	return nil
}

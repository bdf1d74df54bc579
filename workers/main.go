// Command workers runs the Temporal worker: it polls the request task queue
// and executes the request workflows and their activities. On SIGINT or
// SIGTERM it stops polling and lets running activities finish.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/logging"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/metrics"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/internal/tracing"
	"github.com/openconsular/consular/workflows"
)

func main() {
	cfg := config.ForProgram()
	logger := logging.ForProgram(cfg.Log.Format, cfg.Log.Level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("worker failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	db, err := database.Open(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	tr, err := tracing.Start(ctx, cfg.Tracing, "consular-worker", logger)
	if err != nil {
		return err
	}
	defer shutdownTracing(tr)
	temporal, err := temporalclient.New(cfg.Temporal, cfg.Keys.Payload, logger, metrics.TemporalHandler(), tr.TemporalInterceptors()...)
	if err != nil {
		return err
	}
	defer temporal.Close()

	// Workflows waiting on their 90-day timers need no memory: only those
	// active lately stay in the sticky cache; the others replay when woken.
	worker.SetStickyWorkflowCacheSize(cfg.Temporal.StickyCacheSize)
	w := worker.New(temporal, cfg.Temporal.TaskQueue, worker.Options{
		WorkerStopTimeout:                       cfg.HTTP.ShutdownTimeout,
		MaxConcurrentWorkflowTaskPollers:        cfg.Temporal.WorkflowPollers,
		MaxConcurrentActivityTaskPollers:        cfg.Temporal.ActivityPollers,
		MaxConcurrentActivityExecutionSize:      cfg.Temporal.MaxActivities,
		MaxConcurrentLocalActivityExecutionSize: cfg.Temporal.MaxActivities,
	})
	objects, err := storage.New(cfg.Storage)
	if err != nil {
		return err
	}
	register(w, cfg, db, objects, mail.New(cfg.Mail))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	logger.Info("worker polling", "task_queue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace)
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"alive"}`)) })
	probe := &http.Server{Addr: cfg.HTTP.WorkerAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := probe.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("worker /metrics and /healthz not served", "addr", cfg.HTTP.WorkerAddr, "err", err)
		}
	}()
	defer probe.Close()
	if err := ensurePurgeSchedule(ctx, temporal, workflows.PurgeScheduleID, cfg); err != nil {
		logger.Error("retention purge schedule not set up or not brought in line with the configuration (another worker may have updated it at the same moment)", "schedule", workflows.PurgeScheduleID, "err", err)
	}
	<-ctx.Done()
	logger.Info("worker stopping: no new tasks; running activities may finish", "timeout", cfg.HTTP.ShutdownTimeout)
	w.Stop()
	logger.Info("worker stopped")
	return nil
}

// shutdownTracing sends the spans still buffered (nil: tracing off).
func shutdownTracing(tr *tracing.Tracing) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tr.Shutdown(ctx)
}

// ensurePurgeSchedule creates the daily retention purge's Temporal Schedule
// (id) unless it exists. An existing one keeps what operators may have
// changed (paused, other times), but its input follows the configuration:
// a changed CONSULAR_PURGE_AFTER or CONSULAR_DRAFTS_KEPT applies from the
// next run.
func ensurePurgeSchedule(ctx context.Context, c client.Client, id string, cfg config.Config) error {
	input := workflows.PurgeInput{Retention: cfg.Requests.PurgeAfter, BatchSize: 100, DraftsKept: cfg.Requests.DraftsKept}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{Hour: []client.ScheduleRange{{Start: 3}}}}},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{ID: "retention-purge", Workflow: workflows.Purge, TaskQueue: cfg.Temporal.TaskQueue,
			Args: []any{input}},
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			action, ok := in.Description.Schedule.Action.(*client.ScheduleWorkflowAction)
			if !ok {
				return nil, fmt.Errorf("schedule %s does not start a workflow: left as it is", id)
			}
			action.Args = []any{input}
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
}

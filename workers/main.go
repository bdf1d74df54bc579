// Command workers runs the Temporal worker: it polls the request task queue
// and executes the request workflows and their activities. On SIGINT or
// SIGTERM it stops polling and lets running activities finish.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/logging"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/temporalclient"
)

func main() {
	cfg, err := config.FromEnvironment()
	if err != nil {
		fmt.Fprintf(os.Stderr, "configuration:\n%v\n", err)
		os.Exit(2)
	}
	logger := logging.New(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	slog.SetDefault(logger)
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
	temporal, err := temporalclient.New(cfg.Temporal, cfg.Keys.Payload, logger)
	if err != nil {
		return err
	}
	defer temporal.Close()

	w := worker.New(temporal, cfg.Temporal.TaskQueue, worker.Options{
		WorkerStopTimeout: cfg.HTTP.ShutdownTimeout,
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
	<-ctx.Done()
	logger.Info("worker stopping: no new tasks; running activities may finish", "timeout", cfg.HTTP.ShutdownTimeout)
	w.Stop()
	logger.Info("worker stopped")
	return nil
}

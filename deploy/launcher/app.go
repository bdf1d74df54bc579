package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
)

// app is the project's own processes under make dev.
type app struct {
	publicURL string
	procs     []*stack.Process
}

// startApp builds the worker and the API from the working tree, starts them
// against the stack and waits until the worker polls and /readyz answers 200.
func startApp(ctx context.Context, s *stack.Stack, dir string, env []string, base config.Config) (*app, error) {
	bin := filepath.Join(dir, "bin")
	for _, pkg := range []string{"api", "workers"} {
		if err := goBuild(ctx, filepath.Join(bin, pkg), "./"+pkg); err != nil {
			return nil, err
		}
	}
	a := &app{publicURL: base.HTTP.PublicURL}
	if v := envValue(env, "CONSULAR_PUBLIC_URL"); v != "" {
		a.publicURL = v
	}

	workerCmd := exec.Command(filepath.Join(bin, "workers"))
	workerCmd.Env = env
	worker, err := s.StartCommand("worker", workerCmd)
	if err != nil {
		return nil, err
	}
	a.procs = append(a.procs, worker)
	temporal, err := client.Dial(client.Options{HostPort: s.Temporal.Address(), Namespace: s.Temporal.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, err
	}
	defer temporal.Close()
	if err := worker.WaitFor(ctx, time.Minute, func(ctx context.Context) error {
		resp, err := temporal.DescribeTaskQueue(ctx, base.Temporal.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return err
		}
		// The server remembers pollers for minutes: look for this worker's
		// identity (pid@host), not a previous run's.
		for _, p := range resp.Pollers {
			if strings.HasPrefix(p.GetIdentity(), fmt.Sprintf("%d@", worker.Pid())) {
				return nil
			}
		}
		return fmt.Errorf("the worker does not poll task queue %s yet", base.Temporal.TaskQueue)
	}); err != nil {
		return nil, err
	}

	apiCmd := exec.Command(filepath.Join(bin, "api"))
	apiCmd.Env = env
	api, err := s.StartCommand("api", apiCmd)
	if err != nil {
		return nil, err
	}
	a.procs = append(a.procs, api)
	if err := api.WaitFor(ctx, time.Minute, stack.HTTPOK("http://"+base.HTTP.Addr+"/readyz")); err != nil {
		return nil, err
	}
	return a, nil
}

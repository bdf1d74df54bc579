package main

import (
	"context"
	"path/filepath"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
)

// app is the project's own processes under make dev.
type app struct {
	publicURL string
	procs     []*stack.Process
}

// startApp builds the worker and the API from the working tree and runs them
// against the stack; the stack stops them first when it stops.
func startApp(ctx context.Context, s *stack.Stack, dir string, env []string, base config.Config) (*app, error) {
	bin := filepath.Join(dir, "bin")
	if err := stack.BuildApp(ctx, bin); err != nil {
		return nil, err
	}
	running, err := stack.StartApp(ctx, stack.AppOptions{Bin: bin, LogDir: filepath.Join(dir, "logs"), Env: env,
		HTTPAddr: base.HTTP.Addr, Temporal: s.Temporal.Address(), Namespace: s.Temporal.Namespace, TaskQueue: base.Temporal.TaskQueue})
	if err != nil {
		return nil, err
	}
	s.Adopt(running.Worker, running.API)
	a := &app{publicURL: base.HTTP.PublicURL, procs: []*stack.Process{running.Worker, running.API}}
	if v := envValue(env, "CONSULAR_PUBLIC_URL"); v != "" {
		a.publicURL = v
	}
	return a, nil
}

package stack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
)

// BuildApp compiles the API and the worker from the working tree into dir.
func BuildApp(ctx context.Context, dir string) error {
	for _, pkg := range []string{"api", "workers"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, pkg), "github.com/openconsular/consular/"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./%s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

// AppOptions say how to run the API and the worker.
type AppOptions struct {
	Bin       string   // where BuildApp put them
	LogDir    string   // api.log and worker.log go here
	Env       []string // their whole environment (CONSULAR_* variables)
	HTTPAddr  string   // CONSULAR_HTTP_ADDR, to probe /readyz
	Temporal  string   // address, to see the worker poll
	Namespace string
	TaskQueue string
}

// App is the API and the worker running.
type App struct {
	API    *Process
	Worker *Process
}

// StartApp starts the worker, waits until it polls its task queue, starts the
// API and waits until /readyz answers 200. On failure nothing is left running.
func StartApp(ctx context.Context, o AppOptions) (*App, error) {
	start := func(name string) (*Process, error) {
		cmd := exec.Command(filepath.Join(o.Bin, name))
		cmd.Env = o.Env
		return StartProcess(name, filepath.Join(o.LogDir, name+".log"), cmd)
	}
	worker, err := start("workers")
	if err != nil {
		return nil, err
	}
	temporal, err := client.Dial(client.Options{HostPort: o.Temporal, Namespace: o.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		worker.Kill()
		return nil, err
	}
	defer temporal.Close()
	if err := worker.WaitFor(ctx, time.Minute, func(ctx context.Context) error {
		resp, err := temporal.DescribeTaskQueue(ctx, o.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
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
		return fmt.Errorf("the worker does not poll task queue %s yet", o.TaskQueue)
	}); err != nil {
		worker.Kill()
		return nil, err
	}
	api, err := start("api")
	if err != nil {
		worker.Kill()
		return nil, err
	}
	if err := api.WaitFor(ctx, time.Minute, HTTPOK("http://"+o.HTTPAddr+"/readyz")); err != nil {
		api.Kill()
		worker.Kill()
		return nil, err
	}
	return &App{API: api, Worker: worker}, nil
}

// Stop stops the API, then the worker, each with SIGTERM.
func (a *App) Stop() error {
	errAPI := a.API.Stop(StopTimeout)
	errWorker := a.Worker.Stop(StopTimeout)
	if errAPI != nil {
		return errAPI
	}
	return errWorker
}

// Kill ends both at once.
func (a *App) Kill() {
	a.API.Kill()
	a.Worker.Kill()
}

// RSS is a process's resident memory now, and its peak, in bytes (Linux).
func (p *Process) RSS() (now, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			now = kb << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			peak = kb << 10
		}
	}
	return now, peak, nil
}

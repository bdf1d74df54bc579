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
	r, err := StartReplicas(ctx, o, []Replica{{Name: "workers"}}, []Replica{{Name: "api", HTTPAddr: o.HTTPAddr}})
	if err != nil {
		return nil, err
	}
	return &App{API: r.APIs[0], Worker: r.Workers[0]}, nil
}

// Replica is one process of the API or the worker: its name (and log
// file), and the listener it must not share with its siblings.
type Replica struct {
	Name     string
	HTTPAddr string // the API's CONSULAR_HTTP_ADDR, or the worker's CONSULAR_WORKER_HTTP_ADDR
}

// Replicas are several workers and APIs from the same build, as a
// deployment runs them.
type Replicas struct {
	Workers []*Process
	APIs    []*Process
}

// All lists the processes, workers first.
func (r *Replicas) All() []*Process { return append(append([]*Process{}, r.Workers...), r.APIs...) }

// StartReplicas starts the workers, waits until each polls the task queue,
// then starts the APIs and waits until each answers /readyz. On failure
// nothing is left running.
func StartReplicas(ctx context.Context, o AppOptions, workers, apis []Replica) (_ *Replicas, err error) {
	r := &Replicas{}
	defer func() {
		if err != nil {
			for _, p := range r.All() {
				p.Kill()
			}
		}
	}()
	start := func(bin string, rep Replica, addrVar string) (*Process, error) {
		cmd := exec.Command(filepath.Join(o.Bin, bin))
		cmd.Env = o.Env
		if rep.HTTPAddr != "" {
			cmd.Env = append(append([]string{}, o.Env...), addrVar+"="+rep.HTTPAddr)
		}
		return StartProcess(rep.Name, filepath.Join(o.LogDir, rep.Name+".log"), cmd)
	}
	temporal, err := client.Dial(client.Options{HostPort: o.Temporal, Namespace: o.Namespace,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, err
	}
	defer temporal.Close()
	for _, rep := range workers {
		worker, err := start("workers", rep, "CONSULAR_WORKER_HTTP_ADDR")
		if err != nil {
			return nil, err
		}
		r.Workers = append(r.Workers, worker)
	}
	for _, worker := range r.Workers {
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
			return nil, err
		}
	}
	for _, rep := range apis {
		api, err := start("api", rep, "CONSULAR_HTTP_ADDR")
		if err != nil {
			return nil, err
		}
		r.APIs = append(r.APIs, api)
	}
	for i, api := range r.APIs {
		addr := apis[i].HTTPAddr
		if addr == "" {
			addr = o.HTTPAddr
		}
		if err := api.WaitFor(ctx, time.Minute, HTTPOK("http://"+addr+"/readyz")); err != nil {
			return nil, err
		}
	}
	return r, nil
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

package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is one server the stack started.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	stopSig syscall.Signal
	done    chan struct{}
	err     error
}

// StartProcess starts one of the project's own programs (the API, the
// worker) with its output in logPath; Stop sends it SIGTERM.
func StartProcess(name, logPath string, cmd *exec.Cmd) (*Process, error) {
	return startProcess(name, logPath, syscall.SIGTERM, cmd)
}

// startProcess starts cmd with its output in logPath. The child gets its own
// process group, so a Ctrl-C in the terminal reaches only the launcher, which
// then stops the servers in order; and it is killed if the launcher dies.
func startProcess(name, logPath string, stopSig syscall.Signal, cmd *exec.Cmd) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, stopSig: stopSig, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StopTimeout is how long a server gets to stop before it is killed.
const StopTimeout = 20 * time.Second

// Err waits for the process to end and says how: nil for exit status 0.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stop asks the process to finish, and kills it after timeout.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, timeout)
	}
}

// Kill ends the process at once, as a crash would.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitFor polls ready until it succeeds, the process exits, or timeout passes.
func (p *Process) WaitFor(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Name, p.err, p.LogPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v; see %s", p.Name, timeout, last, p.LogPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// HTTPOK is a readiness check: GET url answers 200.
func HTTPOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// FreePort asks the kernel for a port nobody listens on.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portInUse reports whether something already listens on port.
func portInUse(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

var errPortTaken = errors.New("port already in use")

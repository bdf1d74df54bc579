package stack

import (
	"context"
	"fmt"
	"slices"
)

// ServerNames are the names of the stack's servers, as LogPath, StopServer
// and StartServer know them ("postgres", "temporal" or "temporal-history"
// and its siblings, "minio", "mailpit", ...), sorted.
func (s *Stack) ServerNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name := range s.servers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// StopServer stops one server gracefully, as an operator or an orchestrator
// would (SIGTERM; PostgreSQL SIGINT, its fast shutdown; killed after
// StopTimeout), and leaves its data: StartServer starts it again. The soak
// uses the pair for its faults.
func (s *Stack) StopServer(name string) error {
	p := s.running(name)
	if p == nil {
		return fmt.Errorf("%s is not running", name)
	}
	return p.Stop(StopTimeout)
}

// StartServer starts a server StopServer stopped, on the same port and data
// (its log is appended to, so it tells both lives), and waits until it
// answers as at the stack's start. Stop then stops it in its old place in
// the order.
func (s *Stack) StartServer(ctx context.Context, name string) error {
	s.mu.Lock()
	srv := s.servers[name]
	s.mu.Unlock()
	if srv == nil {
		return fmt.Errorf("the stack has no server %q (it has %v)", name, s.ServerNames())
	}
	if p := s.running(name); p != nil {
		return fmt.Errorf("%s is running already (pid %d)", name, p.Pid())
	}
	p, err := srv.Start(ctx, s.LogPath(name))
	if err != nil {
		return fmt.Errorf("start %s again: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.procs {
		if old.Name == name {
			s.procs[i] = p
			return nil
		}
	}
	s.procs = append(s.procs, p)
	return nil
}

// running is the server's process while it runs, or nil.
func (s *Stack) running(name string) *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.Name == name && !p.Exited() {
			return p
		}
	}
	return nil
}

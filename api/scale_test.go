package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/testenv"
)

// Three worker processes share the task queue; one is killed (SIGKILL) in
// the middle of a run of requests. Every request still reaches its state and
// its applicant gets exactly one receipt.
func TestRequestsSurviveAWorkerKilledMidRun(t *testing.T) {
	s := startSystem(t, nil) // the API and a first worker
	bin := binaries(t)
	var extra []*stack.Process
	for i := 0; i < 2; i++ {
		port, _ := stack.FreePort()
		cmd := exec.Command(filepath.Join(bin, "workers"))
		cmd.Env = append(s.env(), fmt.Sprintf("CONSULAR_WORKER_HTTP_ADDR=127.0.0.1:%d", port))
		p, err := stack.StartProcess(fmt.Sprintf("worker-%d", i+2), filepath.Join(s.logs, fmt.Sprintf("worker-%d.log", i+2)), cmd)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		extra = append(extra, p)
	}
	const requests = 150
	codes := make([]string, requests)
	for i := range codes {
		if i == requests/3 {
			extra[0].Kill() // mid-run, as a crash would
		}
		codes[i] = s.quickRequest(testenv.NationalID())
	}
	for _, code := range codes {
		s.waitStatus(code, "awaiting_appointment", 3*time.Minute)
	}
	// The projection says awaiting_appointment before the receipt is mailed
	// (a retried send can come seconds later): wait for each receipt, then
	// give a duplicate time to arrive.
	mp := testenv.Mail(t)
	receipts := func(code string) int { return len(mp.Search(t, `to:"`+code+`@example.org"`)) }
	deadline := time.Now().Add(time.Minute)
	for _, code := range codes {
		for receipts(code) == 0 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second)
	for _, code := range codes {
		if n := receipts(code); n != 1 {
			t.Errorf("request %s: %d receipt emails, want exactly 1", code, n)
		}
	}
	if !extra[0].Exited() || extra[1].Exited() {
		t.Fatal("the killed worker is running, or the third one died")
	}
}

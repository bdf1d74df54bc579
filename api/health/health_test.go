package health

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Anyone may call /readyz: however many do, the dependencies see one probe
// per MaxAge, and an outage still shows within it.
func TestReadinessProbesAreSharedAndCachedBriefly(t *testing.T) {
	var probes atomic.Int32
	var down atomic.Bool
	h := &Handlers{Timeout: time.Second, MaxAge: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Checks: []Check{{Name: "smtp", Probe: func(context.Context) error {
			probes.Add(1)
			time.Sleep(50 * time.Millisecond) // an SMTP greeting takes a while
			if down.Load() {
				return errors.New("connection refused")
			}
			return nil
		}}}}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if r := h.Current(context.Background()); r.Status != "ready" {
				t.Errorf("report %+v, want ready", r)
			}
		})
	}
	wg.Wait()
	if n := probes.Load(); n != 1 {
		t.Fatalf("50 callers at once made %d probes, want 1", n)
	}
	down.Store(true)
	if r := h.Current(context.Background()); r.Status != "ready" || probes.Load() != 1 {
		t.Fatalf("within MaxAge: %+v after %d probes, want the cached ready", r, probes.Load())
	}
	time.Sleep(250 * time.Millisecond)
	if r := h.Current(context.Background()); r.Status != "degraded" || r.Checks["smtp"].Status != "unavailable" {
		t.Fatalf("after MaxAge with SMTP down: %+v, want degraded naming smtp", r)
	}
}

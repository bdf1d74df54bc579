package web

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// However many pages send mail at once, no more than the outbox's slots
// run: a caller waits for one, and past its wait the message is dropped
// instead of another goroutine piling up behind a slow SMTP server.
func TestOutboxRunsAtMostItsSlotsAndDropsPastTheWait(t *testing.T) {
	o := NewOutbox(2, 50*time.Millisecond, time.Second)
	release := make(chan struct{})
	var running, most, ran atomic.Int32
	send := func(context.Context) error {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
		ran.Add(1)
		return nil
	}
	for i := 0; i < 5; i++ {
		o.Send(context.Background(), "test", send)
	}
	close(release)
	if err := o.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if most.Load() != 2 || ran.Load() != 2 {
		t.Fatalf("%d sends ran, at most %d at once; want 2 and 2 (the rest dropped after waiting)", ran.Load(), most.Load())
	}

	// A slot that frees within the wait is taken: nothing is dropped.
	release = make(chan struct{})
	ran.Store(0)
	o.Send(context.Background(), "test", send)
	o.Send(context.Background(), "test", send)
	go func() { time.Sleep(10 * time.Millisecond); close(release) }()
	o.Send(context.Background(), "test", send)
	if err := o.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 3 {
		t.Fatalf("%d of 3 sends ran", ran.Load())
	}
}

// A send outlives the request that queued it (its context is cancelled once
// the answer has gone) but not its own deadline.
func TestOutboxSendsAfterTheRequestEnds(t *testing.T) {
	o := NewOutbox(1, time.Second, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	o.Send(ctx, "test", func(ctx context.Context) error {
		got <- ctx.Err()
		_, ok := ctx.Deadline()
		if !ok {
			t.Error("a send has no deadline")
		}
		return nil
	})
	cancel()
	if err := <-got; err != nil {
		t.Fatalf("the send saw the request's end: %v", err)
	}
}

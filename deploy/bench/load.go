package main

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
)

// op is one client's unit of work: a workflow start, a submission, a booking.
type op func(ctx context.Context) error

// errExhausted is what an operation returns when what it works on, prepared
// beforehand (requests to book, seats), is used up: its client stops, and
// the measurement ends when every client has; the report says so.
var errExhausted = errors.New("nothing left to work on")

// opTimeout bounds every single operation, so a stuck server fails a
// measurement instead of hanging the bench.
const opTimeout = 30 * time.Second

// result is one measurement: a number of clients in a closed loop for a while.
type result struct {
	clients  int
	ok       int
	failed   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // of successful operations, sorted
	cpu      cpuSample       // used during the timed part
	short    bool            // ended early: an operation had nothing left to work on
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// pct is the p-th quantile (0 < p <= 1) of sorted latencies, nearest rank.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(lat))*p)) - 1
	return lat[max(0, min(i, len(lat)-1))]
}

func (r result) p50() time.Duration { return pct(r.lat, 0.50) }
func (r result) p99() time.Duration { return pct(r.lat, 0.99) }

// load runs do from clients goroutines, each starting its next operation as
// soon as the last one ends, for d. Each client first runs one untimed
// operation, so connection set-up and first-use costs are not measured;
// started is called between that warm-up and the timed part. Operations in
// flight when d ends are waited for and counted, and the elapsed time
// includes them, so the rate is not flattered.
func load(ctx context.Context, clients int, d time.Duration, do op, started func()) result {
	type tally struct {
		lat    []time.Duration
		failed int
		err    error
		done   bool
	}
	once := func(t *tally) {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		begin := time.Now()
		err := do(ctx)
		switch {
		case err == nil:
			t.lat = append(t.lat, time.Since(begin))
		case errors.Is(err, errExhausted):
			t.done = true
		default:
			t.failed++
			t.err = cmp.Or(t.err, err)
			// A server that refuses at once would otherwise be hammered in a tight loop.
			sleep(ctx, 20*time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() { once(&tally{}) })
	}
	wg.Wait()
	if started != nil {
		started()
	}
	tallies := make([]tally, clients)
	begin := time.Now()
	deadline := begin.Add(d)
	for i := range tallies {
		wg.Go(func() {
			for ctx.Err() == nil && !tallies[i].done && time.Now().Before(deadline) {
				once(&tallies[i])
			}
		})
	}
	wg.Wait()
	r := result{clients: clients, elapsed: time.Since(begin)}
	for _, t := range tallies {
		r.short = r.short || t.done
		r.lat = append(r.lat, t.lat...)
		r.failed += t.failed
		r.firstErr = cmp.Or(r.firstErr, t.err)
	}
	r.ok = len(r.lat)
	slices.Sort(r.lat)
	return r
}

// parallel runs do(i) for i in [0, n) from at most width goroutines and
// returns the first error.
func parallel(ctx context.Context, width, n int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	loadkit.Each(width, n, func(i int) {
		if ctx.Err() == nil {
			if err := do(ctx, i); err != nil {
				cancel(err)
			}
		}
	})
	return context.Cause(ctx)
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

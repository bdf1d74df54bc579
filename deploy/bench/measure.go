package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/openconsular/consular/internal/config"
)

// level is the submissions' measurements at one number of clients.
type level struct {
	clients                   int
	floor, start, put, submit result
	cost
}

// bookingLevel is the bookings' measurements at one number of clients.
type bookingLevel struct {
	clients      int
	update, book result
	cost
	steps   []step // where a booking's time goes, medians
	sampled int
	cont    *contended
}

// cost is a load's whole CPU: from the start of its timed part until the
// worker had sent every email it owed, and that wait after the load.
type cost struct {
	allIn   cpuSample
	drained time.Duration
	behind  int // emails still missing when the bench stopped waiting
}

type report struct {
	opts      options
	idle      float64 // cores of other work before the bench began
	stackIdle float64 // cores the stack used then, idle: part of every request's CPU
	levels    []level
	bookings  []bookingLevel
	peak      map[string]int64
	profiles  []string
}

// bench is one run: the stack, the ceilings, the system, the bookings.
type bench struct {
	o    options
	sys  *system
	ceil *ceilings
	bk   *bookings
	rep  *report
}

// measure runs everything in one order: per level the floor, the ceilings
// and the system back to back, so the ratios compare figures taken within
// seconds of each other on a noisy machine.
func measure(ctx context.Context, o options) (*report, error) {
	cfg, err := config.FromEnvironment()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	stackDir := os.Getenv("CONSULAR_TEST_STACK")
	if stackDir == "" {
		return nil, errors.New("no test stack: run `make bench`")
	}
	dir, err := os.MkdirTemp(stackDir, "bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	progress("building and starting the API and the worker")
	b := &bench{o: o, rep: &report{opts: o}}
	if b.sys, err = startSystem(ctx, stackDir, dir, runID, o.profileDir != ""); err != nil {
		return nil, err
	}
	defer func() { b.sys.stop(ctx.Err() == nil) }()
	if b.ceil, err = newCeilings(ctx, cfg, runID, b.sys.docs); err != nil {
		return nil, err
	}
	defer b.ceil.close()
	b.bk = &bookings{sys: b.sys, ready: make(chan applicant, 1<<16)}
	if err := b.run(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, errors.New("interrupted")
		}
		return nil, fmt.Errorf("%w\n--- api log ---\n%s\n--- worker log ---\n%s", err,
			tail(filepath.Join(b.sys.logs, "api.log"), 15), tail(filepath.Join(b.sys.logs, "workers.log"), 15))
	}
	b.rep.peak = b.sys.cpu().peak
	progress("stopping the API and the worker")
	return b.rep, nil
}

func (b *bench) run(ctx context.Context) error {
	// The machine is shared: note what else it was doing before we began.
	before := b.sys.cpu()
	sleep(ctx, 2*time.Second)
	idle := b.sys.cpu().minus(before)
	b.rep.idle, b.rep.stackIdle = idle.other()/2, idle.stack()/2
	for _, n := range b.o.clients {
		if !b.o.parts["submissions"] {
			break
		}
		if err := b.submissions(ctx, n); err != nil {
			return err
		}
	}
	if !b.o.parts["bookings"] {
		return nil
	}
	progress("ceiling U: starting %d idle workflows", idleWorkflows)
	if err := b.ceil.park(ctx); err != nil {
		return err
	}
	for _, n := range b.o.clients {
		if err := b.bookings(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// timed runs one load and charges it the CPU used while it was timed;
// started, if any, runs when the timed part begins.
func (b *bench) timed(ctx context.Context, n int, do op, started func()) result {
	var before cpuSample
	r := load(ctx, n, b.o.duration, do, func() {
		before = b.sys.cpu()
		if started != nil {
			started()
		}
	})
	r.cpu = b.sys.cpu().minus(before)
	return r
}

func (b *bench) submissions(ctx context.Context, n int) (err error) {
	lv := level{clients: n}
	progress("%d client(s): GET /healthz, Temporal starts, MinIO puts, submissions, %s each", n, b.o.duration)
	lv.floor = b.timed(ctx, n, b.sys.healthz, nil)
	lv.start = b.timed(ctx, n, b.ceil.start, nil)
	lv.put = b.timed(ctx, n, b.ceil.put, nil)
	if lv.submit, lv.cost, err = b.system(ctx, n, b.sys.submit, "submission", nil); err == nil {
		b.rep.levels = append(b.rep.levels, lv)
	}
	return err
}

// system measures a load of the system (submissions, bookings): timed, with
// CPU profiles at the aim's level, then its whole cost.
func (b *bench) system(ctx context.Context, n int, do op, what string, started func()) (result, cost, error) {
	var c cost
	var before cpuSample
	wait := func() error { return nil }
	r := b.timed(ctx, n, do, func() {
		if started != nil {
			started()
		}
		before = b.sys.cpu()
		wait = b.profile(ctx, n, what)
	})
	if err := wait(); err != nil {
		return r, c, err
	}
	if r.ok == 0 {
		return r, c, fmt.Errorf("no %s succeeded with %d client(s): %v", what, n, r.firstErr)
	}
	progress("  %s %.1f/s (p99 %.0f ms); waiting for the worker to send their emails", what, r.rate(), ms(r.p99()))
	var err error
	c.drained, c.behind, err = b.sys.drain(ctx, b.o.drain)
	c.allIn = b.sys.cpu().minus(before)
	return r, c, err
}

// bookingsWanted is how many requests a level of bookings gets: the rate
// to expect (the last level's and half again; for the first, U's, at most
// 30/s) for the duration and half again, plus each client's warm-up.
// Running out ends the measurement early, which the report says.
func (b *bench) bookingsWanted(n int, u result) int {
	expect := min(u.rate(), 30) // more than bookings did at 8 clients here
	if k := len(b.rep.bookings); k > 0 {
		expect = b.rep.bookings[k-1].book.rate() * 1.5
	}
	return int(math.Ceil(expect*b.o.duration.Seconds()*1.5)) + n
}

func (b *bench) bookings(ctx context.Context, n int) error {
	bl := bookingLevel{clients: n}
	progress("%d client(s): ceiling U, Updates on idle workflows, %s", n, b.o.duration)
	bl.update = b.timed(ctx, n, b.ceil.update, nil)
	want := b.bookingsWanted(n, bl.update)
	progress("%d client(s): %d requests to book, waiting until each can be booked", n, want)
	if err := b.bk.fill(ctx, want, b.o.drain); err != nil {
		return err
	}
	progress("%d client(s): bookings, a request and a free seat each, %s", n, b.o.duration)
	var err error
	if bl.book, bl.cost, err = b.system(ctx, n, b.bk.book, "booking", func() { b.bk.take() }); err != nil {
		return err
	}
	if bl.steps, bl.sampled, err = medianSteps(ctx, b.ceil.temporal, b.bk.take(), 20); err != nil {
		return fmt.Errorf("where a booking's time goes: %w", err)
	}
	if n > 1 && b.o.rounds > 0 {
		progress("%d client(s): contended, all at once on one slot, %d rounds", n, b.o.rounds)
		c, err := b.bk.contend(ctx, n, b.o.rounds, b.o.drain)
		if err != nil {
			return err
		}
		bl.cont = &c
		if _, _, err := b.sys.drain(ctx, b.o.drain); err != nil {
			return err
		}
	}
	b.rep.bookings = append(b.rep.bookings, bl)
	return nil
}

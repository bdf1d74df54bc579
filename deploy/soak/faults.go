package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openconsular/consular/deploy/stack"
)

// fault is one thing done to the stack while the clients submit, undone
// after down: a server stopped and started again on the same port and data,
// or the APIs and workers restarted one at a time (a rolling deployment,
// all of it in start). A fault of an essential dependency (PostgreSQL)
// expects code 503 from /readyz.
type fault struct {
	name     string        // the server, as the report names it
	check    string        // the /readyz check that should name it meanwhile; "" when none should (rolling)
	also     []string      // checks that may be named too, since they depend on it
	code     int           // /readyz's status code meanwhile: 200 "degraded" for a shared dependency
	down     time.Duration // from stopped to started again
	starting time.Duration // about how long start takes here, for spreading the submissions
	stop     func(context.Context) error
	start    func(context.Context) error

	at                                  time.Duration // planned stop, from the start of the submissions
	stopAt, stoppedAt, startAt, readyAt time.Time
	err                                 error
	note                                string // what the fault itself saw, for the report
}

// faults are this soak's, in order. On the dev stack: Mailpit, MinIO, then
// the Temporal dev server (longer than the SDK's 10 s call timeout, so some
// submissions are saved but their workflow start fails, and their clients'
// retries take the API's "start it now" path); Mailpit must keep, across its
// restart, the messages it held. On the production-shaped stack: PostgreSQL
// (the app's database and Temporal's persistence and visibility at once),
// the Temporal history service, then a rolling restart of the APIs and the
// workers.
func (r *rig) faults(o options, mail *mailCheck) []*fault {
	if r.cluster {
		pg := r.restart(serverPostgres, "postgres", o.outage)
		pg.code, pg.also, pg.starting = http.StatusServiceUnavailable, []string{"temporal"}, 3*time.Second
		history := r.restart(serverHistory, "temporal", o.temporalDown)
		history.starting = 10 * time.Second
		return plan(o.lead, o.gap, []*fault{pg, history, r.rolling()})
	}
	mailpit := r.restart(serverMailpit, "smtp", o.outage)
	stop, start := mailpit.stop, mailpit.start
	mailpit.stop = func(ctx context.Context) error { return cmp.Or(mail.before(ctx), stop(ctx)) }
	mailpit.start = func(ctx context.Context) error { return cmp.Or(start(ctx), mail.after(ctx)) }
	temporal := r.restart(serverTemporal, "temporal", o.temporalDown)
	temporal.starting = 8 * time.Second // the dev server on its SQLite file
	return plan(o.lead, o.gap, []*fault{mailpit, r.restart(serverMinIO, "minio", o.outage), temporal})
}

// restart is the fault of a server of the stack stopped gracefully
// (SIGTERM, as an operator or an orchestrator would) and started again.
func (r *rig) restart(server, check string, down time.Duration) *fault {
	return &fault{name: server, check: check, code: http.StatusOK, down: down,
		stop:  func(context.Context) error { return r.st.StopServer(server) },
		start: func(ctx context.Context) error { return r.st.StartServer(ctx, server) }}
}

// rollPause is how long a restarted replica runs before the next one
// stops, as a Deployment's minReadySeconds would have it; it also keeps the
// rollout long enough for submissions to meet it.
const rollPause = 3 * time.Second

// rolling is a rolling restart of the APIs, then the workers, one at a
// time, each waited for until ready (an API answering /readyz 200, a worker
// polling) and rollPause before the next stops, as a Deployment's rollout
// does. Nothing /readyz checks goes down: through the proxy it should say
// 200 throughout.
func (r *rig) rolling() *fault {
	replicas := len(r.apis) + len(r.workers)
	f := &fault{name: "rolling restart", code: http.StatusOK, starting: time.Duration(replicas) * (rollPause + 3*time.Second),
		stop: func(context.Context) error { return nil }}
	f.start = func(ctx context.Context) error {
		var took []string
		for i, rep := range append(append([]stack.Replica{}, r.apis...), r.workers...) {
			began := time.Now()
			if err := r.restartReplica(ctx, rep, i >= len(r.apis)); err != nil {
				return err
			}
			took = append(took, fmt.Sprintf("%s %.1fs", rep.Name, time.Since(began).Seconds()))
			progress("fault: %s restarted and ready", rep.Name)
			if i < replicas-1 && !sleepUntil(ctx, time.Now().Add(rollPause)) {
				return ctx.Err()
			}
		}
		f.note = fmt.Sprintf("one at a time, %s apart; each stopped, started and ready in: %s", rollPause, strings.Join(took, ", "))
		return nil
	}
	return f
}

// plan lays the faults out one after the other: the first after lead,
// each next one gap after the last is due back.
func plan(lead, gap time.Duration, faults []*fault) []*fault {
	at := lead
	for _, f := range faults {
		f.at = at
		at += f.down + f.starting + gap
	}
	return faults
}

// submissionWindow is how long the submissions are spread over: to the
// planned end of the last fault, plus tail.
func submissionWindow(faults []*fault, tail time.Duration) time.Duration {
	last := faults[len(faults)-1]
	return last.at + last.down + last.starting + tail
}

// done says whether the fault ran to its end: stopped and started again.
func (f *fault) done() bool { return f.err == nil && !f.readyAt.IsZero() }

// window is the fault as the /readyz analysis needs it.
func (f *fault) window(next time.Time) outageWindow {
	return outageWindow{check: f.check, also: f.also, code: f.code, stopAt: f.stopAt, stoppedAt: f.stoppedAt, readyAt: f.readyAt, next: next}
}

// runFaults runs the faults at their planned times from begin. A server that
// took long to come back pushes the next fault so that at least minGap
// separates them, so /readyz has time to say 200 in between. It stops at the
// first fault that cannot be undone: the rig is broken then.
func runFaults(ctx context.Context, faults []*fault, begin time.Time, minGap time.Duration) error {
	var prevReady time.Time
	for _, f := range faults {
		at := begin.Add(f.at)
		if !prevReady.IsZero() && at.Before(prevReady.Add(minGap)) {
			at = prevReady.Add(minGap)
		}
		if !sleepUntil(ctx, at) {
			return ctx.Err()
		}
		progress("fault: %s (stopped for %s)", f.name, f.down)
		f.stopAt = time.Now()
		if f.err = f.stop(ctx); f.err != nil {
			return fmt.Errorf("stop %s: %w", f.name, f.err)
		}
		f.stoppedAt = time.Now()
		if !sleepUntil(ctx, f.stoppedAt.Add(f.down)) {
			return ctx.Err()
		}
		progress("fault: starting %s again", f.name)
		f.startAt = time.Now()
		if f.err = f.start(ctx); f.err != nil {
			return fmt.Errorf("start %s: %w", f.name, f.err)
		}
		f.readyAt = time.Now()
		progress("fault: %s is back after %.1fs (start took %.1fs)", f.name, f.readyAt.Sub(f.stopAt).Seconds(), f.readyAt.Sub(f.startAt).Seconds())
		prevReady = f.readyAt
	}
	return nil
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(t)):
		return true
	}
}

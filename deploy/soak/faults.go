package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"time"
)

// fault is one thing done to the stack while the clients submit, undone
// after down: a server stopped and started again on the same port and data.
// Another kind (a rolling restart of the APIs and workers) is another entry
// of the list faults returns, with its own stop and start; a fault of an
// essential dependency (PostgreSQL) expects code 503 from /readyz.
type fault struct {
	name  string        // the server, as the report names it
	check string        // the /readyz check that should name it meanwhile
	code  int           // /readyz's status code meanwhile: 200 "degraded" for a shared dependency
	down  time.Duration // from stopped to started again
	stop  func(context.Context) error
	start func(context.Context) error

	at                                  time.Duration // planned stop, from the start of the submissions
	stopAt, stoppedAt, startAt, readyAt time.Time
	err                                 error
	note                                string // what the fault itself saw, for the report
}

// faults are this soak's, in order: Mailpit, MinIO, then Temporal (longer
// than the SDK's 10 s call timeout, so some submissions are saved but their
// workflow start fails, and their clients' retries take the API's "start it
// now" path). Mailpit must keep, across its restart, the messages it held.
func (r *rig) faults(o options, mail *mailCheck) []*fault {
	mailpit := r.restart(serverMailpit, "smtp", o.outage)
	stop, start := mailpit.stop, mailpit.start
	mailpit.stop = func(ctx context.Context) error { return cmp.Or(mail.before(ctx), stop(ctx)) }
	mailpit.start = func(ctx context.Context) error { return cmp.Or(start(ctx), mail.after(ctx)) }
	return plan(o.lead, o.gap, []*fault{
		mailpit,
		r.restart(serverMinIO, "minio", o.outage),
		r.restart(serverTemporal, "temporal", o.temporalDown),
	})
}

// restart is the fault of a server of the rig stopped gracefully (SIGTERM,
// as an operator or an orchestrator would) and started again.
func (r *rig) restart(server, check string, down time.Duration) *fault {
	return &fault{name: server, check: check, code: http.StatusOK, down: down,
		stop:  func(context.Context) error { return r.stopServer(server) },
		start: func(ctx context.Context) error { return r.start(ctx, server) }}
}

// plan lays the faults out one after the other: the first after lead,
// each next one gap after the last is due back.
func plan(lead, gap time.Duration, faults []*fault) []*fault {
	at := lead
	for _, f := range faults {
		f.at = at
		at += f.down + gap
	}
	return faults
}

// temporalStartEstimate is about how long the Temporal dev server takes to
// start on its SQLite file here; the submissions are spread to cover it.
const temporalStartEstimate = 8 * time.Second

// submissionWindow is how long the submissions are spread over: to the
// planned end of the last fault, plus tail.
func submissionWindow(faults []*fault, tail time.Duration) time.Duration {
	last := faults[len(faults)-1]
	return last.at + last.down + temporalStartEstimate + tail
}

// done says whether the fault ran to its end: stopped and started again.
func (f *fault) done() bool { return f.err == nil && !f.readyAt.IsZero() }

// window is the fault as the /readyz analysis needs it.
func (f *fault) window(next time.Time) outageWindow {
	return outageWindow{check: f.check, code: f.code, stopAt: f.stopAt, stoppedAt: f.stoppedAt, readyAt: f.readyAt, next: next}
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
		progress("fault: stopping %s for %s", f.name, f.down)
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

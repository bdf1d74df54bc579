package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// fault is one dependency stopped and started again on the same port and data.
type fault struct {
	server string        // rig server name
	check  string        // the /readyz check that should name it while it is down
	code   int           // /readyz's status code meanwhile: 200 "degraded" for a shared dependency
	at     time.Duration // planned stop, from the start of the submissions
	down   time.Duration // how long it stays stopped

	stopAt, stoppedAt, startAt, readyAt time.Time
	err                                 error

	// Mailpit only: the messages it held just before the stop, and those of
	// them still there once it is back (its SQLite file is kept).
	mailBefore, mailKept int
}

// window is the fault as the /readyz analysis needs it.
func (f *fault) window(next time.Time) outageWindow {
	return outageWindow{check: f.check, code: f.code, stopAt: f.stopAt, stoppedAt: f.stoppedAt, readyAt: f.readyAt, next: next}
}

// done says whether the fault ran to its end: stopped and started again.
func (f *fault) done() bool { return f.err == nil && !f.readyAt.IsZero() }

// planFaults lays the three faults out: Mailpit after lead, MinIO gap after
// Mailpit is due back, Temporal gap after MinIO is due back.
func planFaults(lead, outage, gap, temporalDown time.Duration) []*fault {
	return []*fault{
		{server: serverMailpit, check: "smtp", code: http.StatusOK, at: lead, down: outage},
		{server: serverMinIO, check: "minio", code: http.StatusOK, at: lead + outage + gap, down: outage},
		{server: serverTemporal, check: "temporal", code: http.StatusOK, at: lead + 2*(outage+gap), down: temporalDown},
	}
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

// runFaults runs the faults at their planned times from begin. A server that
// took long to come back pushes the next fault so that at least minGap
// separates them, so /readyz has time to say 200 in between. It stops at the
// first server that does not come back: the rig is broken then.
func runFaults(ctx context.Context, r *rig, mp *mailpit, faults []*fault, begin time.Time, minGap time.Duration) error {
	var prevReady time.Time
	for _, f := range faults {
		at := begin.Add(f.at)
		if !prevReady.IsZero() && at.Before(prevReady.Add(minGap)) {
			at = prevReady.Add(minGap)
		}
		if !sleepUntil(ctx, at) {
			return ctx.Err()
		}
		var before []mailSummary
		if f.server == serverMailpit {
			var err error
			if before, err = mp.all(ctx); err != nil {
				f.err = fmt.Errorf("list Mailpit's messages before the stop: %w", err)
				return f.err
			}
			f.mailBefore = len(before)
		}
		progress("fault: stopping %s for %s", f.server, f.down)
		f.stopAt = time.Now()
		if err := r.stopServer(f.server); err != nil {
			f.err = fmt.Errorf("stop %s: %w", f.server, err)
			return f.err
		}
		f.stoppedAt = time.Now()
		if !sleepUntil(ctx, f.stoppedAt.Add(f.down)) {
			return ctx.Err()
		}
		progress("fault: starting %s again", f.server)
		f.startAt = time.Now()
		if err := r.start(ctx, f.server); err != nil {
			f.err = err
			return err
		}
		f.readyAt = time.Now()
		progress("fault: %s is back after %.1fs (start took %.1fs)", f.server, f.readyAt.Sub(f.stopAt).Seconds(), f.readyAt.Sub(f.startAt).Seconds())
		if f.server == serverMailpit {
			after, err := mp.all(ctx)
			if err != nil {
				f.err = fmt.Errorf("list Mailpit's messages after the restart: %w", err)
				return f.err
			}
			have := map[string]bool{}
			for _, m := range after {
				have[m.ID] = true
			}
			for _, m := range before {
				if have[m.ID] {
					f.mailKept++
				}
			}
		}
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

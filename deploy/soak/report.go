package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is everything a run saw.
type report struct {
	opts       options
	dir        string
	subs       []*submission
	faults     []*fault
	window     time.Duration // the submissions were spread over it
	begin      time.Time     // the first submission was due
	submitted  time.Time     // the last submission got its answer (or was given up)
	drained    time.Time     // the drain ended
	notDrained []string      // requests not in their state when the drain gave up
	samples    []sample      // every /readyz answer
	checks     []check
	strays     []string // objects of the documents bucket under no accepted request
	// receiptDelays are from each submission to its receipt sent, slowest last.
	receiptDelays []receiptDelay
	brokenOff     string // why the run stopped before the checks
}

func (r *report) passed() bool {
	if r.brokenOff != "" || len(r.checks) == 0 {
		return false
	}
	for _, c := range r.checks {
		if !c.pass {
			return false
		}
	}
	return true
}

// faultServer names the server whose fault failed.
func (r *report) faultServer(error) string {
	for _, f := range r.faults {
		if f.err != nil {
			return f.server
		}
	}
	return "api"
}

// at is a moment as seconds from the first submission.
func (r *report) at(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("+%.1fs", t.Sub(r.begin).Seconds())
}

// during says which fault's window [stop, back] holds t, or "".
func (r *report) during(start, end time.Time) string {
	for _, f := range r.faults {
		if f.stopAt.IsZero() {
			continue
		}
		back := f.readyAt
		if back.IsZero() {
			back = time.Now()
		}
		if start.Before(back) && end.After(f.stopAt) {
			return f.server
		}
	}
	return ""
}

// next is when the fault after f began, or zero.
func (r *report) next(i int) time.Time {
	if i+1 < len(r.faults) {
		return r.faults[i+1].stopAt
	}
	return time.Time{}
}

func (r *report) inFlight() check {
	c := check{name: "submissions in flight during each fault"}
	var parts []string
	c.pass = true
	for _, f := range r.faults {
		n := 0
		for _, s := range r.subs {
			for _, a := range s.attempts {
				if r.during(a.start, a.end) == f.server {
					n++
					break
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d", f.server, n))
		if n == 0 {
			c.pass = false
			c.items = append(c.items, "no submission was in flight while "+f.server+" was down: spread them differently (-requests, -lead, -tail)")
		}
	}
	c.detail = strings.Join(parts, ", ")
	return c
}

func (r *report) readyzChecks() []check {
	var out []check
	for i, f := range r.faults {
		c := check{name: fmt.Sprintf("/readyz answered %d naming %s while %s was down, and ready after", f.code, f.check, f.server)}
		if !f.done() {
			c.detail = "the fault did not run to its end"
			out = append(out, c)
			continue
		}
		o := seen(r.samples, f.window(r.next(i)))
		c.pass = o.ok()
		c.detail = fmt.Sprintf("%d of %d answers while surely down named it", o.naming, o.inWindow)
		if len(o.others) > 0 {
			c.items = append(c.items, "also named while it was down: "+strings.Join(o.others, ", "))
		}
		if o.firstSeen.IsZero() {
			c.items = append(c.items, "never named")
		}
		if o.recovered.IsZero() {
			c.items = append(c.items, "not ready again after it was back")
		}
		out = append(out, c)
	}
	return out
}

func (r *report) drainCheck() check {
	c := check{name: fmt.Sprintf("every request settled within -drain %s (%s with its receipt sent and no activity pending, or finished)", r.opts.drain, expected),
		pass: len(r.notDrained) == 0, items: r.notDrained}
	last := r.faults[len(r.faults)-1]
	c.detail = fmt.Sprintf("%.1fs after %s was back, %d not settled", r.drained.Sub(last.readyAt).Seconds(), last.server, len(r.notDrained))
	return c
}

func (r *report) mailpitKept() check {
	c := check{name: "Mailpit kept the messages it held across its restart (SQLite file)"}
	for _, f := range r.faults {
		if f.server == serverMailpit && f.done() {
			c.pass = f.mailKept == f.mailBefore
			c.detail = fmt.Sprintf("%d of %d kept", f.mailKept, f.mailBefore)
		}
	}
	return c
}

func (r *report) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	o := r.opts
	p("\nconsular soak: %d requests from %d clients spread over %s; Mailpit and MinIO each stopped %s, Temporal restarted (%s down)\n",
		len(r.subs), o.clients, r.window.Round(time.Second), o.outage, o.temporalDown)
	p("times are from the first submission; data and logs: %s\n", r.dir)

	// Submissions.
	acc := accepted(r.subs)
	created, replayed, retriedSubs, failedAttempts := 0, 0, 0, 0
	byAnswer, byFault := map[string]int{}, map[string]int{}
	for _, s := range r.subs {
		if s.code != "" && s.created {
			created++
		} else if s.code != "" {
			replayed++
		}
		failed := 0
		for _, a := range s.attempts {
			if a.ok() {
				continue
			}
			failed++
			answer := "no answer"
			if a.status != 0 {
				answer = fmt.Sprint(a.status)
			}
			byAnswer[answer]++
			where := r.during(a.start, a.end)
			if where == "" {
				where = "no fault"
			}
			byFault[where]++
		}
		if failed > 0 {
			retriedSubs++
		}
		failedAttempts += failed
	}
	p("\nsubmissions\n")
	p("  accepted                 %d of %d (201 Created: %d; 200 on a retry, the first attempt's request: %d)\n", len(acc), len(r.subs), created, replayed)
	p("  answered with an error   %d attempts of %d submissions, each retried with its Idempotency-Key\n", failedAttempts, retriedSubs)
	if failedAttempts > 0 {
		p("    by answer              %s\n", counts(byAnswer))
		p("    by fault               %s\n", counts(byFault))
		examples := map[string]bool{} // one per distinct error, a few in all
		for _, s := range r.subs {
			for _, a := range s.attempts {
				if e := firstLine(a.detail); !a.ok() && len(examples) < 4 && !examples[e] {
					examples[e] = true
					p("    e.g. %-9s %d: %.200s\n", r.at(a.start), a.status, e)
				}
			}
		}
	}
	if !r.submitted.IsZero() {
		p("  last answer              %s\n", r.at(r.submitted))
	}

	// Faults and what /readyz said.
	p("\nfaults                     stopped    gone       back       /readyz first named last named ready again\n")
	for i, f := range r.faults {
		if f.stopAt.IsZero() {
			p("  %-24s not run\n", f.server)
			continue
		}
		o := seen(r.samples, f.window(r.next(i)))
		delay := func(from, to time.Time) string {
			if from.IsZero() || to.IsZero() {
				return "never"
			}
			return fmt.Sprintf("%s (%+.1fs)", r.at(to), to.Sub(from).Seconds())
		}
		p("  %-24s %-10s %-10s %-10s %-19s %-10s %s\n", fmt.Sprintf("%s (%s)", f.server, f.check), r.at(f.stopAt), r.at(f.stoppedAt), r.at(f.readyAt),
			delay(f.stopAt, o.firstSeen), r.at(o.lastSeen), delay(f.readyAt, o.recovered))
		if f.err != nil {
			p("    failed: %v\n", f.err)
		}
	}
	p("  (first named: delay from the stop signal; ready again: delay from the server answering again)\n")
	p("\n/readyz transitions (%d answers, one every %s at most)\n", len(r.samples), o.readyzEvery)
	for _, t := range transitions(r.samples) {
		p("  %-9s %s\n", r.at(t.at), t.state)
	}

	if r.brokenOff != "" {
		p("\nBROKEN OFF: %s\n", r.brokenOff)
		return
	}
	last := r.faults[len(r.faults)-1]
	if !r.drained.IsZero() {
		if len(r.notDrained) == 0 {
			p("\ndrain: every request settled (%s with its receipt sent and no activity pending, or finished) at %s, %.1fs after %s was back (the last fault), %.1fs after the last submission\n",
				expected, r.at(r.drained), r.drained.Sub(last.readyAt).Seconds(), last.server, r.drained.Sub(r.submitted).Seconds())
		} else {
			p("\ndrain: gave up at %s (-drain %s after the last submission) with %d requests not settled:\n", r.at(r.drained), o.drain, len(r.notDrained))
			for _, s := range head(r.notDrained, 10) {
				p("    %s\n", s)
			}
		}
	}

	if n := len(r.receiptDelays); n > 0 {
		q := func(f float64) time.Duration {
			return r.receiptDelays[min(n-1, int(f*float64(n)))].took.Round(100 * time.Millisecond)
		}
		p("  from submission to receipt sent: p50 %s, p90 %s, max %s; slowest:", q(0.5), q(0.9), r.receiptDelays[n-1].took.Round(100*time.Millisecond))
		for _, d := range r.receiptDelays[max(0, n-3):] {
			p(" %s (%s)", d.code, d.took.Round(100*time.Millisecond))
		}
		p("\n")
	}

	p("\nchecks\n")
	for _, c := range r.checks {
		verdict := "PASS"
		if !c.pass {
			verdict = "FAIL"
		}
		p("  %s  %s\n        %s\n", verdict, c.name, c.detail)
		for _, item := range head(c.items, 10) {
			p("        - %s\n", item)
		}
		if len(c.items) > 10 {
			p("        - ... and %d more\n", len(c.items)-10)
		}
	}
	if len(r.strays) > 0 {
		p("\nnote: %d objects in the documents bucket belong to no request (left by attempts that failed mid-upload; the daily retention purge deletes them once a day old):\n", len(r.strays))
		for _, s := range head(r.strays, 10) {
			p("  %s\n", s)
		}
	}
	verdict := "PASS"
	if !r.passed() {
		verdict = "FAIL"
	}
	p("\nsoak: %s\n", verdict)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s x %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func head(items []string, n int) []string {
	return items[:min(n, len(items))]
}

package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
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
	brokenOff  string // why the run stopped before the checks
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

// failedFault names the fault that could not be undone.
func (r *report) failedFault() string {
	for _, f := range r.faults {
		if f.err != nil {
			return f.name
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
			return f.name
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
				if r.during(a.start, a.end) == f.name {
					n++
					break
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d", f.name, n))
		if n == 0 {
			c.pass = false
			c.items = append(c.items, "no submission was in flight while "+f.name+" was down: spread them differently (-requests, -lead, -tail)")
		}
	}
	c.detail = strings.Join(parts, ", ")
	return c
}

// outcomes counts the attempts in flight during the fault by outcome, and
// describes the failed ones.
func (r *report) outcomes(f *fault) (map[string]int, []string) {
	n := map[string]int{}
	var failed []string
	for _, s := range r.subs {
		for _, a := range s.attempts {
			if r.during(a.start, a.end) != f.name {
				continue
			}
			n[a.outcome()]++
			if a.outcome() == outcomeFailed {
				failed = append(failed, fmt.Sprintf("%s submission %d: %d %.200s", r.at(a.start), s.n, a.status, firstLine(a.detail)))
			}
		}
	}
	return n, failed
}

// acceptingAgain is when the first attempt started after the fault ended
// was accepted: how soon the system took submissions again.
func (r *report) acceptingAgain(f *fault) time.Time {
	var first time.Time
	for _, s := range r.subs {
		for _, a := range s.attempts {
			if a.ok() && !a.start.Before(f.readyAt) && (first.IsZero() || a.end.Before(first)) {
				first = a.end
			}
		}
	}
	return first
}

// clearAnswers checks that every attempt in flight during a fault was
// accepted or refused clearly (4xx, 503), never left unanswered or answered
// with another 5xx: a client cannot tell those from a bug.
func (r *report) clearAnswers() check {
	c := check{name: "every attempt during a fault accepted or refused clearly (4xx, 503), none unanswered or another 5xx", pass: true}
	var parts []string
	for _, f := range r.faults {
		n, failed := r.outcomes(f)
		parts = append(parts, fmt.Sprintf("%s: %d failed", f.name, n[outcomeFailed]))
		for _, item := range failed {
			c.items = append(c.items, f.name+": "+item)
		}
	}
	c.pass = len(c.items) == 0
	c.detail = strings.Join(parts, ", ")
	return c
}

func (r *report) readyzChecks() []check {
	var out []check
	for i, f := range r.faults {
		c := check{name: fmt.Sprintf("/readyz answered %d naming %s while %s was down, and ready after", f.code, f.check, f.name)}
		if f.check == "" {
			c.name = fmt.Sprintf("/readyz answered 200 naming nothing throughout the %s", f.name)
		}
		if !f.done() {
			c.detail = "the fault did not run to its end"
			out = append(out, c)
			continue
		}
		o := seen(r.samples, f.window(r.next(i)))
		c.pass = o.ok()
		c.detail = fmt.Sprintf("%d of %d answers while surely down named it", o.naming, o.inWindow)
		if o.steady {
			c.detail = fmt.Sprintf("%d of %d answers during it were 200 naming nothing", o.naming, o.inWindow)
		}
		if len(o.others) > 0 && o.steady {
			c.items = append(c.items, "also answered: "+strings.Join(o.others, "; "))
		} else if len(o.others) > 0 {
			c.items = append(c.items, "also named while it was down: "+strings.Join(o.others, ", "))
		}
		if o.firstSeen.IsZero() && !o.steady {
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
	c.detail = fmt.Sprintf("%.1fs after %s was back, %d not settled", r.drained.Sub(last.readyAt).Seconds(), last.name, len(r.notDrained))
	return c
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nconsular soak: %d requests from %d clients spread over %s; times are from the first submission; data and logs: %s\n",
		len(r.subs), r.opts.clients, r.window.Round(time.Second), r.dir)
	r.printSubmissions(w)
	r.printFaults(w)
	if r.brokenOff != "" {
		fmt.Fprintf(w, "\nBROKEN OFF: %s\n", r.brokenOff)
		return
	}
	for _, c := range r.checks {
		fmt.Fprintf(w, "\n%s  %s\n      %s\n", map[bool]string{true: "PASS", false: "FAIL"}[c.pass], c.name, c.detail)
		for _, item := range head(c.items, 10) {
			fmt.Fprintf(w, "      - %s\n", item)
		}
		if len(c.items) > 10 {
			fmt.Fprintf(w, "      - ... and %d more\n", len(c.items)-10)
		}
	}
	fmt.Fprintf(w, "\nsoak: %s\n", map[bool]string{true: "PASS", false: "FAIL"}[r.passed()])
}

// printSubmissions says how the submissions were answered, and where the
// failed attempts fell.
func (r *report) printSubmissions(w io.Writer) {
	created, failed, retried := 0, 0, 0
	byAnswer, byFault, examples := map[string]int{}, map[string]int{}, map[string]string{}
	for _, s := range r.subs {
		if s.created {
			created++
		}
		n := 0
		for _, a := range s.attempts {
			if a.ok() {
				continue
			}
			n++
			answer := "no answer"
			if a.status != 0 {
				answer = fmt.Sprint(a.status)
			}
			byAnswer[answer]++
			byFault[cmp.Or(r.during(a.start, a.end), "no fault")]++
			if e := firstLine(a.detail); len(examples) < 4 && examples[e] == "" {
				examples[e] = fmt.Sprintf("%s %d: %.200s", r.at(a.start), a.status, e)
			}
		}
		failed += n
		retried += min(n, 1)
	}
	fmt.Fprintf(w, "\nsubmissions: %d accepted of %d (201 Created: %d, 200 to a retry: the first attempt's request); last answer at %s\n",
		len(accepted(r.subs)), len(r.subs), created, r.at(r.submitted))
	fmt.Fprintf(w, "  %d attempts of %d submissions answered with an error, each retried with its Idempotency-Key\n", failed, retried)
	if failed > 0 {
		fmt.Fprintf(w, "  by answer: %s; by fault: %s\n", counts(byAnswer), counts(byFault))
		for _, e := range slices.Sorted(maps.Values(examples)) {
			fmt.Fprintf(w, "  e.g. %s\n", e)
		}
	}
}

// printFaults writes each fault, what /readyz said, how the attempts during
// it were answered, and when every request settled.
func (r *report) printFaults(w io.Writer) {
	t := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nfaults (first named: delay from the stop signal; green again: first 200 naming nothing, delay from the server answering again;")
	fmt.Fprintln(w, "attempts in flight during the fault: accepted / refused clearly (4xx, 503) / failed (no answer, other 5xx);")
	fmt.Fprintln(w, "accepting again: the first accepted attempt started after the server was back, delay from then)")
	fmt.Fprintln(t, "fault\tstopped\tgone\tback\t/readyz first named\tlast named\tgreen again\taccepted/refused/failed\taccepting again\t")
	delay := func(from, to time.Time) string {
		if from.IsZero() || to.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%+.1fs)", r.at(to), to.Sub(from).Seconds())
	}
	for i, f := range r.faults {
		o := seen(r.samples, f.window(r.next(i)))
		named, last := delay(f.stopAt, o.firstSeen), r.at(o.lastSeen)
		if o.steady {
			named, last = fmt.Sprintf("%d of %d answers 200", o.naming, o.inWindow), "-"
		}
		n, _ := r.outcomes(f)
		fmt.Fprintf(t, "%s (%s)\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d/%d\t%s\t\n", f.name, cmp.Or(f.check, "none down"), r.at(f.stopAt), r.at(f.stoppedAt), r.at(f.readyAt),
			named, last, delay(f.readyAt, o.recovered), n[outcomeAccepted], n[outcomeRefused], n[outcomeFailed], delay(f.readyAt, r.acceptingAgain(f)))
	}
	t.Flush()
	for _, f := range r.faults {
		if f.note != "" {
			fmt.Fprintf(w, "%s: %s\n", f.name, f.note)
		}
	}
	var states []string
	for _, tr := range transitions(r.samples) {
		states = append(states, r.at(tr.at)+" "+tr.state)
	}
	fmt.Fprintf(w, "/readyz (%d answers): %s\n", len(r.samples), strings.Join(states, " -> "))
	if !r.drained.IsZero() {
		last := r.faults[len(r.faults)-1]
		fmt.Fprintf(w, "drain: ended at %s, %.1fs after %s was back (the last fault), %d requests not settled\n",
			r.at(r.drained), r.drained.Sub(last.readyAt).Seconds(), last.name, len(r.notDrained))
	}
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

package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// table writes tab-separated rows aligned into columns.
type table struct{ *tabwriter.Writer }

func newTable(w io.Writer, title string, header ...string) table {
	fmt.Fprintf(w, "\n%s\n", title)
	t := table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t table) row(cells ...string) { fmt.Fprintln(t, strings.Join(cells, "\t")+"\t") }

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func pc(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }

// ratio of two rates; zero when the ceiling is.
func ratio(a, b result) float64 {
	if b.rate() == 0 {
		return 0
	}
	return a.rate() / b.rate()
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (r *report) print(w io.Writer) {
	cores := runtime.NumCPU()
	fmt.Fprintf(w, "\nconsular bench: %d CPUs, %s per measurement, closed loop; the machine is shared: compare figures within this run only\n",
		cores, r.opts.duration)
	fmt.Fprintf(w, "before the bench began: other work on the machine %.2f of %d cores (column \"other\": during each measurement), the idle stack %.2f\n",
		r.idle, cores, r.stackIdle)
	if len(r.levels) > 0 {
		r.printSubmissions(w)
	}
	if len(r.bookings) > 0 {
		r.printBookings(w)
	}
	r.printCPU(w)
	for _, p := range r.profiles {
		fmt.Fprintf(w, "profile: go tool pprof -http=: %s\n", p)
	}
}

// measured writes one measurement's row.
func (t table) measured(label string, res result) {
	secs := res.elapsed.Seconds()
	if secs <= 0 {
		t.row(label, fmt.Sprint(res.clients), "-", "-", "-", "-", "-", "-")
		return
	}
	note := ""
	if res.short {
		note = " (ran out)"
	}
	t.row(label, fmt.Sprint(res.clients), f1(res.rate())+note, f1(ms(res.p50())), f1(ms(res.p99())), fmt.Sprint(res.failed),
		fmt.Sprintf("%.2f", res.cpu.machine/secs), fmt.Sprintf("%.2f", res.cpu.other()/secs))
}

var measuredHeader = []string{"", "clients", "rate/s", "p50 ms", "p99 ms", "fails", "cores busy", "other"}

func (r *report) printSubmissions(w io.Writer) {
	t := newTable(w, "submissions against their ceilings", measuredHeader...)
	for _, row := range []struct {
		label string
		get   func(level) result
	}{
		{"F  GET /healthz (floor)", func(l level) result { return l.floor }},
		{"A  Temporal: start an empty workflow", func(l level) result { return l.start }},
		{"B  MinIO: put 3 x 200 KB", func(l level) result { return l.put }},
		{"S  POST /api/v1/requests, 3 x 200 KB, 201", func(l level) result { return l.submit }},
	} {
		for _, l := range r.levels {
			t.measured(row.label, row.get(l))
		}
	}
	t.Flush()
	t = newTable(w, fmt.Sprintf("S against the ceilings (aim at %d clients: S >= %s of min(A,B), p99 < %.0f ms, no failures)",
		aimClients, pc(aimSubmissions), ms(aimP99)), "clients", "S/A", "S/B", "S/min(A,B)", "aim")
	for _, l := range r.levels {
		lower := ratio(l.submit, l.start)
		if l.put.rate() < l.start.rate() {
			lower = ratio(l.submit, l.put)
		}
		aim := ""
		if l.clients == aimClients {
			aim = verdict(lower >= aimSubmissions && l.submit.p99() < aimP99 && l.submit.failed == 0)
		}
		t.row(fmt.Sprint(l.clients), pc(ratio(l.submit, l.start)), pc(ratio(l.submit, l.put)), pc(lower), aim)
	}
	t.Flush()
	for _, l := range r.levels {
		if l.submit.firstErr != nil {
			fmt.Fprintf(w, "first failed submission at %d clients: %v\n", l.clients, l.submit.firstErr)
		}
	}
}

func (r *report) printBookings(w io.Writer) {
	t := newTable(w, "bookings against their ceiling", measuredHeader...)
	for _, l := range r.bookings {
		t.measured("U  Temporal: a raw Update on a waiting workflow", l.update)
	}
	for _, l := range r.bookings {
		t.measured("K  POST /api/v1/appointments, 200", l.book)
	}
	t.Flush()
	t = newTable(w, fmt.Sprintf("K against U (aim at %d clients: K >= %s of U, no failures)", aimClients, pc(aimBookings)),
		"clients", "K/U", "aim")
	for _, l := range r.bookings {
		aim := ""
		if l.clients == aimClients {
			aim = verdict(ratio(l.book, l.update) >= aimBookings && l.book.failed == 0)
		}
		t.row(fmt.Sprint(l.clients), pc(ratio(l.book, l.update)), aim)
	}
	t.Flush()
	for _, l := range r.bookings {
		if l.book.firstErr != nil {
			fmt.Fprintf(w, "first failed booking at %d clients: %v\n", l.clients, l.book.firstErr)
		}
	}
	r.printSteps(w)
	r.printContended(w)
}

// printSteps writes where a booking's time goes, per level, from the
// bookings' workflow histories (medians; they need not add up to the
// median round trip).
func (r *report) printSteps(w io.Writer) {
	header := []string{"step (median ms since the previous one)"}
	var names []string
	for _, l := range r.bookings {
		header = append(header, fmt.Sprintf("%d clients", l.clients))
		for _, s := range l.steps {
			if !slices.Contains(names, s.name) {
				names = append(names, s.name)
			}
		}
	}
	t := newTable(w, "where a booking's time goes, from its workflow's history (events of the booking Update)", header...)
	for _, name := range names {
		cells := []string{name}
		for _, l := range r.bookings {
			cell := "-"
			for _, s := range l.steps {
				if s.name == name {
					cell = f1(ms(s.took))
				}
			}
			cells = append(cells, cell)
		}
		t.row(cells...)
	}
	counts := []string{"histories read"}
	for _, l := range r.bookings {
		counts = append(counts, fmt.Sprint(l.sampled))
	}
	t.row(counts...)
	t.Flush()
}

func (r *report) printContended(w io.Writer) {
	t := newTable(w, "contended: every client at once on one slot, each round a fresh slot",
		"clients", "rounds", "free seats", "booked", "409 taken", "other", "overbooked")
	var overbooked []string
	for _, l := range r.bookings {
		if c := l.cont; c != nil {
			t.row(fmt.Sprint(c.clients), fmt.Sprint(c.rounds), fmt.Sprint(c.seats), fmt.Sprint(c.booked), fmt.Sprint(c.full),
				fmt.Sprint(c.other), fmt.Sprint(len(c.overbooked)))
			overbooked = append(overbooked, c.overbooked...)
			if c.firstOther != "" {
				defer fmt.Fprintf(w, "first other answer at %d clients: %s\n", c.clients, c.firstOther)
			}
		}
	}
	t.Flush()
	for _, o := range overbooked {
		fmt.Fprintf(w, "OVERBOOKED %s\n", o)
	}
}

// printCPU writes the CPU-seconds per request of every program of the
// stack, counted from the start of a measurement until the worker had sent
// every email it owed (the worker falls behind under load and does its share
// after), and the whole-system ceiling they imply: cores ÷ CPU per request.
func (r *report) printCPU(w io.Writer) {
	var programs []string
	for _, l := range r.levels {
		programs = union(programs, l.allIn.names())
	}
	for _, l := range r.bookings {
		programs = union(programs, l.allIn.names())
	}
	header := append(append([]string{"CPU ms per request", "clients"}, programs...), "stack", "ceiling/s", "email wait s")
	t := newTable(w, fmt.Sprintf("CPU per request, every process of the stack (/proc), until its email was sent; ceiling: %d cores ÷ stack CPU", runtime.NumCPU()), header...)
	row := func(label string, clients, ok int, c cpuSample, drained float64, behind int) {
		if ok == 0 {
			return
		}
		cells := []string{label, fmt.Sprint(clients)}
		for _, p := range programs {
			cells = append(cells, f1(1000*c.programs[p]/float64(ok)))
		}
		stack := c.stack() / float64(ok)
		wait := f1(drained)
		if behind > 0 {
			wait += fmt.Sprintf(" (%d emails missing)", behind)
		}
		t.row(append(cells, f1(1000*stack), f1(float64(runtime.NumCPU())/stack), wait)...)
	}
	for _, l := range r.levels {
		row("submission", l.clients, l.submit.ok, l.allIn, l.drained.Seconds(), l.behind)
	}
	for _, l := range r.bookings {
		row("booking", l.clients, l.book.ok, l.allIn, l.drained.Seconds(), l.behind)
	}
	peak := []string{"peak RSS MB (VmHWM)", ""}
	for _, p := range programs {
		peak = append(peak, f1(float64(r.peak[p])/(1<<20)))
	}
	t.row(peak...)
	t.Flush()
}

func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

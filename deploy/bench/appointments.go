package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/openconsular/consular/internal/config"
)

// bookingLevel is the appointment system's measurements at one number of clients.
type bookingLevel struct {
	clients    int
	update     result       // ceiling U
	shaped     result       // U2: an Update running two no-op activities, the booking Update's shape
	perFlow    int          // the most Updates one idle workflow took in U
	slow       []slowUpdate // Updates of U over slowUpdateAfter
	explained  []string     // what the slowest of them waited for
	slow2      []slowUpdate // the same for U2
	explained2 []string
	book       result          // uncontended bookings
	pool       int             // requests prepared for them
	handler    []time.Duration // the bookings' time inside the API, sorted
	phases     phases          // medians over the bookings
	slowest    phases          // the slowest booking's
	sampled    int             // bookings whose history was read
	sampleErr  error
	check      check      // the booking mission after the run
	cont       *contended // nil when not run at this level
}

// measureAppointments runs, per level: ceilings U and U2, uncontended
// bookings, and contended rounds, each booking run followed by the
// overbooking check. Requests are created before each measurement and the
// worker has caught up with them (receipts sent) before the clock starts.
func measureAppointments(ctx context.Context, rep *report, sys *system, cfg config.Config, runID string,
	timed func(int, op, func()) result) error {
	o := rep.opts
	var uc *updateCeiling
	if o.runs("updates") {
		var err error
		if uc, err = newUpdateCeiling(cfg.Temporal, runID); err != nil {
			return err
		}
		defer uc.close()
		// A few Updates per workflow in the whole run (round-robin), far
		// from where issue 6512 shows, and quicker to start than one each.
		rep.poolSize = idleWorkflowCount
		progress("ceilings U and U2: starting %d idle workflows", rep.poolSize)
		if err := uc.fill(ctx, rep.poolSize); err != nil {
			return err
		}
	}
	bk, err := newBookings(sys, cfg)
	if err != nil {
		return err
	}
	defer bk.close()

	var last *bookingLevel
	for _, n := range o.clients {
		bl := bookingLevel{clients: n}
		if uc != nil {
			progress("%d client(s): ceiling U, Updates on idle workflows, %s", n, o.duration)
			uc.rewind(benchUpdateName, fmt.Sprint(n), 0)
			bl.update = timed(n, uc.update, nil)
			bl.perFlow = uc.perWorkflow()
			bl.slow = uc.takeSlow()
			bl.explained = explainSlowest(ctx, uc, bl.slow, 3)
			progress("  U %.1f/s (p99 %s, %d over %s)", bl.update.rate(), ms(bl.update.p99()), len(bl.slow), slowUpdateAfter)
			if o.runs("bookings") {
				progress("%d client(s): ceiling U2, Updates running two no-op activities, %s", n, o.duration)
				uc.rewind(shapedUpdateName, fmt.Sprint(n), 0)
				bl.shaped = timed(n, uc.update, nil)
				bl.slow2 = uc.takeSlow()
				bl.explained2 = explainSlowest(ctx, uc, bl.slow2, 2)
				progress("  U2 %.1f/s (p99 %s)", bl.shaped.rate(), ms(bl.shaped.p99()))
			}
		}

		if o.runs("bookings") {
			bl.pool = bookingPool(n, bl.shaped, last, o.duration)
			progress("%d client(s): %d requests awaiting an appointment for the bookings, %d of them new", n, bl.pool, max(0, bl.pool-len(bk.pool)))
			if err := bk.fill(ctx, bl.pool); err != nil {
				return err
			}
			if _, behind, err := sys.drain(ctx, o.drain); err != nil {
				return err
			} else if behind > 0 {
				progress("  the worker still has %d receipts to send", behind)
			}
			if bk.seats == nil {
				a := <-bk.pool
				slots, err := bk.freeSlots(ctx, a)
				bk.pool <- a
				if err != nil {
					return err
				}
				bk.seats = newSeats(slots)
			}
			progress("%d client(s): bookings, one request and a slot with free seats each, %s", n, o.duration)
			var mark logMark
			var profiles chan error
			bl.book = timed(n, bk.book, func() {
				mark = sys.markLog()
				bk.startSampling()
				if o.profileDir != "" && n == aimClients {
					profiles = rep.bProfiles.start(ctx, sys, o, "-bookings")
				}
			})
			if profiles != nil {
				for range sys.pprof {
					if err := <-profiles; err != nil {
						return err
					}
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if bl.handler, err = mark.handlerTimes(http.MethodPost, "/api/v1/appointments", http.StatusOK); err != nil {
				return fmt.Errorf("read the API's access log: %w", err)
			}
			if bl.book.ok == 0 {
				return fmt.Errorf("no booking succeeded with %d client(s): %v", n, bl.book.firstErr)
			}
			progress("  bookings %.1f/s (p99 %s); reading their workflows' histories, checking seats", bl.book.rate(), ms(bl.book.p99()))
			bl.phases, bl.slowest, bl.sampled, bl.sampleErr = bk.phasesOf(ctx, bk.takeSamples())
			if bl.check, err = bk.verify(ctx, bookingMission); err != nil {
				return err
			}
			loud(bl.check, fmt.Sprintf("after uncontended bookings with %d clients", n))
		}

		if o.runs("contended") && n > 1 {
			seatsPerSlot := max(1, n/4)
			progress("%d client(s): contended, all at once on one slot of %d seats, %d rounds", n, seatsPerSlot, o.rounds)
			if err := bk.prepareContended(ctx, n, seatsPerSlot, o.rounds); err != nil {
				return err
			}
			if _, _, err := sys.drain(ctx, o.drain); err != nil {
				return err
			}
			c := bk.contend(ctx, n, seatsPerSlot, o.rounds)
			if c.check, err = bk.verify(ctx, contendedMission); err != nil {
				return err
			}
			loud(c.check, fmt.Sprintf("after contended bookings with %d clients", n))
			progress("  %d booked, %d slot full, %d other", c.booked, c.full, c.other)
			bl.cont = &c
		}
		rep.booking = append(rep.booking, bl)
		if o.runs("bookings") {
			last = &bl
		}
	}
	return nil
}

// bookingPool is how many requests one level of bookings gets: enough for
// the rate to expect, and a fifth more. Requests left over stay for the
// next level; running out ends the measurement early, which the report
// says. The rate to expect is the lowest of: ceiling U2 (the booking
// Update's shape, which bookings do not beat); what the machine's cores can
// do at the last level's CPU per booking; and the last level's latency with
// n clients. Each client's warm-up takes one more.
func bookingPool(n int, shaped result, last *bookingLevel, d time.Duration) int {
	expect := 30.0 // nothing measured yet
	if shaped.ok > 0 {
		// At least what one client books at idle here (5/s), in case
		// other work slowed U2 down.
		expect = max(5, shaped.rate())
	}
	if last != nil && last.book.ok > 0 {
		if cpu := last.book.cpu.system() / float64(last.book.ok); cpu > 0 {
			expect = min(expect, float64(runtime.NumCPU())/cpu)
		}
		if p50 := last.book.p50().Seconds(); p50 > 0 {
			expect = min(expect, float64(n)/p50)
		}
	}
	return int(math.Ceil(expect*d.Seconds()*1.2)) + n
}

// explainSlowest says what the k slowest Updates waited for.
func explainSlowest(ctx context.Context, uc *updateCeiling, slow []slowUpdate, k int) []string {
	var out []string
	for _, s := range slow[:min(k, len(slow))] {
		e, err := explain(ctx, uc.client, s)
		if err != nil {
			e = err.Error()
		}
		out = append(out, fmt.Sprintf("%s: %s", ms(s.took), e))
	}
	return out
}

// loud says at once, on the terminal, when a check found overbooking.
func loud(c check, when string) {
	for _, o := range c.overbooked {
		progress("!!! OVERBOOKED %s: %s", when, o)
	}
}

// phasesOf reads the bookings' histories, a few at a time, and returns
// each phase's median and the slowest booking's phases.
func (b *bookings) phasesOf(ctx context.Context, samples []bookingSample) (phases, phases, int, error) {
	all := make([]phases, len(samples))
	errs := make([]error, len(samples))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, s := range samples {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			all[i], errs[i] = bookingPhases(ctx, b.temporal, s)
		})
	}
	wg.Wait()
	var ok []phases
	var slowest phases
	var first error
	for i, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		ok = append(ok, all[i])
		if all[i].total > slowest.total {
			slowest = all[i]
		}
	}
	return medianPhases(ok), slowest, len(ok), first
}

// printAppointments writes the appointment system's tables.
func (r *report) printAppointments(w io.Writer) {
	if len(r.booking) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	cores := runtime.NumCPU()
	o := r.opts
	hasU, hasBook, hasCont := o.runs("updates"), o.runs("bookings"), false
	for _, l := range r.booking {
		hasCont = hasCont || l.cont != nil
	}

	p("\nappointments: POST /api/v1/appointments at %s (default template: 30-minute slots of 3 seats); requests made as the tests' quickRequest\n", bookingMission)
	printHeader(w)
	if hasU {
		for i, l := range r.booking {
			printRow(w, label(i, "U  Temporal: Update on an idle workflow"), l.update)
		}
	}
	if hasU && hasBook {
		for i, l := range r.booking {
			printRow(w, label(i, "U2 the same, running 2 no-op activities"), l.shaped)
		}
	}
	if hasBook {
		for i, l := range r.booking {
			printRow(w, label(i, "Bk API: booking, uncontended, 200"), l.book)
		}
		for i, l := range r.booking {
			p("%-40s %7d %9s %9.1f %9.1f\n", label(i, "   Bk inside the API (access log took)"), l.clients, "", msf(pct(l.handler, 0.5)), msf(pct(l.handler, 0.99)))
		}
	}
	if hasBook {
		p("   (U2: the booking Update's shape, projection then mail as two activities in the handler, doing nothing)\n")
	}
	for _, l := range r.booking {
		if hasBook && l.book.short {
			p("   bookings at %d clients ended early after %.1fs: the %d requests prepared were booked\n", l.clients, l.book.elapsed.Seconds(), l.pool)
		}
		if l.update.firstErr != nil {
			p("   first failed Update at %d clients: %v\n", l.clients, l.update.firstErr)
		}
		if l.book.firstErr != nil {
			p("   first failed booking at %d clients: %v\n", l.clients, l.book.firstErr)
		}
	}

	if hasCont {
		p("\n%-40s %7s %6s %7s %6s %6s %6s %8s %11s %11s\n", "contended: all clients at once, one slot", "clients", "seats", "tries", "booked", "full", "other", "answers/s", "booked p50/p99", "full p50/p99")
		for _, l := range r.booking {
			c := l.cont
			if c == nil {
				continue
			}
			p("%-40s %7d %6d %7d %6d %6d %6d %8.1f %6.0f/%-6.0f %6.0f/%-6.0f ms\n", fmt.Sprintf("  %d rounds, a fresh slot each", c.rounds), c.clients, c.seats,
				c.attempts(), c.booked, c.full, c.other, c.rate(),
				msf(pct(c.bookedLat, 0.5)), msf(pct(c.bookedLat, 0.99)), msf(pct(c.fullLat, 0.5)), msf(pct(c.fullLat, 0.99)))
			if want := c.seats * c.rounds; c.booked != want || c.other > 0 {
				p("  at %d clients: %d booked, want exactly %d (%d rounds x %d seats)", c.clients, c.booked, want, c.rounds, c.seats)
				if c.firstOther != "" {
					p("; first other answer: %s", c.firstOther)
				}
				p("\n")
			}
		}
	}

	// Overbooking: every run's check.
	type run struct {
		name string
		c    check
	}
	var runs []run
	for _, l := range r.booking {
		if hasBook {
			runs = append(runs, run{fmt.Sprintf("uncontended, %d clients (%s)", l.clients, bookingMission), l.check})
		}
		if l.cont != nil {
			runs = append(runs, run{fmt.Sprintf("contended, %d clients (%s)", l.clients, contendedMission), l.cont.check})
		}
	}
	overbooked := false
	if len(runs) > 0 {
		p("\n%-40s %6s %6s %7s %7s %10s %9s  %s\n", "seats after each run (whole mission)", "slots", "seats", "booked", "pending", "projection", "workflows", "verdict")
		for _, x := range runs {
			verdict := "ok: no slot over its seats"
			if !x.c.ok() {
				verdict = "OVERBOOKED"
				overbooked = true
			} else if len(x.c.disagree) > 0 {
				verdict = "no overbooking, but the witnesses disagree"
			}
			p("  %-38s %6d %6d %7d %7d %10d %9d  %s\n", x.name, x.c.slots, x.c.seats, x.c.appointments, x.c.pending, x.c.projected, x.c.searched, verdict)
			for _, d := range x.c.disagree[:min(3, len(x.c.disagree))] {
				p("      disagree: %s\n", d)
			}
		}
		p("  (seats: slot_seats.booked; booked/pending: appointments; projection: requests in appointment_booked; workflows: Temporal search attributes)\n")
		if overbooked {
			bar := strings.Repeat("!", 100)
			p("\n%s\n!!! OVERBOOKED: a slot holds more bookings than seats\n", bar)
			for _, x := range runs {
				for _, o := range x.c.overbooked {
					p("!!!   %s: %s\n", x.name, o)
				}
			}
			p("%s\n", bar)
		}
	}

	if hasU && hasBook {
		p("\n%-40s %7s %9s %9s %9s\n", "Bk against the ceilings", "clients", "Bk/U", "U2/U", "Bk/U2")
		for _, l := range r.booking {
			p("%-40s %7d %8.0f%% %8.0f%% %8.0f%%\n", "", l.clients, 100*ratio(l.book, l.update), 100*ratio(l.shaped, l.update), 100*ratio(l.book, l.shaped))
		}
		aimed := false
		for _, l := range r.booking {
			if l.clients != aimClients {
				continue
			}
			aimed = true
			verdict := "PASS"
			if ratio(l.book, l.update) < aimRatio || overbooked || l.book.failed > 0 {
				verdict = "MISS"
			}
			p("aim at %d clients: bookings >= %.0f%% of U, no failures, no overbooking in any run: %s (%.0f%%, %d failed, %s)\n",
				aimClients, 100*aimRatio, verdict, 100*ratio(l.book, l.update), l.book.failed, map[bool]string{true: "OVERBOOKED", false: "no overbooking"}[overbooked])
		}
		if !aimed {
			p("aim at %d clients: not measured (no %d-client level in -clients)\n", aimClients, aimClients)
		}
	}

	if hasBook {
		line := func(label string, f func(bookingLevel) float64) {
			p("%-56s", label)
			for _, l := range r.booking {
				p(" %7.1f", f(l))
			}
			p("\n")
		}
		for _, slow := range []bool{false, true} {
			title := "where a booking's time goes, p50 ms (every booking's workflow history)"
			if slow {
				title = "the slowest booking of each level, ms"
			}
			p("\n%-56s", title)
			for _, l := range r.booking {
				p(" %7d", l.clients)
			}
			p("  clients\n")
			ph := func(f func(phases) time.Duration) func(bookingLevel) float64 {
				return func(l bookingLevel) float64 {
					if slow {
						return msf(f(l.slowest))
					}
					return msf(f(l.phases))
				}
			}
			if !slow {
				line("  Bk: booking, client round trip", func(l bookingLevel) float64 { return msf(l.book.p50()) })
				line("  Bk inside the API (access log took)", func(l bookingLevel) float64 { return msf(pct(l.handler, 0.5)) })
				if hasU {
					line("  U: one raw Update, alone", func(l bookingLevel) float64 { return msf(l.update.p50()) })
					line("  U2: an Update running two no-op activities, alone", func(l bookingLevel) float64 { return msf(l.shaped.p50()) })
				}
			}
			if slow {
				line("  the booking, client round trip", ph(func(p phases) time.Duration { return p.total }))
			}
			line("  1 API before the Update: limits, lookup, slots, seat", ph(func(p phases) time.Duration { return p.beforeTask }))
			line("  2 Update's workflow task, validator, accepted", ph(func(p phases) time.Duration { return p.accept }))
			line("  3 projection activity (and search attributes)", ph(func(p phases) time.Duration { return p.projection }))
			line("      of which waiting for a worker", ph(func(p phases) time.Duration { return p.projWait }))
			line("  4 workflow task", ph(func(p phases) time.Duration { return p.toMail }))
			line("  5 mail activity: confirmation, iCalendar, SMTP", ph(func(p phases) time.Duration { return p.mail }))
			line("      of which waiting for a worker", ph(func(p phases) time.Duration { return p.mailWait }))
			line("  6 workflow task, Update completed", ph(func(p phases) time.Duration { return p.complete }))
			line("  7 API after the Update: settle, reload, answer", ph(func(p phases) time.Duration { return p.after }))
			if !slow {
				line("  workflow tasks in the booking's Update (U: 1)", func(l bookingLevel) float64 { return float64(l.phases.tasks) })
				p("  (each phase's own median, so they need not add up; 2-6 are the Update: times from the workflow's history)\n")
			}
		}
		for _, l := range r.booking {
			if l.sampleErr != nil {
				p("  at %d clients %d histories read; first problem: %v\n", l.clients, l.sampled, l.sampleErr)
			}
		}

		p("\n%-56s", "CPU ms per booking (U: per Update), while it ran")
		for _, l := range r.booking {
			p(" %7d", l.clients)
		}
		p("  clients\n")
		per := func(res func(bookingLevel) result, cpu func(cpuTimes) float64) func(bookingLevel) float64 {
			return func(l bookingLevel) float64 {
				x := res(l)
				if x.ok == 0 {
					return 0
				}
				return 1000 * cpu(x.cpu) / float64(x.ok)
			}
		}
		bkr := func(l bookingLevel) result { return l.book }
		line("  Bk: API", per(bkr, func(c cpuTimes) float64 { return c.api }))
		line("  Bk: worker (projection, mail, workflow tasks)", per(bkr, func(c cpuTimes) float64 { return c.worker }))
		line("  Bk: Temporal server", per(bkr, func(c cpuTimes) float64 { return c.temporal }))
		line("  Bk: PostgreSQL", per(bkr, func(c cpuTimes) float64 { return c.postgres }))
		line("  Bk: Mailpit", per(bkr, func(c cpuTimes) float64 { return c.mailpit }))
		line("  Bk: = the system", per(bkr, cpuTimes.system))
		line("  Bk: other work on the machine", per(bkr, cpuTimes.other))
		line(fmt.Sprintf("  Bk: machine busy, cores of %d", cores), func(l bookingLevel) float64 {
			if l.book.elapsed <= 0 {
				return 0
			}
			return l.book.cpu.machine / l.book.elapsed.Seconds()
		})
		if hasU {
			ur := func(l bookingLevel) result { return l.update }
			u2 := func(l bookingLevel) result { return l.shaped }
			line("  U2: Temporal server", per(u2, func(c cpuTimes) float64 { return c.temporal }))
			line("  U2: bench (client and the idle workflows' worker)", per(u2, func(c cpuTimes) float64 { return c.bench }))
			line("  U: Temporal server", per(ur, func(c cpuTimes) float64 { return c.temporal }))
			line("  U: bench (client and the idle workflows' worker)", per(ur, func(c cpuTimes) float64 { return c.bench }))
			line(fmt.Sprintf("  U: machine busy, cores of %d", cores), func(l bookingLevel) float64 {
				if l.update.elapsed <= 0 {
					return 0
				}
				return l.update.cpu.machine / l.update.elapsed.Seconds()
			})
		}
	}

	if hasU {
		p("\nU's tail: Updates over %s (round-robin over %d idle workflows)\n", slowUpdateAfter, r.poolSize)
		for _, l := range r.booking {
			over5 := 0
			for _, s := range l.slow {
				if s.took > 5*time.Second {
					over5++
				}
			}
			p("  %2d clients: %d of %d over %s, %d over 5 s; p99 %s, max %s; at most %d Updates per workflow\n", l.clients, len(l.slow), l.update.ok+l.update.failed,
				slowUpdateAfter, over5, ms(l.update.p99()), ms(pct(l.update.lat, 1)), l.perFlow)
			for _, e := range l.explained {
				p("      %s\n", e)
			}
		}
		if hasBook {
			p("U2's tail: Updates over %s\n", slowUpdateAfter)
			for _, l := range r.booking {
				p("  %2d clients: %d of %d over %s; p99 %s, max %s\n", l.clients, len(l.slow2), l.shaped.ok+l.shaped.failed,
					slowUpdateAfter, ms(l.shaped.p99()), ms(pct(l.shaped.lat, 1)))
				for _, e := range l.explained2 {
					p("      %s\n", e)
				}
			}
		}
	}
	r.bProfiles.print(w, "bookings")
}

// label is a table's label on its first row only.
func label(i int, s string) string {
	if i == 0 {
		return s
	}
	return ""
}

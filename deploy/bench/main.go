// Command bench measures what the system takes on one machine, on the
// throwaway stack of `make bench`: submissions per second and their latency
// over HTTP through the real API and worker, at 1, 8 and 32 clients, next to
// two ceilings measured on the same servers in the same run (starting an
// empty Temporal workflow; putting one submission's three documents into
// MinIO), since a submission does both and cannot be faster than either. It
// also reports the API's peak memory with 1 and with 50 uploads at once, and
// with -profile DIR writes CPU profiles of the API and the worker under 8
// clients. It is a measurement: it exits 0 whether or not the aims are met.
//
// The appointment system is measured the same way: bookings through
// /api/v1/appointments, each client booking its own request into a slot
// with free seats, next to the ceiling of a booking's one call to Temporal,
// an Update on an idle workflow (U), and an Update of the booking Update's
// shape with no-op activities (U2); then every client at once on one slot,
// counting bookings and "slot full" answers and checking after every run
// that no slot holds more bookings than seats. Each booking's workflow
// history says where its time went.
//
// The staff queue (queue.go) is measured with a million requests in the
// projection: staff.List under each of the page's filters next to a
// primary-key lookup, then the queue and detail pages over HTTP next to
// GET /healthz; -explain prints the plans of the queue's statements.
//
// Open requests (open.go): -open requests (10,000) waiting on their 90-day
// timers on one worker, its memory against a 300 MB aim, and the time a
// restarted worker takes to serve them all again; -only tuning then
// restarts the worker under each setting of -tuning-grid. Neither runs by
// default (long).
//
//	go run ./deploy/launcher test -- go run ./deploy/bench [-duration 8s] [-profile DIR]
//		[-only submissions,memory,updates,bookings,contended,queue,open,tuning] [-rounds 5] [-explain]
//		[-open 10000] [-tuning-grid wf/act/max/cache,...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openconsular/consular/internal/config"
)

// The aim at aimClients: submissions at no less than aimRatio of the lower
// ceiling, with p99 under aimP99.
const (
	aimClients = 8
	aimRatio   = 0.80
	aimP99     = 250 * time.Millisecond
)

type options struct {
	duration   time.Duration
	clients    []int
	memClients int
	drain      time.Duration
	profileDir string
	parts      map[string]bool // which parts to run
	rounds     int             // contended rounds per level
	explain    bool            // queue: EXPLAIN ANALYZE every filter's statements
}

// parts of the bench, for -only. Bookings need their ceiling, so "bookings"
// runs "updates" too.
var allParts = []string{"submissions", "memory", "updates", "bookings", "contended", "queue", "open", "tuning"}

// notByDefault are parts that run only when -only names them, being long:
// open makes 10,000 requests (about 35 minutes), tuning then restarts the
// worker under every setting of -tuning-grid (about 45 more).
var notByDefault = map[string]bool{"open": true, "tuning": true}

func (o options) runs(part string) bool { return o.parts[part] }

// appointments says whether anything of the appointment system is measured.
func (o options) appointments() bool {
	return o.runs("updates") || o.runs("bookings") || o.runs("contended")
}

func main() {
	var o options
	var clients string
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "timed length of each measurement")
	flag.StringVar(&clients, "clients", "1,8,32", "concurrent clients of each level, comma-separated")
	flag.IntVar(&o.memClients, "memory-clients", 50, "concurrent uploads of the second memory measurement")
	flag.DurationVar(&o.drain, "drain", 60*time.Second, "longest wait for the worker to catch up after a level")
	flag.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the API and the worker under 8 clients (submissions and bookings) into this folder")
	only := flag.String("only", "", "run only these parts, comma-separated: "+strings.Join(allParts, ",")+" (bookings runs updates, their ceiling, too)")
	flag.IntVar(&o.rounds, "rounds", 5, "contended rounds per level, each on a fresh slot")
	flag.BoolVar(&o.explain, "explain", false, "queue: print EXPLAIN (ANALYZE, BUFFERS) of the queue's statements under every filter")
	flag.Parse()
	o.parts = map[string]bool{}
	for _, p := range allParts {
		o.parts[p] = *only == "" && !notByDefault[p]
	}
	if *only != "" {
		for _, f := range strings.Split(*only, ",") {
			f = strings.TrimSpace(f)
			if _, known := o.parts[f]; !known {
				fmt.Fprintf(os.Stderr, "bench: -only %q: %q is none of %s\n", *only, f, strings.Join(allParts, ","))
				os.Exit(2)
			}
			o.parts[f] = true
		}
		if o.parts["bookings"] {
			o.parts["updates"] = true
		}
		if o.parts["tuning"] { // tuning restarts the worker with the open requests waiting
			o.parts["open"] = true
		}
	}
	if o.rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds: want 1 or more")
		os.Exit(2)
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -clients %q: want positive numbers separated by commas\n", clients)
			os.Exit(2)
		}
		o.clients = append(o.clients, n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := measure(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	r.print(os.Stdout)
}

// level is every measurement at one number of clients.
type level struct {
	clients  int
	temporal result          // ceiling A
	minio    result          // ceiling B
	floor    result          // GET /healthz
	submit   result          // the system
	handler  []time.Duration // submissions' time inside the API, sorted
	allIn    cpuTimes        // from the start of S until the worker caught up
	drained  time.Duration   // until the worker had sent every receipt
	behind   int             // receipts still unsent when the bench stopped waiting
}

type report struct {
	opts      options
	bodyBytes int     // one submission's multipart body
	idle      float64 // cores of other work on the machine before the bench began
	levels    []level
	memory    []memory
	profiled  bool
	profiles  profileSet // under submissions
	booking   []bookingLevel
	poolSize  int        // idle workflows of ceiling U
	bProfiles profileSet // under bookings
	queue     *queueReport
	open      *openReport
}

// profileSet is the CPU profiles of the API and the worker under one load.
type profileSet struct {
	files   map[string]string             // binary -> profile file
	shares  map[string]map[string]float64 // binary -> category -> share
	sampled map[string]time.Duration      // binary -> CPU time in the profile
	top     string                        // the API's top functions
}

var began = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %3.0fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

// measure runs everything, in one order: per level the floor, the two
// ceilings and the system back to back, so the ratios compare figures taken
// within seconds of each other on a noisy machine; then the appointment
// system the same way; then memory.
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
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)

	// Documents are made before anything is timed, and reused.
	var bodies []body
	var tc *temporalCeiling
	var mc *minioCeiling
	if o.runs("submissions") || o.runs("memory") {
		progress("making documents")
		docs := make([][]byte, 6)
		for i := range docs {
			if docs[i], err = noiseJPEG(uint64(i + 1)); err != nil {
				return nil, err
			}
		}
		if bodies, err = submissionBodies(docs, len(docs)); err != nil {
			return nil, fmt.Errorf("build submission bodies: %w", err)
		}
		if tc, err = newTemporalCeiling(cfg.Temporal, runID); err != nil {
			return nil, err
		}
		defer tc.close()
		if mc, err = newMinioCeiling(ctx, cfg.Storage, runID, docs); err != nil {
			return nil, err
		}
	}
	progress("building and starting the API and the worker")
	sys, err := startSystem(ctx, cfg, stackDir, dir, runID, bodies, o.profileDir != "")
	if err != nil {
		return nil, err
	}
	defer func() { sys.stop(ctx.Err() == nil) }()
	fail := func(err error) (*report, error) {
		if ctx.Err() != nil { // interrupted: the logs would say nothing new
			return nil, errors.New("interrupted")
		}
		return nil, fmt.Errorf("%w\n--- api log ---\n%s\n--- worker log ---\n%s", err, tail(sys.api.LogPath, 15), tail(sys.worker.LogPath, 15))
	}

	// timed runs one load and charges it the CPU used while it was timed.
	timed := func(clients int, do op, started func()) result {
		var before cpuTimes
		r := load(ctx, clients, o.duration, do, func() {
			if started != nil {
				started()
			}
			before = sys.cpu()
		})
		r.cpu = sys.cpu().minus(before)
		return r
	}

	rep := &report{opts: o, profiled: o.profileDir != ""}
	if len(bodies) > 0 {
		rep.bodyBytes = len(bodies[0].data)
	}
	// The machine is shared: note what else it was doing before we began.
	before, begin := sys.cpu(), time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(2 * time.Second):
	}
	rep.idle = sys.cpu().minus(before).other() / time.Since(begin).Seconds()

	for _, n := range o.clients {
		if !o.runs("submissions") {
			break
		}
		lv := level{clients: n}
		progress("%d client(s): GET /healthz, Temporal starts, MinIO puts, submissions, %s each", n, o.duration)
		lv.floor = timed(n, sys.healthz, nil)
		lv.temporal = timed(n, tc.start, nil)
		lv.minio = timed(n, mc.put, nil)

		var mark logMark
		var profiles chan error
		var allIn cpuTimes
		lv.submit = timed(n, sys.submit, func() {
			mark = sys.markLog()
			allIn = sys.cpu()
			if o.profileDir != "" && n == aimClients {
				profiles = rep.profiles.start(ctx, sys, o, "")
			}
		})
		if profiles != nil {
			for range sys.pprof {
				if err := <-profiles; err != nil {
					return fail(err)
				}
			}
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if lv.handler, err = mark.handlerTimes(http.MethodPost, "/api/v1/requests", http.StatusCreated); err != nil {
			return fail(fmt.Errorf("read the API's access log: %w", err))
		}
		if lv.submit.ok == 0 {
			return fail(fmt.Errorf("no submission succeeded with %d client(s): %v", n, lv.submit.firstErr))
		}
		progress("  submissions %.1f/s (p99 %s); waiting for the worker to send their receipts", lv.submit.rate(), ms(lv.submit.p99()))
		if lv.drained, lv.behind, err = sys.drain(ctx, o.drain); err != nil {
			return fail(err)
		}
		lv.allIn = sys.cpu().minus(allIn)
		rep.levels = append(rep.levels, lv)
	}

	// The appointment system, while the worker has no backlog: each
	// submission level waited for it, and memory, which does not, comes last.
	if o.appointments() {
		if err := measureAppointments(ctx, rep, sys, cfg, runID, timed); err != nil {
			return fail(err)
		}
	}

	// No wait for the worker here: its backlog would slow the uploads, not
	// change what each one holds in the API's memory.
	for _, n := range []int{1, o.memClients} {
		if !o.runs("memory") {
			break
		}
		progress("API memory: a fresh API, %d upload(s) at once for %s", n, o.duration)
		m, err := sys.measureMemory(ctx, n, o.duration)
		if err != nil {
			return fail(err)
		}
		rep.memory = append(rep.memory, m)
	}

	// Many requests waiting on one worker, which the open part starts anew.
	if o.runs("open") {
		if err := measureOpen(ctx, rep, sys, cfg); err != nil {
			return fail(err)
		}
	}

	// Last: a million requests in the projection would weigh on every part after it.
	if o.runs("queue") {
		if err := measureQueue(ctx, rep, sys, timed); err != nil {
			return fail(err)
		}
	}

	if rep.profiled {
		for _, set := range []*profileSet{&rep.profiles, &rep.bProfiles} {
			if err := set.analyse(ctx); err != nil {
				return nil, err
			}
		}
	}
	progress("stopping the API and the worker")
	return rep, nil
}

// start asks the API and the worker for CPU profiles covering the timed
// part of this measurement; one error (or nil) per process arrives on the
// channel. suffix tells the files of one load from another's.
func (ps *profileSet) start(ctx context.Context, sys *system, o options, suffix string) chan error {
	done := make(chan error, len(sys.pprof))
	ps.files = map[string]string{}
	for name, addr := range sys.pprof {
		path := filepath.Join(o.profileDir, fmt.Sprintf("%s-cpu-%d-clients%s.pprof", name, aimClients, suffix))
		ps.files[name] = path
		go func() { done <- cpuProfile(ctx, addr, o.duration, path) }()
	}
	return done
}

// analyse sorts the profiles' samples into categories and keeps the API's top functions.
func (ps *profileSet) analyse(ctx context.Context) error {
	if len(ps.files) == 0 {
		return nil
	}
	ps.shares, ps.sampled = map[string]map[string]float64{}, map[string]time.Duration{}
	for name, path := range ps.files {
		var err error
		if ps.shares[name], ps.sampled[name], err = categorize(ctx, path); err != nil {
			return err
		}
	}
	if p, ok := ps.files["api"]; ok {
		var err error
		if ps.top, err = topFunctions(ctx, p, 12); err != nil {
			return err
		}
	}
	return nil
}

// print writes the profiles' table.
func (ps *profileSet) print(w io.Writer, load string) {
	if len(ps.files) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\nCPU profiles, %s with %d clients (pprof compiled in through a build overlay; share of sampled CPU)\n", load, aimClients)
	names := []string{"api", "workers"}
	p("%-44s", "")
	for _, n := range names {
		p(" %9s", n)
	}
	p("\n")
	for _, c := range sortedCategories(ps.shares["api"], ps.shares["workers"]) {
		p("%-44s", "  "+c)
		for _, n := range names {
			p(" %8.0f%%", 100*ps.shares[n][c])
		}
		p("\n")
	}
	p("%-44s", "  CPU sampled")
	for _, n := range names {
		p(" %8.1fs", ps.sampled[n].Seconds())
	}
	p("\n")
	for _, n := range names {
		p("  %s: go tool pprof -http=: %s\n", n, ps.files[n])
	}
	if ps.top != "" {
		p("\nAPI, top functions by own CPU, %s:\n%s", load, ps.top)
	}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *report) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	cores := runtime.NumCPU()
	p("\nconsular bench: %d CPUs, %s per measurement, closed loop; the machine is shared and noisy: compare figures within this run only\n", cores, r.opts.duration)
	p("other work on the machine before the bench began: %.2f of %d cores (column \"other\": during each measurement)\n\n", r.idle, cores)

	if len(r.levels) > 0 {
		r.printSubmissions(w)
	}

	if len(r.memory) == 2 {
		p("\n%-40s %11s %9s %9s %8s %8s\n", "API peak RSS (VmHWM), a fresh API each", "after start", "peak", "growth", "uploads", "rate/s")
		for _, m := range r.memory {
			p("%-40s %8.1f MB %6.1f MB %6.1f MB %8d %8.1f\n", fmt.Sprintf("  %d upload(s) at once", m.clients),
				mb(m.start), mb(m.peak), mb(m.peak-m.start), m.run.ok, m.run.rate())
		}
		one, many := r.memory[0], r.memory[1]
		extra := float64((many.peak-many.start)-(one.peak-one.start)) / float64(max(1, many.clients-one.clients))
		verdict := "flat"
		if extra > 100<<10 {
			verdict = "grows with concurrent uploads"
		}
		p("  per extra concurrent upload: %.0f KB (a submission's body is %.0f KB): %s\n", extra/1024, float64(r.bodyBytes)/1024, verdict)
		for _, m := range r.memory {
			if m.run.failed > 0 {
				p("  %d upload(s) at once: %d failed, first: %v\n", m.clients, m.run.failed, m.run.firstErr)
			}
		}
	}

	r.profiles.print(w, "submissions")

	r.printAppointments(w)

	r.printQueue(w)

	r.printOpen(w)

	if r.profiled && len(r.profiles.files) == 0 && len(r.bProfiles.files) == 0 {
		p("\nno CPU profiles: -profile captures the %d-client level, and -clients has none\n", aimClients)
	}
}

// printSubmissions writes the submissions' tables.
func (r *report) printSubmissions(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	cores := runtime.NumCPU()
	printHeader(w)
	row := func(label string, res result) { printRow(w, label, res) }
	sections := []struct {
		label string
		get   func(level) result
	}{
		{"A  Temporal: start an empty workflow", func(l level) result { return l.temporal }},
		{"B  MinIO: put 3 x 200 KB", func(l level) result { return l.minio }},
		{"F  API: GET /healthz (floor)", func(l level) result { return l.floor }},
		{"S  API: submission, 3 x 200 KB, 201", func(l level) result { return l.submit }},
	}
	for _, s := range sections {
		for i, l := range r.levels {
			label := ""
			if i == 0 {
				label = s.label
			}
			row(label, s.get(l))
		}
	}
	for i, l := range r.levels {
		label := ""
		if i == 0 {
			label = "   S inside the API (access log took)"
		}
		p("%-40s %7d %9s %9.1f %9.1f\n", label, l.clients, "", msf(pct(l.handler, 0.5)), msf(pct(l.handler, 0.99)))
	}
	for _, l := range r.levels {
		if l.submit.firstErr != nil {
			p("   first failed submission at %d clients: %v\n", l.clients, l.submit.firstErr)
		}
	}

	p("\n%-40s %7s %9s %9s %11s\n", "S against the ceilings", "clients", "S/A", "S/B", "S/min(A,B)")
	for _, l := range r.levels {
		p("%-40s %7d %8.0f%% %8.0f%% %10.0f%%\n", "", l.clients, 100*ratio(l.submit, l.temporal), 100*ratio(l.submit, l.minio), 100*l.ratio())
	}
	aimed := false
	for _, l := range r.levels {
		if l.clients != aimClients {
			continue
		}
		aimed = true
		verdict := "PASS"
		if l.ratio() < aimRatio || l.submit.p99() >= aimP99 || l.submit.failed > 0 {
			verdict = "MISS"
		}
		p("aim at %d clients: S >= %.0f%% of min(A,B), p99 < %s, no failures: %s (%.0f%%, p99 %s, %d failed)\n",
			aimClients, 100*aimRatio, ms(aimP99), verdict, 100*l.ratio(), ms(l.submit.p99()), l.submit.failed)
	}
	if !aimed {
		p("aim at %d clients: not measured (no %d-client level in -clients)\n", aimClients, aimClients)
	}

	p("\n%-52s", "where a submission's time goes, p50 ms")
	for _, l := range r.levels {
		p(" %7d", l.clients)
	}
	p("  clients\n")
	line := func(label string, f func(level) float64) {
		p("%-52s", label)
		for _, l := range r.levels {
			p(" %7.1f", f(l))
		}
		p("\n")
	}
	line("  S: submission, client round trip", func(l level) float64 { return msf(l.submit.p50()) })
	line("  S inside the API (access log took)", func(l level) float64 { return msf(pct(l.handler, 0.5)) })
	line("  - A: one Temporal start, alone", func(l level) float64 { return msf(l.temporal.p50()) })
	line("  - B: three MinIO puts, alone", func(l level) float64 { return msf(l.minio.p50()) })
	line("  - F: an empty HTTP round trip", func(l level) float64 { return msf(l.floor.p50()) })
	line("  = rest: upload, JPEG checks, PostgreSQL, waiting", func(l level) float64 {
		return msf(l.submit.p50() - l.temporal.p50() - l.minio.p50() - l.floor.p50())
	})

	p("\n%-52s", "CPU ms per submission, while S ran")
	for _, l := range r.levels {
		p(" %7d", l.clients)
	}
	p("  clients\n")
	perSub := func(cpu func(cpuTimes) float64) func(level) float64 {
		return func(l level) float64 {
			if l.submit.ok == 0 {
				return 0
			}
			return 1000 * cpu(l.submit.cpu) / float64(l.submit.ok)
		}
	}
	line("  API", perSub(func(c cpuTimes) float64 { return c.api }))
	line("  worker (validate, PDF receipt, mail)", perSub(func(c cpuTimes) float64 { return c.worker }))
	line("  servers (Temporal, MinIO, PostgreSQL, Mailpit)", perSub(func(c cpuTimes) float64 { return c.servers }))
	line("  = the system, while S ran", perSub(cpuTimes.system))
	line("  bench (the clients)", perSub(func(c cpuTimes) float64 { return c.bench }))
	line("  other work on the machine", perSub(cpuTimes.other))
	line(fmt.Sprintf("  machine busy while S ran, cores of %d", cores), func(l level) float64 { return l.submit.cpu.machine / l.submit.elapsed.Seconds() })
	line("  worker caught up with the receipts after S, s", func(l level) float64 { return l.drained.Seconds() })
	// The worker falls behind under load and does its share after S:
	// counting until it caught up gives the whole cost of a submission, and
	// so the rate this machine could sustain end to end if it ran nothing else.
	allIn := func(l level) float64 {
		if l.submit.ok == 0 {
			return 0
		}
		return 1000 * l.allIn.system() / float64(l.submit.ok)
	}
	line("  the system, until the worker caught up", allIn)
	line(fmt.Sprintf("  = sustainable on %d dedicated cores, /s", cores), func(l level) float64 {
		if allIn(l) == 0 {
			return 0
		}
		return float64(cores) * 1000 / allIn(l)
	})
	for _, l := range r.levels {
		if l.behind > 0 {
			p("  at %d clients the worker still had %d receipts to send after %s\n", l.clients, l.behind, r.opts.drain)
		}
	}

}

// printHeader and printRow write a table of measurements.
func printHeader(w io.Writer) {
	fmt.Fprintf(w, "%-40s %7s %9s %9s %9s %6s %7s %6s\n", "", "clients", "rate/s", "p50 ms", "p99 ms", "fails", "busy", "other")
}

func printRow(w io.Writer, label string, res result) {
	secs := res.elapsed.Seconds()
	cores := runtime.NumCPU()
	if secs <= 0 {
		fmt.Fprintf(w, "%-40s %7d %9s\n", label, res.clients, "-")
		return
	}
	fmt.Fprintf(w, "%-40s %7d %9.1f %9.1f %9.1f %6d %5.2f/%d %6.2f\n", label, res.clients, res.rate(), msf(res.p50()), msf(res.p99()), res.failed,
		res.cpu.machine/secs, cores, res.cpu.other()/secs)
}

// ratio of two rates; zero when the ceiling is.
func ratio(a, b result) float64 {
	if b.rate() == 0 {
		return 0
	}
	return a.rate() / b.rate()
}

// ratio of the submission rate to the lower ceiling.
func (l level) ratio() float64 {
	if l.temporal.rate() < l.minio.rate() {
		return ratio(l.submit, l.temporal)
	}
	return ratio(l.submit, l.minio)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

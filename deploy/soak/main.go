// Command soak submits a few hundred requests over HTTP to the real API and
// worker while it stops their dependencies one after the other, and then
// checks that nothing was lost or done twice. It runs on a throwaway stack
// of its own (deploy/stack, whose servers it stops and starts again on the
// same port and data), so it cannot go through `launcher test`. The faults
// (faults.go, a list easy to extend), on the dev stack: Mailpit (SMTP) and
// MinIO each stopped for -outage, then the Temporal dev server for
// -temporal-down. On the production-shaped stack (-stack cluster: the real
// Temporal server on PostgreSQL as four processes, three workers, two APIs
// behind a proxy): PostgreSQL stopped for -outage, the Temporal history
// service for -temporal-down, then a rolling restart of the APIs and the
// workers, one at a time.
//
// Clients retry a failed submission with the same Idempotency-Key, as a real
// client would; /readyz is polled all along. Afterwards it waits (at most
// -drain) for every request to be awaiting an appointment with its receipt
// sent, then checks: every submission accepted in the end, every attempt
// during a fault accepted or refused clearly (a 4xx, or 503; never no answer
// or another 5xx), one receipt email per request, every document in MinIO
// byte for byte, no workflow failed or stuck, and that /readyz named each
// outage while it lasted and said 200 after it (200 throughout a rolling
// restart). It exits 1 on any FAIL.
//
//	go run ./deploy/soak [-stack dev|cluster] [-quick] [-requests 300] [-clients 4] [-outage 30s] [-keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/temporalclient"
)

type options struct {
	cluster      bool // the production-shaped stack
	requests     int
	clients      int
	lead         time.Duration // before the first fault
	outage       time.Duration // Mailpit and MinIO each stay down this long
	gap          time.Duration // between one server being due back and the next fault
	temporalDown time.Duration // Temporal stays down this long before it starts again
	tail         time.Duration // submissions go on this long after Temporal is due back
	readyzEvery  time.Duration
	drain        time.Duration
	giveUp       time.Duration
	keep         bool
}

func main() {
	var o options
	stackName := flag.String("stack", "dev", "dev: the Temporal dev server, one API, one worker; cluster: the production-shaped stack (make cluster's shape)")
	quick := flag.Bool("quick", false, "a shorter run (about 2 minutes): 80 requests, -lead 5s -outage 10s -gap 6s -temporal-down 12s -tail 5s")
	flag.IntVar(&o.requests, "requests", 300, "submissions, spread evenly over the faults")
	flag.IntVar(&o.clients, "clients", 4, "clients submitting at once, at most")
	flag.DurationVar(&o.lead, "lead", 10*time.Second, "submissions before the first fault")
	flag.DurationVar(&o.outage, "outage", 30*time.Second, "how long Mailpit, then MinIO, stay stopped (on the cluster: PostgreSQL)")
	flag.DurationVar(&o.gap, "gap", 15*time.Second, "between one server being due back and the next fault")
	flag.DurationVar(&o.temporalDown, "temporal-down", 15*time.Second, "how long the Temporal dev server (on the cluster: its history service) stays stopped before it starts again (longer than the SDK's 10 s call timeout, so submissions meet a failed workflow start)")
	flag.DurationVar(&o.tail, "tail", 10*time.Second, "submissions after Temporal is due back")
	flag.DurationVar(&o.readyzEvery, "readyz-every", 250*time.Millisecond, "how often /readyz is polled")
	flag.DurationVar(&o.drain, "drain", 5*time.Minute, "longest wait, after the last submission, for every request to reach its state")
	flag.DurationVar(&o.giveUp, "give-up", 3*time.Minute, "a client stops retrying a submission after this long")
	flag.BoolVar(&o.keep, "keep", false, "keep the stack's folder (data and logs) even when every check passes")
	flag.Parse()
	if *quick {
		o.requests, o.lead, o.outage, o.gap, o.temporalDown, o.tail = 80, 5*time.Second, 10*time.Second, 6*time.Second, 12*time.Second, 5*time.Second
	}
	if o.cluster = *stackName == "cluster"; !o.cluster && *stackName != "dev" {
		fmt.Fprintf(os.Stderr, "soak: -stack %q: want dev or cluster\n", *stackName)
		os.Exit(2)
	}
	if o.requests < 1 || o.clients < 1 || o.outage <= 0 || o.readyzEvery <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -requests, -clients, -outage and -readyz-every must be positive")
		os.Exit(2)
	}

	// net/http's client logs an answer that arrives on an idle connection:
	// count those instead of printing them, the report says what they mean.
	log.SetOutput(&unsolicited)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if rep != nil {
		if err != nil && rep.brokenOff == "" {
			rep.brokenOff = err.Error()
		}
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !rep.passed() {
		os.Exit(1)
	}
}

var began = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: %4.0fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

// run starts the rig, submits while the faults run, drains, checks, and
// stops everything, whatever happened. The report is returned even when the
// run broke off, with what was seen until then.
func run(ctx context.Context, o options) (rep *report, err error) {
	// The stacks it starts listen on loopback only: development unless said
	// otherwise (the API and the worker themselves refuse to guess).
	if _, set := os.LookupEnv("CONSULAR_ENV"); !set {
		_ = os.Setenv("CONSULAR_ENV", string(config.Development))
	}
	base, err := config.FromEnvironment()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	dir, err := os.MkdirTemp("", "consular-soak-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep || err != nil || rep == nil || !rep.passed() {
			fmt.Fprintf(os.Stderr, "soak: data and logs kept in %s (remove it when done)\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	if err := os.Chmod(dir, 0o711); err != nil { // PostgreSQL, run as nobody under root, must reach its folder
		return nil, err
	}
	progress("starting a throwaway stack in %s", dir)
	r, err := startRig(ctx, base, dir, o.cluster)
	if err != nil {
		return nil, err
	}
	defer func() {
		progress("stopping the API, the worker and the servers")
		r.stop()
	}()
	return soak(ctx, o, r, dir)
}

// soak submits while the faults run, waits for every request to settle and checks.
func soak(ctx context.Context, o options, r *rig, dir string) (*report, error) {
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	docs, err := loadkit.Documents(uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	mp := loadkit.NewMailpit(r.mailpit)
	mail := &mailCheck{mail: mp}
	rep := &report{opts: o, dir: dir, subs: newSubmissions(o.requests, runID), faults: r.faults(o, mail)}
	rep.window = submissionWindow(rep.faults, o.tail)

	pollCtx, stopPolling := context.WithCancel(ctx)
	var poller readyzPoller
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		poller.run(pollCtx, r.url+"/readyz", o.readyzEvery)
	}()
	finishPolling := func() {
		stopPolling()
		<-polled
		rep.samples = poller.all()
	}
	defer finishPolling()

	rep.begin = time.Now()
	progress("submitting %d requests from %d clients over %s; %d faults", o.requests, o.clients, rep.window.Round(time.Second), len(rep.faults))
	faultsDone := make(chan error, 1)
	go func() { faultsDone <- runFaults(ctx, rep.faults, rep.begin, 5*time.Second) }()
	clients{n: o.clients, window: rep.window, giveUp: o.giveUp, api: r.url, token: r.token, docs: docs, runID: runID,
		http: &http.Client{Timeout: time.Minute}}.submitAll(ctx, rep.subs, rep.begin)
	rep.submitted = time.Now()
	progress("submissions done: %d accepted of %d", len(accepted(rep.subs)), len(rep.subs))
	if err := <-faultsDone; err != nil {
		if ctx.Err() != nil {
			return rep, errors.New("interrupted")
		}
		rep.brokenOff = fmt.Sprintf("a fault could not be undone: %v (see %s)", err, r.logPath(rep.failedFault()))
		return rep, nil
	}
	return rep, settleAndCheck(ctx, rep, r, mp, mail, finishPolling)
}

// settleAndCheck waits for every accepted request to settle, then runs the checks.
func settleAndCheck(ctx context.Context, rep *report, r *rig, mp *loadkit.Mailpit, mail *mailCheck, finishPolling func()) error {
	db, err := database.Open(ctx, r.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	objects, err := storage.New(r.cfg.Storage)
	if err != nil {
		return err
	}
	tc, err := temporalclient.New(r.cfg.Temporal, r.cfg.Keys.Payload, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer tc.Close()
	codes := codesOf(accepted(rep.subs))
	progress("waiting (at most %s) for %d requests to settle: %s with their receipt sent, or finished", rep.opts.drain, len(codes), expected)
	if rep.notDrained, err = drain(ctx, db, tc, codes, rep.opts.drain); err != nil {
		return err
	}
	rep.drained = time.Now()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	sleepUntil(ctx, time.Now().Add(3*time.Second)) // a duplicate email, if any, would arrive by now
	finishPolling()

	progress("checking")
	v := &verifier{db: db, temporal: tc, namespace: r.cfg.Temporal.Namespace, objects: objects,
		documents: r.cfg.Storage.DocumentsBucket, receipts: r.cfg.Storage.ReceiptsBucket, mail: mp, subs: rep.subs}
	rep.checks = append(rep.checks, v.submissions(), rep.inFlight(), rep.clearAnswers(), unsolicited.check(), rep.drainCheck())
	rep.checks = append(rep.checks, rep.readyzChecks()...)
	if !r.cluster { // Mailpit is restarted on the dev stack only
		rep.checks = append(rep.checks, mail.check())
	}
	rep.checks = append(rep.checks, v.projection(ctx), v.workflows(ctx), v.sentMail(ctx), v.mails(ctx), v.documentsKept(ctx))
	return ctx.Err()
}

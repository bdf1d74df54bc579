// Command bench measures what the system takes on one machine, on the
// throwaway stack of `make bench`, through the public HTTP API only (as an
// applicant's client would): submissions (POST /api/v1/requests) and
// bookings (POST /api/v1/appointments) at 1, 8 and 32 clients, each next
// to the raw ceilings measured on the same servers in the same run: an
// empty Temporal workflow start (A) and three MinIO puts (B) for a
// submission, a raw Temporal Update (U) for a booking. For each it reports
// the CPU-seconds per request summed over every process of the stack, read
// from /proc, until the worker has sent the request's email, and the
// whole-system ceiling that implies (cores ÷ CPU-seconds per request); then
// where a booking's time goes, from its workflow's history; then contended
// rounds, every client on one slot, checked for overbooking. It is a
// measurement: it exits 0 whether or not the aims are met, and 1 when it
// cannot measure (a history without the booking, no request accepted).
//
//	go run ./deploy/launcher test -- go run ./deploy/bench [-quick] [-duration 8s] [-clients 1,8,32]
//		[-only submissions,bookings] [-rounds 3] [-profile DIR]
//
// The micro-benchmarks of the parts (document check, receipt, slots, the
// staff queue) are testing.B next to their code: make bench-micro.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The aims at aimClients clients (issue 16): submissions at no less than
// 80 % of the lower of A and B with p99 under 250 ms; bookings at no less
// than 60 % of U.
const (
	aimClients     = 8
	aimSubmissions = 0.80
	aimP99         = 250 * time.Millisecond
	aimBookings    = 0.60
)

type options struct {
	duration   time.Duration
	clients    []int
	drain      time.Duration
	rounds     int
	profileDir string
	parts      map[string]bool
}

func main() {
	var o options
	clients := flag.String("clients", "1,8,32", "concurrent clients of each level, comma-separated")
	only := flag.String("only", "submissions,bookings", "the parts to run, comma-separated")
	quick := flag.Bool("quick", false, "a smoke run of a minute or two: -duration 2s -clients 1,8 -rounds 1")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "timed length of each measurement")
	flag.DurationVar(&o.drain, "drain", 60*time.Second, "longest wait for the worker to send the emails it owes after a level")
	flag.IntVar(&o.rounds, "rounds", 3, "contended rounds per level (levels of 2 clients or more)")
	flag.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the API and the worker at 8 clients into this folder")
	flag.Parse()
	if *quick {
		o.duration, *clients, o.rounds = 2*time.Second, "1,8", 1
	}
	o.parts = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		if p = strings.TrimSpace(p); p != "submissions" && p != "bookings" {
			usage("-only %q: %q is neither submissions nor bookings", *only, p)
		}
		o.parts[p] = true
	}
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			usage("-clients %q: want positive numbers separated by commas", *clients)
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

func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

var began = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %3.0fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

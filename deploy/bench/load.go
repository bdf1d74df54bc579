package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// op is one client's unit of work: one workflow start, one submission's
// worth of puts, one HTTP submission.
type op func(ctx context.Context) error

// errExhausted is what an operation returns when it has nothing left to
// work on (a pool of workflows or requests prepared beforehand is used up):
// its client stops, and the measurement ends when every client has.
var errExhausted = errors.New("nothing left to work on")

// opTimeout bounds every single operation, so a stuck server fails a
// measurement instead of hanging the bench.
const opTimeout = 30 * time.Second

// result is one measurement: a number of clients in a closed loop for a while.
type result struct {
	clients  int
	ok       int
	failed   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // of successful operations, sorted
	cpu      cpuTimes        // used during the timed part
	short    bool            // ended early: an operation had nothing left to work on
}

// rate is successful operations per second.
func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// pct is the p-th quantile (0 < p <= 1) of the latencies, nearest rank.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(lat))*p)) - 1
	return lat[max(0, min(i, len(lat)-1))]
}

func (r result) p50() time.Duration { return pct(r.lat, 0.50) }
func (r result) p99() time.Duration { return pct(r.lat, 0.99) }

// load runs do from clients goroutines, each starting its next operation as
// soon as the last one ends, for d. Each client first runs one untimed
// operation, so connection set-up and first-use costs are not measured;
// started is called between the warm-up and the timed part. Operations in
// flight when d ends are waited for and counted, and the elapsed time
// includes them, so the rate is not flattered. A client whose operation
// returns errExhausted stops early, uncounted.
func load(ctx context.Context, clients int, d time.Duration, do op, started func()) result {
	type tally struct {
		lat    []time.Duration
		failed int
		err    error
		done   bool
	}
	once := func(t *tally) {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		begin := time.Now()
		err := do(ctx)
		took := time.Since(begin)
		if err == nil {
			t.lat = append(t.lat, took)
			return
		}
		if errors.Is(err, errExhausted) {
			t.done = true
			return
		}
		t.failed++
		if t.err == nil {
			t.err = err
		}
		// A server that refuses at once would otherwise be hammered in a tight loop.
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}

	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() { once(&tally{}) })
	}
	wg.Wait()
	if started != nil {
		started()
	}

	tallies := make([]tally, clients)
	begin := time.Now()
	deadline := begin.Add(d)
	for i := range tallies {
		wg.Go(func() {
			for ctx.Err() == nil && !tallies[i].done && time.Now().Before(deadline) {
				once(&tallies[i])
			}
		})
	}
	wg.Wait()

	r := result{clients: clients, elapsed: time.Since(begin)}
	for _, t := range tallies {
		r.short = r.short || t.done
		r.lat = append(r.lat, t.lat...)
		r.failed += t.failed
		if r.firstErr == nil {
			r.firstErr = t.err
		}
	}
	r.ok = len(r.lat)
	slices.Sort(r.lat)
	return r
}

// cpuTimes are CPU-seconds used: by the whole machine (busy, all cores), by
// the API, the worker, the bench itself, and the stack's servers (Temporal,
// MinIO, PostgreSQL, Mailpit), of which Temporal's, PostgreSQL's and
// Mailpit's apart too. The machine is shared: what is left is other work,
// which the report shows so a disturbed measurement can be told apart.
type cpuTimes struct {
	machine, api, worker, bench, servers float64
	temporal, postgres, mailpit          float64 // parts of servers
}

func (c cpuTimes) minus(o cpuTimes) cpuTimes {
	return cpuTimes{c.machine - o.machine, c.api - o.api, c.worker - o.worker, c.bench - o.bench, c.servers - o.servers,
		c.temporal - o.temporal, c.postgres - o.postgres, c.mailpit - o.mailpit}
}

// system is what a submission costs: the API, the worker and the servers.
func (c cpuTimes) system() float64 { return c.api + c.worker + c.servers }

// other is what the machine used beyond the system and the bench.
func (c cpuTimes) other() float64 { return max(0, c.machine-c.system()-c.bench) }

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// the project runs on.
const clockTicks = 100

// sampleCPU reads /proc. The stack's servers are the processes whose command
// line names the stack's folder, and their children (PostgreSQL's backends);
// the API and the worker run from below that folder too and are counted
// apart. A process that is gone counts as zero rather than failing the
// measurement.
func sampleCPU(stackDir string, apiPid, workerPid int) cpuTimes {
	c := cpuTimes{machine: machineBusy(), bench: procCPU(os.Getpid())}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return c
	}
	parent, used, roots := map[int]int{}, map[int]float64{}, map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, cpu, ok := procStat(pid)
		if !ok {
			continue
		}
		parent[pid], used[pid] = ppid, cpu
		switch pid {
		case apiPid:
			c.api = cpu
		case workerPid:
			c.worker = cpu
		default:
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmdline), stackDir) {
				argv0, _, _ := strings.Cut(string(cmdline), "\x00")
				roots[pid] = filepath.Base(argv0)
			}
		}
	}
	for pid, cpu := range used {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == apiPid || p == workerPid {
				break
			}
			if name, ok := roots[p]; ok {
				c.servers += cpu
				switch name {
				case "temporal":
					c.temporal += cpu
				case "postgres":
					c.postgres += cpu
				case "mailpit":
					c.mailpit += cpu
				}
				break
			}
		}
	}
	return c
}

// procCPU is a process's user plus system time, in seconds.
func procCPU(pid int) float64 {
	_, cpu, _ := procStat(pid)
	return cpu
}

// procStat reads a process's parent and its user plus system time, in seconds.
func procStat(pid int) (ppid int, cpu float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may contain spaces: count fields
	// after it. ppid, utime and stime are the 4th, 14th and 15th fields.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return ppid, (utime + stime) / clockTicks, true
}

// machineBusy is the CPU time of all cores that was not idle, in seconds.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	var busy float64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is in user already
			continue
		}
		busy += v
	}
	return busy / clockTicks
}

package main

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cpuSample is CPU-seconds used so far by each program of the stack (the
// API, the worker, Temporal, PostgreSQL, MinIO, Mailpit: whatever runs
// from the stack's folder), by the bench itself, and by the whole machine,
// which is shared: what the stack and the bench did not use is other work.
type cpuSample struct {
	programs map[string]float64 // by binary name
	bench    float64
	machine  float64
	peak     map[string]int64 // the highest resident memory (VmHWM) of each program's main process, bytes
}

func (c cpuSample) minus(o cpuSample) cpuSample {
	d := cpuSample{programs: map[string]float64{}, bench: c.bench - o.bench, machine: c.machine - o.machine}
	for name, v := range c.programs {
		d.programs[name] = v - o.programs[name]
	}
	return d
}

// stack is the CPU of every program of the stack.
func (c cpuSample) stack() float64 {
	var sum float64
	for _, v := range c.programs {
		sum += v
	}
	return sum
}

func (c cpuSample) other() float64 { return max(0, c.machine-c.stack()-c.bench) }

// names are the programs, busiest first.
func (c cpuSample) names() []string {
	return slices.SortedFunc(maps.Keys(c.programs), func(a, b string) int {
		return cmp.Or(cmp.Compare(c.programs[b], c.programs[a]), strings.Compare(a, b))
	})
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// the project runs on.
const clockTicks = 100

// sampleCPU reads /proc. The stack's programs are the processes whose
// command line names the stack's folder (its servers, and the API and the
// worker the bench built below it), with all their descendants (PostgreSQL's
// backends). Each counts its own time and its reaped children's (cutime,
// cstime), so a backend that exited between two samples is not lost. The
// processes are found anew at each sample: a restarted server, or a second
// API, counts too.
func sampleCPU(stackDir string) cpuSample {
	c := cpuSample{programs: map[string]float64{}, machine: machineBusy(), peak: map[string]int64{}}
	_, c.bench, _ = procStat(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	parent, used, roots := map[int]int{}, map[int]float64{}, map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		ppid, cpu, ok := procStat(pid)
		if !ok {
			continue
		}
		parent[pid], used[pid] = ppid, cpu
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmdline), stackDir) {
			argv0, _, _ := strings.Cut(string(cmdline), "\x00")
			roots[pid] = filepath.Base(argv0)
			status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if _, hwm, ok := strings.Cut(string(status), "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(hwm)[0], 10, 64)
				c.peak[roots[pid]] = max(c.peak[roots[pid]], kb<<10)
			}
		}
	}
	for pid, cpu := range used {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if name, ok := roots[p]; ok {
				c.programs[name] += cpu
				break
			}
		}
	}
	return c
}

// procStat reads a process's parent and its CPU time, with its reaped
// children's, in seconds.
func procStat(pid int) (ppid int, cpu float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may contain spaces: count fields
	// after it. ppid is the 4th field; utime, stime, cutime, cstime the 14th to 17th.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	var ticks float64
	for _, f := range fields[11:15] {
		v, _ := strconv.ParseFloat(f, 64)
		ticks += v
	}
	return ppid, ticks / clockTicks, true
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

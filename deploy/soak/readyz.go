package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sample is one answer of /readyz.
type sample struct {
	start, end time.Time
	status     int      // 0 when no answer came
	down       []string // the checks the body calls unavailable, sorted
	err        string   // when no answer came
}

// state is what a sample says, for spotting transitions: "200", "503 naming minio", ...
func (s sample) state() string {
	if s.status == 0 {
		return "no answer"
	}
	out := strconv.Itoa(s.status)
	if len(s.down) > 0 {
		out += " naming " + strings.Join(s.down, ", ")
	}
	return out
}

func (s sample) names(check string) bool { return slices.Contains(s.down, check) }

// readyzPoller asks /readyz every interval, one call at a time (a call takes
// up to the API's 3 s probe timeout while a dependency hangs), and keeps
// every answer.
type readyzPoller struct {
	mu      sync.Mutex
	samples []sample
}

func (p *readyzPoller) run(ctx context.Context, url string, every time.Duration) {
	httpc := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		s := probeReadyz(ctx, httpc, url)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.samples = append(p.samples, s)
		p.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(s.start.Add(every))):
		}
	}
}

func (p *readyzPoller) all() []sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

func probeReadyz(ctx context.Context, httpc *http.Client, url string) sample {
	s := sample{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		s.err, s.end = err.Error(), time.Now()
		return s
	}
	resp, err := httpc.Do(req)
	if err != nil {
		s.err, s.end = err.Error(), time.Now()
		return s
	}
	defer resp.Body.Close()
	var report struct {
		Checks map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&report)
	s.status, s.end = resp.StatusCode, time.Now()
	for name, c := range report.Checks {
		if c.Status != "ok" {
			s.down = append(s.down, name)
		}
	}
	slices.Sort(s.down)
	return s
}

// transition is /readyz changing its answer.
type transition struct {
	at    time.Time // when the first answer in the new state arrived
	state string
}

// transitions are the changes of state in the samples, the first sample included.
func transitions(samples []sample) []transition {
	var out []transition
	for _, s := range samples {
		if len(out) == 0 || out[len(out)-1].state != s.state() {
			out = append(out, transition{at: s.end, state: s.state()})
		}
	}
	return out
}

// outageWindow is when a dependency was down, as the soak made it: stopped
// from stopAt (signal sent) and gone from stoppedAt (process exited), until
// readyAt (started again and answering by the stack's own check). next is
// when the next fault began (zero for the last one).
type outageWindow struct {
	check                      string   // the /readyz check that should name it; "" when none should
	also                       []string // checks that may be named too
	code                       int      // with this status code
	stopAt, stoppedAt, readyAt time.Time
	next                       time.Time
}

// readyzMaxAge is how long the API answers /readyz from its last probe
// (health.Handlers.MaxAge, 2 s by default).
const readyzMaxAge = 2 * time.Second

// outageSeen is what /readyz said about one outage.
type outageSeen struct {
	firstSeen, lastSeen time.Time // the first and last answer naming the dependency, with the expected code
	inWindow            int       // answers that started and ended while the server was surely down
	naming              int       // of which named the dependency, with the expected code
	others              []string  // other checks named while it was down
	recovered           time.Time // the first 200 naming nothing that started after readyAt; zero when none
	steady              bool      // nothing was to be named: naming counts the answers 200 naming nothing
}

// seen says whether /readyz reported the outage while it lasted (naming it,
// with the window's status code) and said ready again afterwards. A margin
// of one second at both ends of the window leaves out answers racing the
// stop and the start, and the API's cache of its last probe (readyzMaxAge)
// may answer from before the stop for that long after it.
func seen(samples []sample, w outageWindow) outageSeen {
	if w.check == "" {
		return steady(samples, w)
	}
	var o outageSeen
	const margin = time.Second
	from, to := w.stoppedAt.Add(margin+readyzMaxAge), w.readyAt.Add(-margin)
	others := map[string]bool{}
	for _, s := range samples {
		if s.start.Before(w.stopAt) {
			continue
		}
		if s.status == w.code && s.names(w.check) && !s.start.After(w.readyAt.Add(margin)) {
			if o.firstSeen.IsZero() {
				o.firstSeen = s.end
			}
			o.lastSeen = s.end
		}
		if !s.start.Before(from) && !s.end.After(to) {
			o.inWindow++
			if s.status == w.code && s.names(w.check) {
				o.naming++
			}
			for _, d := range s.down {
				if d != w.check && !slices.Contains(w.also, d) {
					others[d] = true
				}
			}
		}
		if o.recovered.IsZero() && s.status == http.StatusOK && len(s.down) == 0 && !s.start.Before(w.readyAt) &&
			(w.next.IsZero() || s.end.Before(w.next)) {
			o.recovered = s.end
		}
	}
	for d := range others {
		o.others = append(o.others, d)
	}
	slices.Sort(o.others)
	return o
}

// steady is what /readyz said during a fault that takes nothing it checks
// down (a rolling restart of the APIs behind the proxy): every answer from
// the start to the end of the fault should be 200 naming nothing; others
// lists what else came.
func steady(samples []sample, w outageWindow) outageSeen {
	o := outageSeen{steady: true}
	others := map[string]bool{}
	for _, s := range samples {
		if s.start.Before(w.stopAt) || s.end.After(w.readyAt) {
			continue
		}
		o.inWindow++
		if s.status == http.StatusOK && len(s.down) == 0 {
			o.naming++
		} else {
			others[s.state()] = true
		}
	}
	for d := range others {
		o.others = append(o.others, d)
	}
	slices.Sort(o.others)
	o.recovered = w.readyAt
	return o
}

// ok is the verdict: seen at least once, named in every answer while surely
// down, nothing else named, and ready again before the next fault; for a
// fault that takes nothing down, 200 naming nothing in every answer.
func (o outageSeen) ok() bool {
	if o.steady {
		return o.inWindow > 0 && o.naming == o.inWindow
	}
	return !o.firstSeen.IsZero() && o.inWindow > 0 && o.naming == o.inWindow && len(o.others) == 0 && !o.recovered.IsZero()
}

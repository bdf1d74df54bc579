package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/workflows/request"
)

// The open part: many requests waiting on their 90-day timers on one
// worker. The aim: the worker's resident memory under openAimRSS with
// -open requests waiting and after it has served all of them once.
//
// How the requests are made. A submission through the API costs the API
// about 40 ms of CPU (three JPEG decodes) and the worker and the servers
// several times that; the worker, not the API, decides how fast requests
// reach the waiting state. So a few requests are submitted over HTTP, and
// the rest are made as the API's Submit makes them: the same rows in
// PostgreSQL (submission, applicant, documents) and a Request workflow
// started with the input the API builds, on the system's task queue, run by
// the real worker binary: validation of the three documents (read from
// MinIO, decoded, hashed), the signed PDF receipt stored in MinIO, the
// receipt email through Mailpit, the projection, the search attributes. The
// documents are the objects the HTTP submissions uploaded, shared: the
// API keeps each request's documents under its own keys, but the
// validation checks a document's content and hash, not its key, so the
// workflows do every step a submitted request does. Requests are started
// as the worker finishes them (at most -open-window in flight), as
// submissions arriving at the worker's pace would, not all at once.
const (
	openAimRSS     = 300 << 20
	openSeedDocs   = 4 // HTTP submissions whose documents the others share
	openService    = "driving_licence_inquiry"
	openMission    = "AT-VIE"
	openStallAfter = 3 * time.Minute
)

// knobs are the worker's tuning settings, as environment variables.
type knobs struct {
	workflowPollers, activityPollers, maxActivities, stickyCache int
}

func (k knobs) env() []string {
	return []string{
		"CONSULAR_WORKER_WORKFLOW_POLLERS=" + strconv.Itoa(k.workflowPollers),
		"CONSULAR_WORKER_ACTIVITY_POLLERS=" + strconv.Itoa(k.activityPollers),
		"CONSULAR_WORKER_MAX_ACTIVITIES=" + strconv.Itoa(k.maxActivities),
		"CONSULAR_WORKER_STICKY_CACHE=" + strconv.Itoa(k.stickyCache),
	}
}

func (k knobs) String() string {
	return fmt.Sprintf("wf %d, act %d, max %d, cache %d", k.workflowPollers, k.activityPollers, k.maxActivities, k.stickyCache)
}

func knobsOf(cfg config.Temporal) knobs {
	return knobs{cfg.WorkflowPollers, cfg.ActivityPollers, cfg.MaxActivities, cfg.StickyCacheSize}
}

// workerMemory is the worker's memory at one moment: resident (now and the
// peak since it started) from /proc, and the Go heap and the sticky cache
// from its /metrics.
type workerMemory struct {
	rss, peak      int64
	heapInuse      int64
	heapAlloc      int64
	goSys          int64 // memory the Go runtime holds from the OS
	goroutines     int64
	cached         int64 // workflows in the sticky cache
	metricsMissing bool
}

// creation is the making of a batch of requests up to the waiting state.
type creation struct {
	n, window int
	elapsed   time.Duration
	cpu       cpuTimes
	first     time.Duration // one request alone, start to receipt sent
}

func (c creation) rate() float64 { return float64(c.n) / c.elapsed.Seconds() }

// pickup is one restart of the worker and every waiting request served
// once: a staff action the request's state refuses, an Update whose
// validator says no. It needs a workflow task, so the worker loads the
// workflow (replaying its history when it is not in the sticky cache) and
// keeps it cached, as for a real action; a refused Update leaves no event
// in the history. Then the status query of every request: a query needs no
// workflow task, and the worker answers it from the cache or by a replay it
// does not keep.
type pickup struct {
	stopped   time.Duration // SIGTERM until the old worker exited
	ready     time.Duration // start until the new worker polls its task queue
	fresh     workerMemory  // when it polls, before any work
	one       time.Duration // the refused Update of one request, cold: a replay of its history
	oneCached time.Duration // the same again, from the sticky cache
	all       result        // the refused Update of every other waiting request
	total     time.Duration // start until the last answer
	after     workerMemory  // with the sticky cache full
	status    result        // then the status query of every waiting request
	events    [2]int        // the first request's history length before and after
}

type openReport struct {
	n        int
	clients  int
	knobs    knobs
	idle     workerMemory // a fresh worker before any request
	seedTook time.Duration
	create   creation
	waiting  workerMemory // with every request waiting, the creation's work done
	pickups  []pickup
	tuning   []tuningRow
	stopped  string // why the part ended early, if it did
}

// open is the state of the open part: its clients, the worker it runs, the
// requests it made.
type open struct {
	sys      *system
	cfg      config.Config
	temporal client.Client // with the payload codec, as the API's
	metrics  string        // the worker's /metrics URL
	extra    []string      // the running worker's settings
	docs     [][]storedDoc // document sets to share
	codes    []string      // the waiting requests
	workers  int           // workers started, for their log names
}

type storedDoc struct {
	kind, key, fileName, format, sha256 string
	size                                int64
}

// openOptions are the open and tuning parts' flags.
type openOptions struct {
	n, window, clients, restarts int
	requests                     int    // per tuning setting, made directly
	grid                         string // tuning settings
}

var openOpts openOptions

func init() {
	flag.IntVar(&openOpts.n, "open", 10000, "open: requests made to wait on their deadline timers on one worker")
	flag.IntVar(&openOpts.window, "open-window", 100, "open: requests started and not yet waiting, at most")
	flag.IntVar(&openOpts.clients, "open-clients", 16, "open: concurrent status queries after a worker restart")
	flag.IntVar(&openOpts.restarts, "open-restarts", 2, "open: worker restarts, each followed by the status of every waiting request")
	flag.IntVar(&openOpts.requests, "tuning-requests", 200, "tuning: requests made directly under each setting, for the worker's rate")
	flag.StringVar(&openOpts.grid, "tuning-grid", defaultGrid,
		"tuning: worker settings, each workflow pollers/activity pollers/max activities/sticky cache, comma-separated")
}

// defaultGrid varies one knob at a time around the defaults, and ends with
// the defaults again, so the noise between the first and last row shows.
const defaultGrid = "2/2/50/2000,4/2/50/2000,8/2/50/2000,2/4/50/2000,2/2/10/2000,2/2/200/2000,2/2/50/500,2/2/50/10000,2/2/50/2000"

func parseGrid(s string) ([]knobs, error) {
	var out []knobs
	for _, f := range strings.Split(s, ",") {
		var k knobs
		if n, err := fmt.Sscanf(strings.TrimSpace(f), "%d/%d/%d/%d", &k.workflowPollers, &k.activityPollers, &k.maxActivities, &k.stickyCache); err != nil || n != 4 ||
			k.workflowPollers < 1 || k.activityPollers < 1 || k.maxActivities < 1 || k.stickyCache < 1 {
			return nil, fmt.Errorf("-tuning-grid %q: want wf/act/max/cache settings, positive numbers, comma-separated", s)
		}
		out = append(out, k)
	}
	return out, nil
}

func measureOpen(ctx context.Context, rep *report, sys *system, cfg config.Config) error {
	if openOpts.n < 2 || openOpts.window < 1 || openOpts.clients < 1 {
		return errors.New("-open: want 2 or more; -open-window, -open-clients: 1 or more")
	}
	grid, err := parseGrid(openOpts.grid)
	if err != nil {
		return err
	}
	o := rep.opts
	c, err := temporalclient.New(cfg.Temporal, cfg.Keys.Payload, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	op := &open{sys: sys, cfg: cfg, temporal: c}
	or := &openReport{n: openOpts.n, clients: openOpts.clients, knobs: knobsOf(cfg.Temporal)}
	rep.open = or

	progress("open: a worker of its own, %s", or.knobs)
	if _, err := op.restart(ctx, nil); err != nil {
		return err
	}
	if err := op.waitPolling(ctx); err != nil {
		return err
	}
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	if or.idle, err = op.memory(ctx); err != nil {
		return err
	}

	progress("open: %d submissions over HTTP, whose documents the others share", openSeedDocs)
	begin := time.Now()
	if err := op.seed(ctx); err != nil {
		return err
	}
	or.seedTook = time.Since(begin)

	progress("open: one request alone, then %d, at most %d in flight", or.n, openOpts.window)
	var codes []string
	if or.create, codes, err = op.create(ctx, or.n, openOpts.window, true); err != nil {
		return err
	}
	op.codes = codes
	progress("open: %d requests waiting, made in %s (%.1f/s)", or.n, or.create.elapsed.Round(time.Second), or.create.rate())
	if err := op.verifyWaiting(ctx); err != nil {
		return err
	}
	// Let the last tasks' garbage go before reading the memory.
	if err := sleep(ctx, 10*time.Second); err != nil {
		return err
	}
	if or.waiting, err = op.memory(ctx); err != nil {
		return err
	}
	progress("open: worker RSS %.0f MB (peak %.0f MB), heap in use %.0f MB, %d workflows cached",
		mb(or.waiting.rss), mb(or.waiting.peak), mb(or.waiting.heapInuse), or.waiting.cached)

	for round := range openOpts.restarts {
		progress("open: restart %d: SIGTERM, start, a refused Update to each of the %d requests, then their status, from %d clients",
			round+1, len(op.codes), openOpts.clients)
		p, err := op.pickup(ctx, nil, openOpts.clients, true)
		if err != nil {
			return op.giveUp(ctx, or, err)
		}
		progress("  ready in %s, all answered %s after the start (%.0f/s, p99 %s), RSS %.0f MB (peak %.0f MB); status %.0f/s",
			ms(p.ready), p.total.Round(time.Millisecond), p.all.rate(), ms(p.all.p99()), mb(p.after.rss), mb(p.after.peak), p.status.rate())
		or.pickups = append(or.pickups, p)
	}

	if o.runs("tuning") {
		for i, k := range grid {
			progress("tuning %d of %d: %s", i+1, len(grid), k)
			row, err := op.tune(ctx, k, o)
			if err != nil {
				return op.giveUp(ctx, or, fmt.Errorf("tuning %s: %w", k, err))
			}
			or.tuning = append(or.tuning, row)
		}
	}
	return nil
}

// tuningRow is the worker under one setting of its knobs.
type tuningRow struct {
	knobs   knobs
	pickup  pickup   // the restart with this setting
	create  creation // requests made directly: the worker's rate, alone
	submit  result   // submissions over HTTP, 8 clients
	drained time.Duration
	behind  int
	end     workerMemory
}

// tune restarts the worker with one setting and measures, in order: the
// pickup of every waiting request, requests made directly (the worker's own
// rate, nothing else busy), and submissions over HTTP from aimClients
// clients until the worker has caught up with them.
func (op *open) tune(ctx context.Context, k knobs, o options) (tuningRow, error) {
	row := tuningRow{knobs: k}
	var err error
	if row.pickup, err = op.pickup(ctx, k.env(), openOpts.clients, false); err != nil {
		return row, err
	}
	progress("  ready in %s, %d picked up in %s (%.0f/s), RSS %.0f MB", ms(row.pickup.ready), len(op.codes),
		row.pickup.total.Round(time.Millisecond), row.pickup.all.rate(), mb(row.pickup.after.rss))
	if row.create, _, err = op.create(ctx, openOpts.requests, openOpts.window, false); err != nil {
		return row, err
	}
	progress("  %d requests made directly: %.1f/s", openOpts.requests, row.create.rate())
	before := op.sys.cpu()
	row.submit = load(ctx, aimClients, o.duration, op.sys.submit, func() { before = op.sys.cpu() })
	if row.drained, row.behind, err = op.sys.drain(ctx, o.drain); err != nil {
		return row, err
	}
	row.submit.cpu = op.sys.cpu().minus(before)
	if row.end, err = op.memory(ctx); err != nil {
		return row, err
	}
	progress("  submissions %.1f/s (p99 %s), the worker caught up %.1fs later; RSS %.0f MB, peak %.0f MB",
		row.submit.rate(), ms(row.submit.p99()), row.drained.Seconds(), mb(row.end.rss), mb(row.end.peak))
	return row, nil
}

// endToEnd is the submissions' rate counted until the worker caught up.
func (t tuningRow) endToEnd() float64 {
	d := t.submit.elapsed + t.drained
	if d <= 0 {
		return 0
	}
	return float64(t.submit.ok) / d.Seconds()
}

// giveUp ends the part after the requests were made (half an hour of
// work): the report keeps what was measured and says why it stopped.
func (op *open) giveUp(ctx context.Context, or *openReport, err error) error {
	if ctx.Err() != nil {
		return err
	}
	or.stopped = fmt.Sprintf("%v (see %s)", err, op.sys.worker.LogPath)
	progress("open: stopped early: %v", err)
	return nil
}

// restart stops the running worker (SIGTERM) and starts the worker binary
// again with the system's environment and extra settings, on a /metrics
// address of its own. It returns how long the old one took to stop; the new
// one is ready when the server has seen it poll.
func (op *open) restart(ctx context.Context, extra []string) (time.Duration, error) {
	var stopped time.Duration
	if op.sys.worker != nil {
		begin := time.Now()
		if err := op.sys.worker.Stop(stack.StopTimeout); err != nil {
			return 0, err
		}
		stopped = time.Since(begin)
	}
	port, err := stack.FreePort()
	if err != nil {
		return 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	op.metrics = "http://" + addr + "/metrics"
	op.extra = extra
	op.workers++
	cmd := exec.Command(filepath.Join(op.sys.bin, "workers"))
	cmd.Env = append(append(slices.Clip(op.sys.env), "CONSULAR_WORKER_HTTP_ADDR="+addr), extra...)
	p, err := stack.StartProcess("workers", filepath.Join(op.sys.logs, fmt.Sprintf("worker-open-%d.log", op.workers)), cmd)
	if err != nil {
		return 0, err
	}
	op.sys.worker = p
	return stopped, nil
}

// waitPolling waits until the server has seen the running worker poll its
// workflow task queue: this worker's identity (pid@host), not an earlier one's.
func (op *open) waitPolling(ctx context.Context) error {
	w := op.sys.worker
	prefix := fmt.Sprintf("%d@", w.Pid())
	return w.WaitFor(ctx, time.Minute, func(ctx context.Context) error {
		resp, err := op.temporal.DescribeTaskQueue(ctx, op.sys.queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return err
		}
		for _, p := range resp.Pollers {
			if strings.HasPrefix(p.GetIdentity(), prefix) {
				return nil
			}
		}
		return errors.New("the worker does not poll yet")
	})
}

// memory reads the running worker's memory.
func (op *open) memory(ctx context.Context) (workerMemory, error) {
	var m workerMemory
	var err error
	if m.rss, m.peak, err = op.sys.worker.RSS(); err != nil {
		return m, fmt.Errorf("worker memory: %w", err)
	}
	values, err := scrape(ctx, op.metrics)
	if err != nil {
		m.metricsMissing = true
		return m, nil
	}
	m.heapInuse = int64(values["go_memstats_heap_inuse_bytes"])
	m.heapAlloc = int64(values["go_memstats_heap_alloc_bytes"])
	m.goSys = int64(values["go_memstats_sys_bytes"])
	m.goroutines = int64(values["go_goroutines"])
	m.cached = int64(values["sticky_cache_size"])
	return m, nil
}

// scrape reads a Prometheus text page: each metric's value, summed over its
// labels; the SDK's sticky cache size under the short name sticky_cache_size.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	lines := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '}'); i >= 0 {
			name, rest = line[:strings.IndexByte(line, '{')], strings.TrimSpace(line[i+1:])
		}
		v, err := strconv.ParseFloat(strings.Fields(rest + " x")[0], 64)
		if err != nil {
			continue
		}
		if strings.HasSuffix(name, "sticky_cache_size") {
			name = "sticky_cache_size"
		}
		out[name] += v
	}
	return out, lines.Err()
}

// seed submits a few requests over HTTP, waits until the worker has sent
// their receipts, and keeps their documents for the others.
func (op *open) seed(ctx context.Context) error {
	if err := op.waitPolling(ctx); err != nil {
		return err
	}
	if len(op.sys.bodies) == 0 {
		bodies, err := benchBodies(openSeedDocs)
		if err != nil {
			return err
		}
		op.sys.bodies = bodies
	}
	if err := parallel(ctx, openSeedDocs, openSeedDocs, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		return op.sys.submit(ctx)
	}); err != nil {
		return fmt.Errorf("submit the seed requests: %w", err)
	}
	if _, behind, err := op.sys.drain(ctx, 2*time.Minute); err != nil {
		return err
	} else if behind > 0 {
		return fmt.Errorf("the worker has not sent %d seed receipts after 2 minutes; see %s", behind, op.sys.worker.LogPath)
	}
	rows, err := op.sys.db.Query(ctx, `SELECT d.tracking_code, d.kind, d.object_key, d.file_name, d.format, d.size_bytes, d.sha256
		FROM request_documents d JOIN submissions s USING (tracking_code)
		WHERE s.service_code = $1 ORDER BY s.submitted_at DESC, d.tracking_code, d.kind LIMIT $2`, openService, 3*openSeedDocs)
	if err != nil {
		return fmt.Errorf("read the seed documents: %w", err)
	}
	sets := map[string][]storedDoc{}
	var order []string
	for rows.Next() {
		var code string
		var d storedDoc
		if err := rows.Scan(&code, &d.kind, &d.key, &d.fileName, &d.format, &d.size, &d.sha256); err != nil {
			rows.Close()
			return err
		}
		if _, ok := sets[code]; !ok {
			order = append(order, code)
		}
		sets[code] = append(sets[code], d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, code := range order {
		if len(sets[code]) == len(documentKinds) {
			op.docs = append(op.docs, sets[code])
		}
	}
	if len(op.docs) == 0 {
		return errors.New("the seed submissions left no documents")
	}
	return nil
}

// benchBodies builds n submission bodies from fresh documents.
func benchBodies(n int) ([]body, error) {
	docs := make([][]byte, max(n, len(documentKinds)))
	for i := range docs {
		var err error
		if docs[i], err = noiseJPEG(uint64(1000 + i)); err != nil {
			return nil, err
		}
	}
	return submissionBodies(docs, n)
}

// receipts counts receipts sent.
func (op *open) receipts(ctx context.Context) (int, error) {
	var n int
	err := op.sys.db.QueryRow(ctx, `SELECT count(*) FROM sent_mail WHERE kind = 'receipt'`).Scan(&n)
	return n, err
}

// create makes n requests as the API does and waits until every one has
// sent its receipt and waits for an appointment, at most window started
// and not yet there. With alone, one request goes first on its own, timed.
func (op *open) create(ctx context.Context, n, window int, alone bool) (creation, []string, error) {
	c := creation{n: n, window: window}
	base, err := op.receipts(ctx)
	if err != nil {
		return c, nil, err
	}
	codes := make([]string, n)
	for i := range codes {
		code, err := consular.NewTrackingCode()
		if err != nil {
			return c, nil, err
		}
		codes[i] = string(code)
	}
	start := func(ctx context.Context, i int) error { return op.startRequest(ctx, codes[i], op.docs[i%len(op.docs)]) }
	first := 0
	if alone {
		begin := time.Now()
		if err := start(ctx, 0); err != nil {
			return c, nil, err
		}
		for {
			done, err := op.receipts(ctx)
			if err != nil {
				return c, nil, err
			}
			if done > base {
				break
			}
			if time.Since(begin) > time.Minute {
				return c, nil, fmt.Errorf("one request did not send its receipt within a minute; see %s", op.sys.worker.LogPath)
			}
			if err := sleep(ctx, 10*time.Millisecond); err != nil {
				return c, nil, err
			}
		}
		c.first = time.Since(begin)
		first, base = 1, base+1
	}

	var started, finished atomic.Int64
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchErr := make(chan error, 1)
	go func() {
		var err error
		defer func() { watchErr <- err }()
		last, lastAt, report := int64(0), time.Now(), time.Now()
		for watchCtx.Err() == nil {
			var done int
			if done, err = op.receipts(watchCtx); err != nil {
				if watchCtx.Err() != nil {
					err = nil
				}
				return
			}
			d := int64(done - base)
			finished.Store(d)
			if d >= int64(n-first) {
				return
			}
			if d != last {
				last, lastAt = d, time.Now()
			} else if time.Since(lastAt) > openStallAfter {
				err = fmt.Errorf("no request reached the waiting state for %s (%d of %d); see %s", openStallAfter, d, n-first, op.sys.worker.LogPath)
				return
			}
			if time.Since(report) > 30*time.Second {
				report = time.Now()
				progress("  %d of %d waiting, %d in flight", d+int64(first), n, started.Load()-d)
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	before, begin := op.sys.cpu(), time.Now()
	err = parallel(ctx, 16, n-first, func(ctx context.Context, i int) error {
		for started.Load()-finished.Load() >= int64(window) {
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
		started.Add(1)
		return start(ctx, first+i)
	})
	if err != nil {
		return c, nil, fmt.Errorf("start request workflows: %w", err)
	}
	if err := <-watchErr; err != nil {
		return c, nil, err
	}
	if err := ctx.Err(); err != nil {
		return c, nil, err
	}
	c.elapsed = time.Since(begin)
	c.cpu = op.sys.cpu().minus(before)
	if alone {
		c.elapsed += c.first
	}
	return c, codes, nil
}

// startRequest does what the API's Submit does after the upload: the
// submission's rows in one transaction, then the workflow, with the same
// options and input.
func (op *open) startRequest(ctx context.Context, code string, docs []storedDoc) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Second)
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at)
		VALUES ($1, $1, $2, $3, $4)`, code, openService, openMission, now)
	batch.Queue(`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language)
		VALUES ($1, $2, $3, 'Bench Applicant', 'en')`, code, nationalID(), "open-"+strings.ToLower(code)+"@example.org")
	refs := make([]consular.Document, len(docs))
	for i, d := range docs {
		batch.Queue(`INSERT INTO request_documents (tracking_code, kind, object_key, file_name, format, size_bytes, sha256)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, code, d.kind, d.key, d.fileName, d.format, d.size, d.sha256)
		refs[i] = consular.Document{Kind: d.kind, ObjectKey: d.key, SHA256: d.sha256}
	}
	tx, err := op.sys.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("save request %s: %w", code, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	cfg := op.cfg
	policy := request.Policy{Deadline: cfg.Requests.Deadline, Reminders: cfg.Requests.Reminders, Retention: cfg.Requests.Retention}
	if svc, ok := consular.ServiceByCode(openService); ok {
		policy.FourEyes = svc.FourEyes
	}
	return request.Start(ctx, op.temporal, op.sys.queue, request.Input{
		TrackingCode: code, ServiceCode: openService, MissionCode: openMission,
		SubmittedAt: now, Documents: refs, Policy: policy,
	})
}

// verifyWaiting checks that every request made is awaiting an appointment
// in the projection and has its receipt sent.
func (op *open) verifyWaiting(ctx context.Context) error {
	var waiting, sent int
	if err := op.sys.db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM requests WHERE tracking_code = ANY($1) AND status = 'awaiting_appointment'),
		(SELECT count(*) FROM sent_mail WHERE tracking_code = ANY($1) AND kind = 'receipt')`, op.codes).Scan(&waiting, &sent); err != nil {
		return fmt.Errorf("count the waiting requests: %w", err)
	}
	if waiting != len(op.codes) || sent != len(op.codes) {
		return fmt.Errorf("of %d requests made, %d await an appointment and %d have their receipt", len(op.codes), waiting, sent)
	}
	return nil
}

// pickup restarts the worker with extra settings and serves every waiting
// request once (see pickup), from clients clients; with queries, their
// status too.
func (op *open) pickup(ctx context.Context, extra []string, clients int, queries bool) (pickup, error) {
	var p pickup
	if len(op.codes) < 2 {
		return p, errors.New("no waiting requests to pick up")
	}
	events, err := history(ctx, op.temporal, op.codes[0])
	if err != nil {
		return p, err
	}
	p.events[0] = len(events)
	if p.stopped, err = op.restart(ctx, extra); err != nil {
		return p, err
	}
	begin := time.Now()
	if err := op.waitPolling(ctx); err != nil {
		return p, err
	}
	p.ready = time.Since(begin)
	if p.fresh, err = op.memory(ctx); err != nil {
		return p, err
	}
	t := time.Now()
	if err := op.refused(ctx, op.codes[0]); err != nil {
		return p, err
	}
	p.one = time.Since(t)
	t = time.Now()
	if err := op.refused(ctx, op.codes[0]); err != nil {
		return p, err
	}
	p.oneCached = time.Since(t)

	p.all = op.each(ctx, op.codes[1:], clients, op.refused)
	p.total = time.Since(begin)
	// A few failures (a timeout under load) are reported with the figures;
	// only a worker that serves nothing fails the part.
	if p.all.ok == 0 {
		return p, fmt.Errorf("no refused Update came back, first error: %w", p.all.firstErr)
	}
	if p.after, err = op.memory(ctx); err != nil {
		return p, err
	}
	if queries {
		p.status = op.each(ctx, op.codes, clients, op.status)
	}
	if events, err = history(ctx, op.temporal, op.codes[0]); err != nil {
		return p, err
	}
	p.events[1] = len(events)
	return p, nil
}

// refused asks a request waiting for an appointment to record the
// applicant's attendance, which its validator refuses: nothing is booked.
func (op *open) refused(ctx context.Context, code string) error {
	_, err := request.Act(ctx, op.temporal, code, request.UpdateRecordAttendance, "", request.StaffInput{StaffID: "bench"})
	var refused *request.RefusedError
	if errors.As(err, &refused) && !refused.Closed {
		return nil
	}
	if err == nil {
		return fmt.Errorf("request %s recorded an attendance without an appointment", code)
	}
	return fmt.Errorf("update %s: %w", code, err)
}

// each runs do for every request in codes from clients clients, each
// taking the next request as soon as its last one answered, and times them.
func (op *open) each(ctx context.Context, codes []string, clients int, do func(context.Context, string) error) result {
	var next, failed atomic.Int64
	lat := make([]time.Duration, len(codes))
	errs := make([]error, len(codes))
	var wg sync.WaitGroup
	begin := time.Now()
	for range min(clients, len(codes)) {
		wg.Go(func() {
			// A worker that cannot answer fails a few, not all.
			for ctx.Err() == nil && failed.Load() < int64(max(10, len(codes)/100)) {
				i := int(next.Add(1) - 1)
				if i >= len(codes) {
					return
				}
				qctx, cancel := context.WithTimeout(ctx, opTimeout)
				t := time.Now()
				errs[i] = do(qctx, codes[i])
				lat[i] = time.Since(t)
				if errs[i] != nil {
					failed.Add(1)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	r := result{clients: clients, elapsed: time.Since(begin)}
	for i, err := range errs {
		if err == nil && lat[i] == 0 {
			r.short = true // not asked: the queries stopped early
			continue
		}
		if err != nil {
			r.failed++
			if r.firstErr == nil {
				r.firstErr = err
			}
			continue
		}
		r.lat = append(r.lat, lat[i])
	}
	r.ok = len(r.lat)
	slices.Sort(r.lat)
	return r
}

// status queries one request's status and expects it to await an appointment.
func (op *open) status(ctx context.Context, code string) error {
	view, err := request.Status(ctx, op.temporal, code)
	if err != nil {
		return fmt.Errorf("query %s: %w", code, err)
	}
	if view.Status != consular.StatusAwaitingAppointment {
		return fmt.Errorf("request %s is %s, not %s", code, view.Status, consular.StatusAwaitingAppointment)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// printOpen writes the open part's tables.
func (r *report) printOpen(w io.Writer) {
	or := r.open
	if or == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	c := or.create
	p("\nopen requests: %d Request workflows awaiting an appointment (receipt sent) on one worker (%s)\n", or.n, or.knobs)
	p("  made: %d submissions over HTTP (%.1fs), then %d as the API's Submit makes them, sharing their documents,\n", openSeedDocs, or.seedTook.Seconds(), c.n)
	p("  at most %d in flight: %s, %.1f/s (one alone, start to receipt sent: %s)\n", c.window, c.elapsed.Round(time.Second), c.rate(), ms(c.first))
	if c.n > 0 {
		per := func(v float64) float64 { return 1000 * v / float64(c.n) }
		p("  CPU ms per request while they were made: worker %.1f, servers %.1f (Temporal %.1f, PostgreSQL %.1f, Mailpit %.1f), bench %.1f, other work %.1f; machine busy %.2f of %d cores\n",
			per(c.cpu.worker), per(c.cpu.servers), per(c.cpu.temporal), per(c.cpu.postgres), per(c.cpu.mailpit), per(c.cpu.bench), per(c.cpu.other()),
			c.cpu.machine/c.elapsed.Seconds(), runtime.NumCPU())
	}

	p("\n%-48s %8s %8s %9s %8s %10s %7s\n", "worker memory", "RSS MB", "peak MB", "heap MB", "Go MB", "goroutines", "cached")
	row := func(label string, m workerMemory) {
		if m.metricsMissing {
			p("%-48s %8.1f %8.1f %9s %8s %10s %7s\n", label, mb(m.rss), mb(m.peak), "-", "-", "-", "-")
			return
		}
		p("%-48s %8.1f %8.1f %9.1f %8.1f %10d %7d\n", label, mb(m.rss), mb(m.peak), mb(m.heapInuse), mb(m.goSys), m.goroutines, m.cached)
	}
	row("  idle: a fresh worker, before any request", or.idle)
	row(fmt.Sprintf("  %d waiting, just made", or.n), or.waiting)
	for i, pk := range or.pickups {
		row(fmt.Sprintf("  restart %d: polling, before any work", i+1), pk.fresh)
		row(fmt.Sprintf("  restart %d: after an Update to each of %d", i+1, or.n), pk.after)
	}
	p("  (heap: go_memstats_heap_inuse_bytes; Go: go_memstats_sys_bytes; cached: the SDK's sticky_cache_size)\n")
	worst := or.waiting.rss
	for _, pk := range or.pickups {
		worst = max(worst, pk.after.rss)
	}
	verdict := "PASS"
	if worst >= openAimRSS {
		verdict = "MISS"
	}
	p("aim: worker RSS under %.0f MB with %d requests waiting and after serving them all: %s (highest %.1f MB)\n", mb(openAimRSS), or.n, verdict, mb(worst))
	if or.idle.rss > 0 {
		p("against the idle worker (%.1f MB): %d waiting x%.2f", mb(or.idle.rss), or.n, float64(or.waiting.rss)/float64(or.idle.rss))
		for i, pk := range or.pickups {
			p(", after restart %d and the pickup x%.2f", i+1, float64(pk.after.rss)/float64(or.idle.rss))
		}
		p("\n")
	}
	for i, pk := range or.pickups {
		if pk.after.cached > 0 && !pk.after.metricsMissing {
			p("  restart %d: %.1f KB of RSS, %.1f KB of heap per cached workflow (over the fresh worker)\n", i+1,
				float64(pk.after.rss-pk.fresh.rss)/1024/float64(pk.after.cached), float64(pk.after.heapInuse-pk.fresh.heapInuse)/1024/float64(pk.after.cached))
		}
	}

	if len(or.pickups) > 0 {
		p("\n%-26s %6s %7s %8s %8s %8s %7s %7s %8s %8s %7s %7s %7s\n", "worker restart, then each", "stop", "ready", "one cold", "one warm",
			"all", "rate/s", "p50 ms", "p99 ms", "status/s", "p50 ms", "p99 ms", "events")
		for i, pk := range or.pickups {
			p("%-26s %4.0fms %5.0fms %6.1fms %6.1fms %7.1fs %7.1f %7.1f %8.1f %8.1f %7.1f %7.1f %3d/%-3d\n", fmt.Sprintf("  restart %d, %d clients", i+1, or.clients),
				msf(pk.stopped), msf(pk.ready), msf(pk.one), msf(pk.oneCached), pk.total.Seconds(), pk.all.rate(), msf(pk.all.p50()), msf(pk.all.p99()),
				pk.status.rate(), msf(pk.status.p50()), msf(pk.status.p99()), pk.events[0], pk.events[1])
		}
		p("  (each: a refused Update (record attendance, nothing booked), which needs a workflow task; ready: start until the server sees\n")
		p("   the worker poll; all: start until every waiting request answered; status: then the status query of each;\n")
		p("   events: the first request's history length before and after, unchanged when refusals leave no trace)\n")
		for i, pk := range or.pickups {
			if pk.all.ok == 0 || pk.one == 0 {
				continue
			}
			per := pk.all.elapsed / time.Duration(pk.all.ok)
			p("  restart %d: %.2f ms of wall time per request in the bulk, against one cold replay alone %.1f ms: x%.2f; p50 in the bulk x%.1f of it\n",
				i+1, msf(per), msf(pk.one), float64(per)/float64(pk.one), float64(pk.all.p50())/float64(pk.one))
		}
	}

	if len(or.pickups) > 0 {
		for i, pk := range or.pickups {
			if pk.all.failed > 0 {
				p("  restart %d: %d refused Updates went wrong, first: %v\n", i+1, pk.all.failed, pk.all.firstErr)
			}
			if pk.all.short || pk.status.short {
				p("  restart %d: stopped asking after too many failures: not every request answered\n", i+1)
			}
			if pk.status.failed > 0 {
				p("  restart %d: %d status queries failed, first: %v\n", i+1, pk.status.failed, pk.status.firstErr)
			}
		}
	}

	if len(or.tuning) > 0 {
		p("\nworker tuning: one restart per setting (wf pollers/activity pollers/max activities/sticky cache); per row, in order:\n")
		p("  a refused Update to each of the %d waiting requests (%d clients), %d requests made directly (the worker alone),\n", or.n, or.clients, openOpts.requests)
		p("  submissions over HTTP from %d clients for %s until the worker caught up\n", aimClients, r.opts.duration)
		p("%-15s %6s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s %8s %8s\n", "wf/act/max/cache", "ready", "pickup", "pick/s", "p99 ms", "RSS MB", "made/s",
			"subm/s", "p99 ms", "caught", "end2end/s", "CPU ms", "RSS MB", "peak MB")
		for _, t := range or.tuning {
			k := t.knobs
			cpu := 0.0
			if t.submit.ok > 0 {
				cpu = 1000 * t.submit.cpu.system() / float64(t.submit.ok)
			}
			p("%-15s %5.0fms %7.1fs %8.0f %8.0f %8.1f %8.1f %8.1f %8.0f %7.1fs %9.1f %9.0f %8.1f %8.1f\n",
				fmt.Sprintf("%d/%d/%d/%d", k.workflowPollers, k.activityPollers, k.maxActivities, k.stickyCache),
				msf(t.pickup.ready), t.pickup.total.Seconds(), t.pickup.all.rate(), msf(t.pickup.all.p99()), mb(t.pickup.after.rss), t.create.rate(),
				t.submit.rate(), msf(t.submit.p99()), t.drained.Seconds(), t.endToEnd(), cpu, mb(t.end.rss), mb(t.end.peak))
		}
		p("  (RSS after the pickup, then at the end of the row; end2end: submissions per second counted until the worker caught up;\n")
		p("   CPU ms: of the API, the worker and the servers per submission, until the worker caught up)\n")
		for _, t := range or.tuning {
			if t.behind > 0 {
				p("  %s: the worker still had %d receipts to send after %s\n", t.knobs, t.behind, r.opts.drain)
			}
			if t.submit.failed > 0 {
				p("  %s: %d submissions failed, first: %v\n", t.knobs, t.submit.failed, t.submit.firstErr)
			}
			if t.pickup.all.failed > 0 {
				p("  %s: %d refused Updates went wrong, first: %v\n", t.knobs, t.pickup.all.failed, t.pickup.all.firstErr)
			}
		}
	}
	if or.stopped != "" {
		p("\nthe open part stopped early: %s\n", or.stopped)
	}
}

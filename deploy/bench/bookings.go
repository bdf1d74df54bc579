package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/booking"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/workflows/request"
)

// Missions the bench books at: one for uncontended bookings (the default
// template: weekdays, 30-minute slots of 3 seats), another for the
// contended ones, whose seats per slot the bench sets, so neither disturbs
// the other's slots.
const (
	bookingMission   = "AT-VIE"
	contendedMission = "DE-BER"
	bookingService   = "apostille"
)

// applicant is a request waiting for an appointment and what finds it.
type applicant struct {
	nationalID string
	code       string
}

// bookings books appointments through the API's /api/v1/appointments, for
// requests the bench creates as the end-to-end tests do (quickRequest): the
// submission's rows in the bench's database and a real Request workflow on
// the system's task queue, without documents.
type bookings struct {
	sys      *system
	temporal client.Client // with the payload codec, as the API's
	queue    string
	policy   request.Policy
	lead     time.Duration

	pool  chan applicant // requests of the booking mission still awaiting an appointment
	seats *seats

	mu      sync.Mutex
	samples []bookingSample // the current measurement's bookings, for their workflows' histories

	contendedSlots []string // the contended mission's free slots, one per round, in order
	contendedNext  int
	contendedPool  []applicant
}

// bookingSample is one booking as the client saw it.
type bookingSample struct {
	code       string
	sent, done time.Time
}

func newBookings(sys *system, cfg config.Config) (*bookings, error) {
	c, err := temporalclient.New(cfg.Temporal, cfg.Keys.Payload, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	return &bookings{sys: sys, temporal: c, queue: sys.queue, lead: cfg.Booking.LeadTime,
		policy: request.Policy{Deadline: cfg.Requests.Deadline, Reminders: cfg.Requests.Reminders, Retention: cfg.Requests.Retention},
		pool:   make(chan applicant, 1<<16)}, nil
}

func (b *bookings) close() { b.temporal.Close() }

// nationalID is a random ten-digit national ID that passes the checksum.
func nationalID() string {
	for {
		var d [10]int
		s := 0
		for i := range 9 {
			d[i] = rand.IntN(10)
			s += d[i] * (10 - i)
		}
		if r := s % 11; r < 2 {
			d[9] = r
		} else {
			d[9] = 11 - r
		}
		same := true
		var out strings.Builder
		for _, v := range d {
			same = same && v == d[0]
			out.WriteByte(byte('0' + v))
		}
		if !same {
			return out.String()
		}
	}
}

// create makes n requests of the mission and waits until their workflows
// have issued the receipt and wait for an appointment.
func (b *bookings) create(ctx context.Context, mission string, n int) ([]applicant, error) {
	if n <= 0 {
		return nil, nil
	}
	out := make([]applicant, n)
	now := time.Now().UTC().Truncate(time.Second)
	batch := &pgx.Batch{}
	for i := range out {
		c, err := consular.NewTrackingCode()
		if err != nil {
			return nil, err
		}
		out[i] = applicant{nationalID: nationalID(), code: string(c)}
		batch.Queue(`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at)
			VALUES ($1, $1, $2, $3, $4)`, out[i].code, bookingService, mission, now)
		batch.Queue(`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language)
			VALUES ($1, $2, $3, 'Bench Applicant', 'en')`, out[i].code, out[i].nationalID, out[i].code+"@example.org")
	}
	if err := b.sys.db.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("insert requests: %w", err)
	}
	if err := parallel(ctx, 16, n, func(ctx context.Context, i int) error {
		return request.Start(ctx, b.temporal, b.queue,
			request.Input{TrackingCode: out[i].code, ServiceCode: bookingService, MissionCode: mission, SubmittedAt: now, Policy: b.policy})
	}); err != nil {
		return nil, fmt.Errorf("start request workflows: %w", err)
	}
	codes := make([]string, n)
	for i, a := range out {
		codes[i] = a.code
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var waiting int
		if err := b.sys.db.QueryRow(ctx, `SELECT count(*) FROM requests WHERE tracking_code = ANY($1) AND status = 'awaiting_appointment'`,
			codes).Scan(&waiting); err != nil {
			return nil, fmt.Errorf("count requests awaiting an appointment: %w", err)
		}
		if waiting == n {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d new requests await an appointment after 3 minutes", waiting, n)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// fill tops the booking mission's pool up to n requests.
func (b *bookings) fill(ctx context.Context, n int) error {
	more, err := b.create(ctx, bookingMission, n-len(b.pool))
	if err != nil {
		return err
	}
	for _, a := range more {
		b.pool <- a
	}
	return nil
}

// call sends a JSON call to /api/v1/appointments and returns the status and
// the error message of an error answer.
func (b *bookings) call(ctx context.Context, method, path string, body any, out any) (int, string, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, method, b.sys.url+"/api/v1/appointments"+path, bytes.NewReader(data))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.sys.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s /api/v1/appointments%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("%s /api/v1/appointments%s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		msg := e.Error.Message
		if msg == "" {
			msg = string(bytes.TrimSpace(raw[:min(len(raw), 200)]))
		}
		return resp.StatusCode, msg, nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("%s /api/v1/appointments%s: %w", method, path, err)
		}
	}
	return resp.StatusCode, "", nil
}

// freeSlots asks the API which slots a request may book, and keeps those
// safely inside the lead time and the deadline for the next minutes.
func (b *bookings) freeSlots(ctx context.Context, a applicant) ([]booking.SlotView, error) {
	var view booking.RequestView
	status, msg, err := b.call(ctx, http.MethodPost, "/lookup", map[string]string{"national_id": a.nationalID, "tracking_code": a.code}, &view)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("lookup: %d %s", status, msg)
	}
	from := time.Now().Add(b.lead + time.Hour)
	until := view.Deadline.Add(-24 * time.Hour)
	var out []booking.SlotView
	for _, s := range view.Slots {
		if s.StartsAt.After(from) && s.EndsAt.Before(until) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup of %s: no free slot offered", a.code)
	}
	return out, nil
}

// seats hands out the booking mission's free seats round-robin over its
// slots: consecutive bookings go to different slots, so concurrent clients
// never wait for one another's seat, and each slot fills up only after every
// other slot has had as many bookings.
type seats struct {
	order []string // starts_at as the API offered it, one entry per seat
	next  atomic.Int64
	slots int
}

func newSeats(slots []booking.SlotView) *seats {
	s := &seats{slots: len(slots)}
	for round := 0; ; round++ {
		added := false
		for _, slot := range slots {
			if slot.Free > round {
				s.order = append(s.order, slot.StartsAt.Format(time.RFC3339))
				added = true
			}
		}
		if !added {
			return s
		}
	}
}

func (s *seats) take() (string, bool) {
	i := s.next.Add(1) - 1
	if i >= int64(len(s.order)) {
		return "", false
	}
	return s.order[i], true
}

// book books a request of the pool into the next free seat and expects 200.
func (b *bookings) book(ctx context.Context) error {
	var a applicant
	select {
	case a = <-b.pool:
	default:
		return errExhausted
	}
	at, ok := b.seats.take()
	if !ok {
		return errExhausted
	}
	sent := time.Now()
	status, msg, err := b.call(ctx, http.MethodPost, "", map[string]string{"national_id": a.nationalID, "tracking_code": a.code, "starts_at": at}, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("POST /api/v1/appointments: %d %s", status, msg)
	}
	done := time.Now()
	b.mu.Lock()
	b.samples = append(b.samples, bookingSample{code: a.code, sent: sent, done: done})
	b.mu.Unlock()
	return nil
}

// startSampling forgets the bookings so far (the warm-up's).
func (b *bookings) startSampling() {
	b.mu.Lock()
	b.samples = nil
	b.mu.Unlock()
}

func (b *bookings) takeSamples() []bookingSample {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.samples
	b.samples = nil
	return s
}

// phases is where one booking's time went, from its workflow's history and
// the client's clock (one machine, one clock).
type phases struct {
	total      time.Duration // the client's round trip
	beforeTask time.Duration // client sent -> the Update's workflow task scheduled: HTTP, lookup limits, slots, seat, Update call
	accept     time.Duration // -> Update accepted: the task waits for the worker, validator, handler starts
	projection time.Duration // -> projection activity completed (search attributes, activity round trip)
	projWait   time.Duration //    of which the activity waited for a worker slot
	toMail     time.Duration // -> mail activity scheduled: a workflow task
	mail       time.Duration // -> mail activity completed (confirmation with invitation over SMTP)
	mailWait   time.Duration //    of which the activity waited for a worker slot
	complete   time.Duration // -> Update completed: a workflow task
	after      time.Duration // -> the client has the answer: result to the API, settle, reload, JSON
	tasks      int           // workflow tasks the Update took
}

// bookingPhases reads a booked request's history.
func bookingPhases(ctx context.Context, c client.Client, s bookingSample) (phases, error) {
	events, err := history(ctx, c, s.code)
	if err != nil {
		return phases{}, err
	}
	p := phases{total: s.done.Sub(s.sent)}
	var sched, accepted, completed time.Time
	type act struct{ scheduled, started, done time.Time }
	acts := map[int64]*act{}
	var order []string
	byName := map[string]*act{}
	for _, e := range events {
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			if accepted.IsZero() {
				sched = at
			} else if completed.IsZero() {
				p.tasks++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			if e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName() == request.UpdateBookAppointment {
				accepted = at
				p.tasks = 1
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			if !accepted.IsZero() && completed.IsZero() {
				completed = at
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if !accepted.IsZero() && completed.IsZero() {
				a := &act{scheduled: at}
				acts[e.GetEventId()] = a
				name := e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
				order = append(order, name)
				byName[name] = a
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if a, ok := acts[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]; ok {
				a.started = at
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if a, ok := acts[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]; ok {
				a.done = at
			}
		}
	}
	rec, send := byName["Record"], byName["Send"]
	if accepted.IsZero() || completed.IsZero() || rec == nil || send == nil || rec.done.IsZero() || send.done.IsZero() {
		return phases{}, fmt.Errorf("history of %s: not the expected booking (activities %v)", s.code, order)
	}
	p.beforeTask = sched.Sub(s.sent)
	p.accept = accepted.Sub(sched)
	p.projection = rec.done.Sub(accepted)
	p.projWait = rec.started.Sub(rec.scheduled)
	p.toMail = send.scheduled.Sub(rec.done)
	p.mail = send.done.Sub(send.scheduled)
	p.mailWait = send.started.Sub(send.scheduled)
	p.complete = completed.Sub(send.done)
	p.after = s.done.Sub(completed)
	return p, nil
}

// medianPhases is each phase's median over the samples (so they need not
// add up to the median total).
func medianPhases(all []phases) phases {
	if len(all) == 0 {
		return phases{}
	}
	med := func(f func(phases) time.Duration) time.Duration {
		v := make([]time.Duration, len(all))
		for i, p := range all {
			v[i] = f(p)
		}
		slices.Sort(v)
		return pct(v, 0.5)
	}
	tasks := make([]int, len(all))
	for i, p := range all {
		tasks[i] = p.tasks
	}
	slices.Sort(tasks)
	return phases{
		total:      med(func(p phases) time.Duration { return p.total }),
		beforeTask: med(func(p phases) time.Duration { return p.beforeTask }),
		accept:     med(func(p phases) time.Duration { return p.accept }),
		projection: med(func(p phases) time.Duration { return p.projection }),
		projWait:   med(func(p phases) time.Duration { return p.projWait }),
		toMail:     med(func(p phases) time.Duration { return p.toMail }),
		mail:       med(func(p phases) time.Duration { return p.mail }),
		mailWait:   med(func(p phases) time.Duration { return p.mailWait }),
		complete:   med(func(p phases) time.Duration { return p.complete }),
		after:      med(func(p phases) time.Duration { return p.after }),
		tasks:      tasks[len(tasks)/2],
	}
}

// contended is one run of rounds in which every client tries to book the
// same slot at once, each for a request of its own.
type contended struct {
	clients, seats, rounds int
	booked, full, other    int
	firstOther             string
	elapsed                time.Duration   // the rounds' time, from release to the last answer
	bookedLat, fullLat     []time.Duration // sorted
	check                  check
}

func (c contended) attempts() int { return c.booked + c.full + c.other }

func (c contended) rate() float64 {
	if c.elapsed <= 0 {
		return 0
	}
	return float64(c.attempts()) / c.elapsed.Seconds()
}

// prepareContended sets the contended mission's seats per slot, finds its
// free slots once, and tops its pool up for rounds of n clients.
func (b *bookings) prepareContended(ctx context.Context, n, seatsPerSlot, rounds int) error {
	if _, err := b.sys.db.Exec(ctx, `UPDATE schedule_templates SET capacity = $2 WHERE mission_code = $1`, contendedMission, seatsPerSlot); err != nil {
		return fmt.Errorf("set %s's seats per slot: %w", contendedMission, err)
	}
	need := n + seatsPerSlot*rounds // the winners of each round leave the pool
	more, err := b.create(ctx, contendedMission, need-len(b.contendedPool))
	if err != nil {
		return err
	}
	b.contendedPool = append(b.contendedPool, more...)
	if b.contendedSlots == nil {
		slots, err := b.freeSlots(ctx, b.contendedPool[0])
		if err != nil {
			return err
		}
		for _, s := range slots {
			b.contendedSlots = append(b.contendedSlots, s.StartsAt.Format(time.RFC3339))
		}
	}
	if len(b.contendedSlots)-b.contendedNext < rounds {
		return fmt.Errorf("%s has %d fresh slots left, want %d", contendedMission, len(b.contendedSlots)-b.contendedNext, rounds)
	}
	return nil
}

// contend runs the rounds: in each, n clients, released together, book one
// fresh slot of seatsPerSlot seats. Losers keep their request for the next round.
func (b *bookings) contend(ctx context.Context, n, seatsPerSlot, rounds int) contended {
	c := contended{clients: n, seats: seatsPerSlot, rounds: rounds}
	fullMessage := "This time has just been taken; choose another."
	for range rounds {
		if ctx.Err() != nil {
			break
		}
		slot := b.contendedSlots[b.contendedNext]
		b.contendedNext++
		players := b.contendedPool[:n]
		type answer struct {
			status int
			msg    string
			err    error
			took   time.Duration
		}
		answers := make([]answer, n)
		var ready, wg sync.WaitGroup
		release := make(chan struct{})
		ready.Add(n)
		for i, a := range players {
			wg.Go(func() {
				body := map[string]string{"national_id": a.nationalID, "tracking_code": a.code, "starts_at": slot}
				ctx, cancel := context.WithTimeout(ctx, opTimeout)
				defer cancel()
				ready.Done()
				<-release
				begin := time.Now()
				status, msg, err := b.call(ctx, http.MethodPost, "", body, nil)
				answers[i] = answer{status: status, msg: msg, err: err, took: time.Since(begin)}
			})
		}
		ready.Wait()
		begin := time.Now()
		close(release)
		wg.Wait()
		c.elapsed += time.Since(begin)
		var losers []applicant
		for i, a := range answers {
			switch {
			case a.err == nil && a.status == http.StatusOK:
				c.booked++
				c.bookedLat = append(c.bookedLat, a.took)
			case a.err == nil && a.status == http.StatusConflict && a.msg == fullMessage:
				c.full++
				c.fullLat = append(c.fullLat, a.took)
				losers = append(losers, players[i])
			default:
				c.other++
				if c.firstOther == "" {
					if a.err != nil {
						c.firstOther = a.err.Error()
					} else {
						c.firstOther = fmt.Sprintf("%d %s", a.status, a.msg)
					}
				}
			}
		}
		b.contendedPool = append(losers, b.contendedPool[n:]...)
	}
	slices.Sort(c.bookedLat)
	slices.Sort(c.fullLat)
	return c
}

// check is what the database and the workflows say about a mission's seats
// after a run: a slot is overbooked when more appointments are booked than it
// has seats, by the seat counter, the appointments, the projection of the
// workflows or Temporal's own search attributes.
type check struct {
	slots        int      // slots with a seat taken
	seats        int      // seats taken (slot_seats.booked)
	appointments int      // booked appointments
	pending      int      // appointments still pending
	projected    int      // requests in appointment_booked (projection)
	searched     int      // workflows with RequestStatus appointment_booked (Temporal visibility)
	overbooked   []string // slots with more bookings than seats, by any witness
	disagree     []string // witnesses that do not add up (no overbooking, but a leak or a lag)
}

func (c check) ok() bool { return len(c.overbooked) == 0 }

// verify checks a mission's slots, waiting up to 15 s for the projection and
// Temporal's visibility to catch up before calling a difference a disagreement.
func (b *bookings) verify(ctx context.Context, mission string) (check, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := b.verifyOnce(ctx, mission)
		if err != nil || len(c.disagree) == 0 || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (b *bookings) verifyOnce(ctx context.Context, mission string) (check, error) {
	var c check
	rows, err := b.sys.db.Query(ctx, `
		SELECT s.starts_at, s.capacity, s.booked,
			(SELECT count(*) FROM appointments a WHERE a.mission_code = s.mission_code AND a.starts_at = s.starts_at AND a.status = 'booked'),
			(SELECT count(*) FROM appointments a WHERE a.mission_code = s.mission_code AND a.starts_at = s.starts_at AND a.status = 'pending'),
			(SELECT count(*) FROM requests r WHERE r.mission_code = s.mission_code AND r.appointment_at = s.starts_at AND r.status = 'appointment_booked')
		FROM slot_seats s WHERE s.mission_code = $1 ORDER BY s.starts_at`, mission)
	if err != nil {
		return c, fmt.Errorf("check %s's seats: %w", mission, err)
	}
	for rows.Next() {
		var at time.Time
		var capacity, seats, booked, pending, projected int
		if err := rows.Scan(&at, &capacity, &seats, &booked, &pending, &projected); err != nil {
			rows.Close()
			return c, err
		}
		c.slots++
		c.seats += seats
		c.appointments += booked
		c.pending += pending
		c.projected += projected
		slot := at.UTC().Format(time.RFC3339)
		if seats > capacity || booked > capacity || projected > capacity {
			c.overbooked = append(c.overbooked, fmt.Sprintf("%s %s: %d seats, %d seats taken, %d booked appointments, %d requests booked",
				mission, slot, capacity, seats, booked, projected))
		}
		if seats != booked+pending || projected != booked {
			c.disagree = append(c.disagree, fmt.Sprintf("%s %s: %d seats taken, %d booked + %d pending appointments, %d requests booked",
				mission, slot, seats, booked, pending, projected))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, err
	}
	// Bookings the projection holds at a time no seat was taken for.
	var stray int
	if err := b.sys.db.QueryRow(ctx, `SELECT count(*) FROM requests r WHERE r.mission_code = $1 AND r.status = 'appointment_booked'
		AND NOT EXISTS (SELECT 1 FROM slot_seats s WHERE s.mission_code = r.mission_code AND s.starts_at = r.appointment_at)`, mission).Scan(&stray); err != nil {
		return c, err
	}
	if stray > 0 {
		c.overbooked = append(c.overbooked, fmt.Sprintf("%s: %d requests booked at a time with no seat taken", mission, stray))
	}
	// The workflows' own word: their search attributes.
	resp, err := b.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("TaskQueue = '%s' AND %s = '%s' AND %s = 'appointment_booked'", b.queue,
			request.MissionAttribute.GetName(), mission, request.StatusAttribute.GetName())})
	if err != nil {
		return c, fmt.Errorf("count booked workflows: %w", err)
	}
	c.searched = int(resp.GetCount())
	if c.searched != c.appointments {
		c.disagree = append(c.disagree, fmt.Sprintf("%s: %d workflows say appointment_booked, %d booked appointments", mission, c.searched, c.appointments))
	}
	if c.searched > c.seats {
		c.overbooked = append(c.overbooked, fmt.Sprintf("%s: %d workflows booked for %d seats taken", mission, c.searched, c.seats))
	}
	return c, nil
}

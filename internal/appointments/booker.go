// Package appointments is the appointment system, apart from HTTP: a request
// found by national ID and tracking code (applicants) or by tracking code at
// the member's mission (staff), the free slots of its mission before its
// deadline, the missions' schedules, and the seats. Booking, rescheduling
// and cancelling are one saga for every door: take a seat in PostgreSQL (so
// a slot is never overbooked), ask the request's workflow by Update, and
// give the seat back if it refuses. The workflow holds the rules (one
// appointment at a time, the reschedule limit, the change cut-off) and
// releases the seat of an appointment the request no longer has
// (ReleaseSeat, run by its activity); a reconciliation settles what a crash
// left pending.
package appointments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/metrics"
	"github.com/openconsular/consular/internal/schedule"
	"github.com/openconsular/consular/workflows/request"
)

// Booker books appointments.
type Booker struct {
	DB       *pgxpool.Pool
	Temporal client.Client
	Limits   Limiter
	Config   config.Booking
	Logger   *slog.Logger
}

// Limiter counts attempts per key in fixed windows (api/web's, in PostgreSQL).
type Limiter interface {
	Allow(ctx context.Context, key string, max int, window time.Duration) (ok bool, until time.Time, err error)
}

// Request is a request as the appointment system sees it.
type Request struct {
	TrackingCode string
	ServiceCode  string
	MissionCode  string
	Mission      consular.Text
	Location     *time.Location
	Status       consular.Status
	Deadline     time.Time
	Appointment  *Appointment // the booked one, if any
	// StaffID is the member acting for the mission (ForStaff), empty for the
	// applicant: staff may book any slot from now on (no lead time) and
	// cancel within the cut-off; the workflow's other rules hold for both.
	StaffID string
}

// Bookable says whether the applicant may book or change an appointment
// online. It is all the appointment system ever tells of a request's state:
// a decision, a withdrawal or an archive all read "not bookable" alike, so a
// national ID and a tracking code never reveal an outcome that travels by
// email only.
func (r Request) Bookable() bool {
	return r.Status == consular.StatusAwaitingAppointment || r.Status == consular.StatusAppointmentBooked
}

// open refuses a change to a request that takes none, before a seat is
// taken: applicants hear ErrClosed, staff the request's status.
func (r Request) open() error {
	switch {
	case r.Bookable():
		return nil
	case r.StaffID == "":
		return ErrClosed
	}
	return RefusedError{Reason: fmt.Sprintf("the request is %s; it takes no appointment", r.Status)}
}

// Appointment is a booked appointment.
type Appointment struct {
	ID       int64
	StartsAt time.Time
	EndsAt   time.Time
}

// Slot is a slot with its free seats.
type Slot struct {
	schedule.Slot
	Free int
}

// Errors the pages and the JSON API show as they are.
var (
	// ErrNoMatch never says whether the tracking code exists.
	ErrNoMatch  = errors.New("no request matches this national ID and tracking code")
	ErrSlotFull = errors.New("this slot has just been taken; choose another")
	ErrNoSlot   = errors.New("this time is not offered for the request")
	ErrInFlight = errors.New("another change to this appointment is in progress; try again in a moment")
	ErrPending  = errors.New("the booking is saved and being confirmed; you will receive an email")
	// ErrClosed is every "no" that depends on the request's state, worded
	// alike whatever the state is (see Request.Bookable).
	ErrClosed = errors.New("this request takes no appointments or changes online; if you have a question, contact the mission")
)

// LockedError says lookups are refused for a while after too many attempts.
type LockedError struct{ Until time.Time }

func (e LockedError) Error() string {
	return "too many attempts; try again after " + e.Until.UTC().Format("15:04 MST")
}

// RefusedError is the request's workflow refusing a change. Under an
// appointment rule (Broken.Rule set) every door says the rule in the same
// words; otherwise the reason names the request's state, which is for
// staff: applicants hear ErrClosed instead (see Shown).
type RefusedError struct {
	Reason string
	Broken request.Broken
}

// Shown is the refusal as an applicant may read it.
func (e RefusedError) Shown() error {
	if e.Broken.Rule == "" {
		return ErrClosed
	}
	return e
}

func (e RefusedError) Error() string { return e.Reason }

// Find looks a request up by national ID and tracking code, with the limits
// that keep anyone from trying codes: per IP and per tracking code, and a
// lock on the code after repeated failures.
func (b *Booker) Find(ctx context.Context, nationalID, trackingCode, ip string) (Request, error) {
	for _, limit := range []struct {
		key    string
		max    int
		window time.Duration
	}{{"booking:ip:" + ip, b.Config.LookupsPerIP, 15 * time.Minute}, {"booking:code:" + consular.NormalizeDigits(trackingCode), b.Config.LookupsPerCode, 15 * time.Minute}} {
		ok, until, err := b.Limits.Allow(ctx, limit.key, limit.max, limit.window)
		if err != nil {
			return Request{}, err
		}
		if !ok {
			return Request{}, LockedError{Until: until}
		}
	}
	code, err := consular.ParseTrackingCode(trackingCode)
	if err != nil {
		return Request{}, ErrNoMatch
	}
	id, err := consular.ParseNationalID(nationalID)
	if err != nil {
		return Request{}, ErrNoMatch
	}
	// Failures lock the code: a few wrong national IDs and it rests.
	var failures int
	_ = b.DB.QueryRow(ctx, `SELECT COALESCE(sum(hits), 0) FROM rate_limits WHERE key = $1 AND window_start > now() - interval '30 minutes'`,
		"booking:fail:"+string(code)).Scan(&failures)
	if failures >= b.Config.FailuresBeforeLock {
		return Request{}, LockedError{Until: time.Now().Add(30 * time.Minute)}
	}
	r, err := b.load(ctx, string(code), id)
	if errors.Is(err, ErrNoMatch) {
		_, _, _ = b.Limits.Allow(ctx, "booking:fail:"+string(code), 1<<30, 30*time.Minute)
	}
	return r, err
}

// ForStaff finds a request at the member's mission (mission "" for an
// admin: any), for staff acting on its appointment.
func (b *Booker) ForStaff(ctx context.Context, code, mission, staffID string) (Request, error) {
	r, err := b.read(ctx, code, `WHERE r.tracking_code = $1 AND ($2 = '' OR r.mission_code = $2)`, mission)
	r.StaffID = staffID
	return r, err
}

// Load reads a request found before (Find, ForStaff) again, by its
// tracking code: after a change, or on the next page of a session that
// proved it. A request whose applicant's data has been purged since is
// ErrNoMatch.
func (b *Booker) Load(ctx context.Context, code, staffID string) (Request, error) {
	r, err := b.read(ctx, code, `JOIN request_applicants a USING (tracking_code) WHERE r.tracking_code = $1`)
	r.StaffID = staffID
	return r, err
}

// load reads the request with its mission and booked appointment, if the
// national ID is the applicant's.
func (b *Booker) load(ctx context.Context, code, nationalID string) (Request, error) {
	return b.read(ctx, code, `JOIN request_applicants a USING (tracking_code) WHERE r.tracking_code = $1 AND a.national_id = $2`, nationalID)
}

// read reads the request found by where ($1 the tracking code, then args).
func (b *Booker) read(ctx context.Context, code, where string, args ...any) (Request, error) {
	r := Request{TrackingCode: code}
	var zone, status string
	err := b.DB.QueryRow(ctx, `
		SELECT r.service_code, r.mission_code, m.name_fa, m.name_en, m.time_zone, r.status, r.deadline_at
		FROM requests r
		JOIN missions m ON m.code = r.mission_code `+where, append([]any{code}, args...)...).
		Scan(&r.ServiceCode, &r.MissionCode, &r.Mission.Fa, &r.Mission.En, &zone, &status, &r.Deadline)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNoMatch
	}
	if err != nil {
		return r, fmt.Errorf("find request: %w", err)
	}
	r.Status = consular.Status(status)
	if r.Location, err = time.LoadLocation(zone); err != nil {
		return r, err
	}
	var a Appointment
	err = b.DB.QueryRow(ctx, `SELECT id, starts_at, ends_at FROM appointments WHERE tracking_code = $1 AND status = 'booked'`, code).
		Scan(&a.ID, &a.StartsAt, &a.EndsAt)
	if err == nil {
		a.StartsAt, a.EndsAt = a.StartsAt.In(r.Location), a.EndsAt.In(r.Location)
		r.Appointment = &a
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return r, err
	}
	return r, nil
}

// Slots lists the free slots a request may book: from the lead time on,
// before its deadline, at its mission, for its service.
func (b *Booker) Slots(ctx context.Context, r Request) ([]Slot, error) {
	all, err := b.Calendar(ctx, r)
	if err != nil {
		return nil, err
	}
	free := all[:0]
	for _, s := range all {
		if s.Free > 0 {
			free = append(free, s)
		}
	}
	return free, nil
}

// Calendar is Slots with the full ones kept (Free 0), so the booking page
// can show a full day as full instead of leaving it out.
func (b *Booker) Calendar(ctx context.Context, r Request) ([]Slot, error) {
	from := time.Now().Add(b.Config.LeadTime)
	all, err := b.derive(ctx, r, from)
	if err != nil {
		return nil, err
	}
	taken := map[time.Time]int{}
	rows, err := b.DB.Query(ctx, `SELECT starts_at, booked FROM slot_seats WHERE mission_code = $1 AND starts_at >= $2 AND starts_at < $3`,
		r.MissionCode, from, r.Deadline)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var at time.Time
		var n int
		if err := rows.Scan(&at, &n); err != nil {
			rows.Close()
			return nil, err
		}
		taken[at.UTC()] = n
	}
	rows.Close()
	var out []Slot
	for _, s := range all {
		if s.End.After(r.Deadline) {
			continue
		}
		out = append(out, Slot{Slot: s, Free: max(s.Capacity-taken[s.Start.UTC()], 0)})
	}
	return out, nil
}

// derive builds the slots of the request's mission for its service, from
// from until its deadline, from the mission's templates and closures.
func (b *Booker) derive(ctx context.Context, r Request, from time.Time) ([]schedule.Slot, error) {
	mission := r.MissionCode
	var templates []schedule.Template
	rows, err := b.DB.Query(ctx, `SELECT id, weekdays, slot_minutes, capacity, services, valid_from, valid_until
		FROM schedule_templates WHERE mission_code = $1`, mission)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t schedule.Template
		var weekdays []byte
		var validFrom, validUntil *time.Time
		if err := rows.Scan(&t.ID, &weekdays, &t.SlotMinutes, &t.Capacity, &t.Services, &validFrom, &validUntil); err != nil {
			rows.Close()
			return nil, err
		}
		if t.Weekdays, err = ParseWeekdays(weekdays); err != nil {
			rows.Close()
			return nil, fmt.Errorf("template %d: %w", t.ID, err)
		}
		if validFrom != nil {
			t.ValidFrom = schedule.DateOf(*validFrom)
		}
		if validUntil != nil {
			t.ValidUntil = schedule.DateOf(*validUntil)
		}
		templates = append(templates, t)
	}
	rows.Close()
	var closures []schedule.Closure
	rows, err = b.DB.Query(ctx, `SELECT day, to_char(start_time, 'HH24:MI'), to_char(end_time, 'HH24:MI'), reason FROM closures WHERE mission_code = $1`, mission)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var day time.Time
		var start, end *string
		var c schedule.Closure
		if err := rows.Scan(&day, &start, &end, &c.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		c.Date = schedule.DateOf(day)
		if start != nil && end != nil {
			s, err1 := schedule.ParseClock(*start)
			e, err2 := schedule.ParseClock(*end)
			if err1 == nil && err2 == nil {
				c.Start, c.End = s, e
			}
		}
		closures = append(closures, c)
	}
	rows.Close()
	return schedule.Slots(r.Location, schedule.Offering(templates, r.ServiceCode), closures, from, r.Deadline), nil
}

// ParseWeekdays reads {"1": [["09:00","12:30"]], ...} (ISO weekdays).
func ParseWeekdays(b []byte) (map[time.Weekday][]schedule.Period, error) {
	var raw map[string][][2]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := map[time.Weekday][]schedule.Period{}
	for day, periods := range raw {
		n, err := strconv.Atoi(day)
		if err != nil || n < 1 || n > 7 {
			return nil, fmt.Errorf("weekday %q: want 1 (Monday) to 7 (Sunday)", day)
		}
		for _, p := range periods {
			start, err1 := schedule.ParseClock(p[0])
			end, err2 := schedule.ParseClock(p[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("weekday %s: bad period %v", day, p)
			}
			out[time.Weekday(n%7)] = append(out[time.Weekday(n%7)], schedule.Period{Start: start, End: end})
		}
	}
	return out, nil
}

// offered finds the slot starting at startsAt among those the request may
// book: from the lead time on for the applicant, from now for staff.
func (b *Booker) offered(ctx context.Context, r Request, startsAt time.Time) (schedule.Slot, error) {
	from := time.Now().Add(b.Config.LeadTime)
	if r.StaffID != "" {
		from = time.Now()
	}
	all, err := b.derive(ctx, r, from)
	if err != nil {
		return schedule.Slot{}, err
	}
	for _, s := range all {
		if s.Start.Equal(startsAt) && !s.End.After(r.Deadline) {
			return s, nil
		}
	}
	return schedule.Slot{}, ErrNoSlot
}

// Book takes a seat in the slot and asks the request's workflow to accept
// the appointment; if it refuses, the seat is given back at once.
func (b *Booker) Book(ctx context.Context, r Request, startsAt time.Time) (Appointment, error) {
	if err := r.open(); err != nil {
		return Appointment{}, err
	}
	a, err := b.change(ctx, r, startsAt, nil)
	count("book", err)
	return a, err
}

// Reschedule moves the booked appointment to another slot; the workflow
// holds the limits (how often, how late).
func (b *Booker) Reschedule(ctx context.Context, r Request, startsAt time.Time) (Appointment, error) {
	if err := r.open(); err != nil {
		return Appointment{}, err
	}
	if r.Appointment == nil {
		return Appointment{}, RefusedError{Reason: "the request has no appointment to reschedule"}
	}
	a, err := b.change(ctx, r, startsAt, r.Appointment)
	count("reschedule", err)
	return a, err
}

// change books startsAt, in place of old when old is set.
func (b *Booker) change(ctx context.Context, r Request, startsAt time.Time, old *Appointment) (Appointment, error) {
	slot, err := b.offered(ctx, r, startsAt)
	seated := err == nil
	if errors.Is(err, ErrNoSlot) && r.StaffID != "" {
		// The mission receives the applicant outside its online schedule
		// (a walk-in, an extra hour): no seat is taken. The workflow still
		// checks the time is ahead and before the deadline.
		slot, err = schedule.Slot{Start: startsAt, End: startsAt.Add(30 * time.Minute)}, nil
	}
	if err != nil {
		return Appointment{}, err
	}
	a := Appointment{StartsAt: slot.Start, EndsAt: slot.End}
	tx, err := b.DB.Begin(ctx)
	if err != nil {
		return a, err
	}
	defer tx.Rollback(ctx)
	if seated {
		var booked int
		err = tx.QueryRow(ctx, `INSERT INTO slot_seats (mission_code, starts_at, capacity, booked) VALUES ($1, $2, $3, 1)
			ON CONFLICT (mission_code, starts_at) DO UPDATE SET booked = slot_seats.booked + 1
			WHERE slot_seats.booked < slot_seats.capacity
			RETURNING booked`, r.MissionCode, slot.Start, slot.Capacity).Scan(&booked)
		if errors.Is(err, pgx.ErrNoRows) {
			return a, ErrSlotFull
		}
		if err != nil {
			return a, fmt.Errorf("take a seat: %w", err)
		}
	}
	var replaces *int64
	if old != nil {
		replaces = &old.ID
	}
	err = tx.QueryRow(ctx, `INSERT INTO appointments (tracking_code, mission_code, starts_at, ends_at, status, replaces, seated)
		VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id`, r.TrackingCode, r.MissionCode, slot.Start, slot.End, replaces, seated).Scan(&a.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return a, ErrInFlight
		}
		return a, fmt.Errorf("save appointment: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return a, err
	}
	return a, b.settle(ctx, r.TrackingCode, a.ID)
}

// Booked and Pending are the appointment states that hold a seat.
const (
	Pending = "pending" // a seat taken, the workflow not yet asked or not yet answered
	Booked  = "booked"  // the request's appointment
)

// Seat names an appointment whose seat is given back: the request's
// appointment at At, in state From, becomes To.
type Seat struct {
	TrackingCode string
	At           time.Time
	From, To     string
	Refusal      string // why the workflow refused it, for a pending one
}

// releaseSQL gives an appointment's seat back, once: a second call finds
// the appointment no longer in its state and changes nothing.
const releaseSQL = `
WITH released AS (
    UPDATE appointments SET status = $4, refusal = $5, updated_at = now()
    WHERE tracking_code = $1 AND starts_at = $2 AND status = $3 RETURNING mission_code, starts_at, seated)
UPDATE slot_seats s SET booked = s.booked - 1
FROM released r WHERE r.seated AND s.mission_code = r.mission_code AND s.starts_at = r.starts_at AND s.booked > 0`

// ReleaseSeat frees a seat: the request's workflow does it for an
// appointment the request no longer has (its activity), the booking saga
// for one the workflow refused.
func ReleaseSeat(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, s Seat) error {
	_, err := db.Exec(ctx, releaseSQL, s.TrackingCode, s.At, s.From, s.To, s.Refusal)
	return err
}

// count records a booking's outcome in the metrics.
func count(action string, err error) {
	outcome := "ok"
	var refused RefusedError
	switch {
	case errors.Is(err, ErrSlotFull):
		outcome = "slot_full"
	case errors.As(err, &refused):
		outcome = "refused"
	case errors.Is(err, ErrPending):
		outcome = "pending"
	case err != nil:
		outcome = "failed"
	}
	metrics.Bookings.WithLabelValues(action, outcome).Inc()
}

// settle sends a pending appointment's Update and records the outcome:
// booked (the workflow has freed the seat of the appointment it replaces),
// or refused (its own seat given back). A failure to reach Temporal leaves
// it pending for the reconciliation. The update ID is the appointment's,
// so sending it again is harmless.
func (b *Booker) settle(ctx context.Context, code string, id int64) error {
	var startsAt time.Time
	var replaces *int64
	if err := b.DB.QueryRow(ctx, `SELECT starts_at, replaces FROM appointments WHERE id = $1 AND status = 'pending'`, id).
		Scan(&startsAt, &replaces); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // settled already
		}
		return err
	}
	name := request.UpdateBookAppointment
	if replaces != nil {
		name = request.UpdateRescheduleAppointment
	}
	err := b.update(ctx, code, name, "appointment:"+strconv.FormatInt(id, 10), request.AppointmentInput{At: startsAt.UTC()})
	var refused RefusedError
	switch {
	case errors.As(err, &refused):
		if err := ReleaseSeat(ctx, b.DB, Seat{TrackingCode: code, At: startsAt, From: Pending, To: "refused", Refusal: refused.Reason}); err != nil {
			return err
		}
		return refused
	case err != nil:
		b.Logger.WarnContext(ctx, "appointment left pending", "tracking_code", code, "appointment", id, "err", err)
		return ErrPending
	}
	_, err = b.DB.Exec(ctx, `UPDATE appointments SET status = 'booked', updated_at = now() WHERE id = $1 AND status = 'pending'`, id)
	return err
}

// Cancel asks the request's workflow to cancel the booked appointment; the
// workflow frees its seat. The applicant is held to the change cut-off.
func (b *Booker) Cancel(ctx context.Context, r Request) error {
	if err := r.open(); err != nil {
		return err
	}
	if r.Appointment == nil {
		return RefusedError{Reason: "the request has no appointment to cancel"}
	}
	err := b.update(ctx, r.TrackingCode, request.UpdateCancelAppointment, "cancel:"+strconv.FormatInt(r.Appointment.ID, 10), request.StaffInput{StaffID: r.StaffID})
	count("cancel", err)
	return err
}

// SendReceiptAgain asks the request's workflow to email its receipt again
// to the address on the request (the applicant lost it): each call is one
// email, and shows in the request's history as an Update. A request closed
// since it was looked up has nothing to send.
func (b *Booker) SendReceiptAgain(ctx context.Context, code string) error {
	id := "receipt-again:" + time.Now().UTC().Format(time.RFC3339Nano)
	_, err := request.Act(ctx, b.Temporal, code, request.UpdateSendReceiptAgain, id, request.ReceiptAgainInput{})
	var refused *request.RefusedError
	if errors.As(err, &refused) {
		return nil
	}
	return err
}

// Withdraw withdraws the request; the workflow frees its appointment's seat.
func (b *Booker) Withdraw(ctx context.Context, r Request) error {
	if !r.Bookable() {
		return ErrClosed
	}
	return b.update(ctx, r.TrackingCode, request.UpdateWithdraw, "withdraw:"+r.TrackingCode, request.WithdrawInput{})
}

// update sends an update and waits for its outcome; a refusal by the
// workflow (or a request whose workflow has ended) is a RefusedError.
func (b *Booker) update(ctx context.Context, code, name, id string, arg any) error {
	_, err := request.Act(ctx, b.Temporal, code, name, id, arg)
	var refused *request.RefusedError
	if errors.As(err, &refused) {
		return RefusedError{Reason: refused.Reason, Broken: refused.Broken}
	}
	return err
}

// Reconcile settles appointments left pending (the process died between
// taking the seat and hearing from the workflow) by sending their update
// again: the same update ID, so the workflow applies it at most once.
func (b *Booker) Reconcile(ctx context.Context, olderThan time.Duration) (int, error) {
	rows, err := b.DB.Query(ctx, `SELECT id, tracking_code FROM appointments WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1)`,
		olderThan.Seconds())
	if err != nil {
		return 0, err
	}
	type pending struct {
		id   int64
		code string
	}
	var all []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.code); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, p)
	}
	rows.Close()
	settled := 0
	for _, p := range all {
		err := b.settle(ctx, p.code, p.id)
		var refused RefusedError
		if err == nil || errors.As(err, &refused) {
			settled++
		}
	}
	return settled, nil
}

// RunReconciliation reconciles at start and then every interval until ctx ends.
func (b *Booker) RunReconciliation(ctx context.Context, interval time.Duration) {
	for {
		if n, err := b.Reconcile(ctx, 30*time.Second); err != nil {
			b.Logger.WarnContext(ctx, "appointment reconciliation", "err", err)
		} else if n > 0 {
			b.Logger.InfoContext(ctx, "appointments reconciled", "settled", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func isUniqueViolation(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "23505"
}

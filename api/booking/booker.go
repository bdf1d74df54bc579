// Package booking is the appointment system: applicants (no account needed)
// find their request with national ID and tracking code, see the free slots
// of its mission before its deadline, and book, reschedule or cancel; the
// request's workflow takes each change as an Update. Seats are counted in
// PostgreSQL so a slot is never overbooked, and a reconciliation brings the
// database and the workflows back in line after a crash.
package booking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/web"
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
	Limits   *web.Limiter
	Config   config.Booking
	Logger   *slog.Logger
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
}

// Bookable says whether the applicant may book or change an appointment
// online. It is all the appointment system ever tells of a request's state:
// a decision, a withdrawal or an archive all read "not bookable" alike, so a
// national ID and a tracking code never reveal an outcome that travels by
// email only.
func (r Request) Bookable() bool {
	return r.Status == consular.StatusAwaitingAppointment || r.Status == consular.StatusAppointmentBooked
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

// RefusedError carries the reason a change was refused. A refusal by the
// workflow names the request's state, which is for staff: applicants hear
// ErrClosed instead (see Shown).
type RefusedError struct {
	Reason       string
	FromWorkflow bool
}

// Shown is the refusal as an applicant may read it.
func (e RefusedError) Shown() error {
	if e.FromWorkflow {
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

// load reads the request with its mission and booked appointment.
func (b *Booker) load(ctx context.Context, code, nationalID string) (Request, error) {
	r := Request{TrackingCode: code}
	var zone, status string
	err := b.DB.QueryRow(ctx, `
		SELECT r.service_code, r.mission_code, m.name_fa, m.name_en, m.time_zone, r.status, r.deadline_at
		FROM requests r
		JOIN request_applicants a USING (tracking_code)
		JOIN missions m ON m.code = r.mission_code
		WHERE r.tracking_code = $1 AND a.national_id = $2`, code, nationalID).
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
	var free []Slot
	for _, s := range all {
		if s.End.After(r.Deadline) {
			continue
		}
		if n := s.Capacity - taken[s.Start.UTC()]; n > 0 {
			free = append(free, Slot{Slot: s, Free: n})
		}
	}
	return free, nil
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

// offered finds the slot starting at startsAt among those the request may book.
func (b *Booker) offered(ctx context.Context, r Request, startsAt time.Time) (schedule.Slot, error) {
	all, err := b.derive(ctx, r, time.Now().Add(b.Config.LeadTime))
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
	if !r.Bookable() {
		return Appointment{}, ErrClosed
	}
	if r.Appointment != nil {
		return Appointment{}, RefusedError{Reason: "the request already has an appointment; reschedule or cancel it instead"}
	}
	a, err := b.change(ctx, r, startsAt, nil)
	count("book", err)
	return a, err
}

// Reschedule moves the booked appointment to another slot, within the limits.
func (b *Booker) Reschedule(ctx context.Context, r Request, startsAt time.Time) (Appointment, error) {
	if !r.Bookable() {
		return Appointment{}, ErrClosed
	}
	if r.Appointment == nil {
		return Appointment{}, RefusedError{Reason: "the request has no appointment to reschedule"}
	}
	if r.Appointment.StartsAt.Equal(startsAt) {
		return Appointment{}, RefusedError{Reason: "the appointment is already at that time"}
	}
	if err := b.changeable(ctx, r); err != nil {
		return Appointment{}, err
	}
	var moves int
	if err := b.DB.QueryRow(ctx, `SELECT count(*) FROM appointments WHERE tracking_code = $1 AND status = 'rescheduled'`, r.TrackingCode).Scan(&moves); err != nil {
		return Appointment{}, err
	}
	if moves >= b.Config.MaxReschedules {
		return Appointment{}, RefusedError{Reason: fmt.Sprintf("an appointment can be rescheduled at most %d times; cancel it and book again", b.Config.MaxReschedules)}
	}
	a, err := b.change(ctx, r, startsAt, r.Appointment)
	count("reschedule", err)
	return a, err
}

// changeable refuses changes too close to the appointment.
func (b *Booker) changeable(ctx context.Context, r Request) error {
	if time.Until(r.Appointment.StartsAt) < b.Config.ChangeCutoff {
		return RefusedError{Reason: fmt.Sprintf("the appointment is less than %d hours away and can no longer be changed online; contact the mission",
			int(b.Config.ChangeCutoff.Hours()))}
	}
	return nil
}

// change books startsAt, in place of old when old is set.
func (b *Booker) change(ctx context.Context, r Request, startsAt time.Time, old *Appointment) (Appointment, error) {
	slot, err := b.offered(ctx, r, startsAt)
	if err != nil {
		return Appointment{}, err
	}
	a := Appointment{StartsAt: slot.Start, EndsAt: slot.End}
	tx, err := b.DB.Begin(ctx)
	if err != nil {
		return a, err
	}
	defer tx.Rollback(ctx)
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
	var replaces *int64
	if old != nil {
		replaces = &old.ID
	}
	err = tx.QueryRow(ctx, `INSERT INTO appointments (tracking_code, mission_code, starts_at, ends_at, status, replaces)
		VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id`, r.TrackingCode, r.MissionCode, slot.Start, slot.End, replaces).Scan(&a.ID)
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

// settle sends a pending appointment's Update and records the outcome: booked
// (releasing the slot it replaces), or refused (releasing its own seat). A
// failure to reach Temporal leaves it pending for the reconciliation. The
// update ID is the appointment's, so sending it again is harmless.
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
		if err := b.release(ctx, id, "refused", refused.Reason); err != nil {
			return err
		}
		return refused
	case err != nil:
		b.Logger.WarnContext(ctx, "appointment left pending", "tracking_code", code, "appointment", id, "err", err)
		return ErrPending
	}
	tx, err := b.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if replaces != nil {
		if err := releaseTx(ctx, tx, *replaces, "rescheduled", ""); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE appointments SET status = 'booked', updated_at = now() WHERE id = $1 AND status = 'pending'`, id); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Cancel cancels the booked appointment and offers its seat again at once.
func (b *Booker) Cancel(ctx context.Context, r Request) error {
	if !r.Bookable() {
		return ErrClosed
	}
	if r.Appointment == nil {
		return RefusedError{Reason: "the request has no appointment to cancel"}
	}
	if err := b.changeable(ctx, r); err != nil {
		return err
	}
	err := b.update(ctx, r.TrackingCode, request.UpdateCancelAppointment, "cancel:"+strconv.FormatInt(r.Appointment.ID, 10), request.StaffInput{})
	count("cancel", err)
	if err != nil {
		return err
	}
	return b.release(ctx, r.Appointment.ID, "cancelled", "")
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

// Withdraw withdraws the request; its appointment is released by the projection.
func (b *Booker) Withdraw(ctx context.Context, r Request) error {
	if !r.Bookable() {
		return ErrClosed
	}
	return b.update(ctx, r.TrackingCode, request.UpdateWithdraw, "withdraw:"+r.TrackingCode, request.WithdrawInput{})
}

// update sends an update and waits for its outcome; a refusal by the
// workflow (or a request whose workflow has ended) is a RefusedError from
// the workflow, which applicants only ever see as ErrClosed (their common
// refusals are checked here before the workflow is asked).
func (b *Booker) update(ctx context.Context, code, name, id string, arg any) error {
	_, err := request.Act(ctx, b.Temporal, code, name, id, arg)
	var refused *request.RefusedError
	if errors.As(err, &refused) {
		return RefusedError{Reason: refused.Reason, FromWorkflow: true}
	}
	return err
}

// release gives an appointment's seat back, once, whoever gets there first.
func (b *Booker) release(ctx context.Context, id int64, status, reason string) error {
	tx, err := b.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := releaseTx(ctx, tx, id, status, reason); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func releaseTx(ctx context.Context, tx pgx.Tx, id int64, status, reason string) error {
	var mission string
	var startsAt time.Time
	err := tx.QueryRow(ctx, `UPDATE appointments SET status = $2, refusal = $3, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'booked') RETURNING mission_code, starts_at`, id, status, reason).Scan(&mission, &startsAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE slot_seats SET booked = booked - 1 WHERE mission_code = $1 AND starts_at = $2 AND booked > 0`, mission, startsAt)
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

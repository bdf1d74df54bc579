package staff

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is one thing that happened to a request, as its tables record it:
// the submission, an email sent, an appointment booked, moved or
// cancelled, a staff action. It holds codes; Desk puts it in words.
type Event struct {
	At   time.Time
	What string // submitted, mail, booked, moved, cancelled, or the audit log's action
	// Detail is what the record adds: the mail's kind, a decision, an
	// extension's days, a note's text.
	Detail string
	Slot   time.Time // the appointment's time, for booked, moved and cancelled
	Actor  string    // as the audit log names them: an email, "client:<name>", an operator
	Role   string    // officer, supervisor, admin, api_client, operator; "applicant"; "" for the system
	// Correction is what an officer corrected at the visit (What
	// "corrected"), with its old and new values.
	Correction *Correction
}

// Who acted, for an event with no audit line of its own.
const (
	roleApplicant = "applicant"
	roleClient    = "api_client"
)

// Audit actions the timeline tells from other tables (the submission, the
// appointments), or leaves out: a view is not something that happened to
// the request.
var (
	appointmentActions = map[string]string{"booked": "book_appointment", "moved": "reschedule_appointment", "cancelled": "cancel_appointment"}
	notEvents          = map[string]bool{"view": true, "submit": true, "book_appointment": true, "reschedule_appointment": true, "cancel_appointment": true,
		"correct_request": true} // told with its values from request_corrections
)

// timeline reads a request's events, oldest first. Appointment events come
// from the appointments table, which says what happened; the audit log,
// where staff and API clients acted, says who (an appointment event with
// no audit line near it was the applicant's, online).
func (d *Dashboard) timeline(ctx context.Context, r Detail) ([]Event, error) {
	code := r.TrackingCode
	audit, err := d.auditEvents(ctx, code)
	if err != nil {
		return nil, err
	}
	submitted := Event{At: r.SubmittedAt, What: "submitted", Role: roleApplicant}
	for _, a := range audit {
		if a.What == "submit" { // through the JSON API: the client submitted it
			submitted.Actor, submitted.Role = a.Actor, a.Role
		}
	}
	events := []Event{submitted}

	mails, err := d.mailEvents(ctx, code)
	if err != nil {
		return nil, err
	}
	events = append(events, mails...)

	booked, err := d.appointmentEvents(ctx, code)
	if err != nil {
		return nil, err
	}
	events = append(events, attribute(booked, audit)...)

	corrections, err := Corrections(ctx, d.DB, code, nil) // r was loaded within the member's scope
	if err != nil {
		return nil, fmt.Errorf("read corrections of %s: %w", code, err)
	}
	for i := range corrections {
		c := &corrections[i]
		events = append(events, Event{At: c.At, What: "corrected", Actor: c.StaffEmail, Correction: c})
	}

	for _, a := range audit {
		if !notEvents[a.What] {
			events = append(events, a)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].At.Before(events[j].At) })
	return events, nil
}

// auditEvents are the request's audit lines of things done (outcome ok).
func (d *Dashboard) auditEvents(ctx context.Context, code string) ([]Event, error) {
	rows, err := d.DB.Query(ctx, `SELECT at, action, staff_email, role, detail FROM audit_log
		WHERE tracking_code = $1 AND outcome = 'ok' ORDER BY at, id`, code)
	if err != nil {
		return nil, fmt.Errorf("read audit log of %s: %w", code, err)
	}
	audit, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.At, &e.What, &e.Actor, &e.Role, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log of %s: %w", code, err)
	}
	return audit, nil
}

// mailEvents are the emails sent about the request, by kind.
func (d *Dashboard) mailEvents(ctx context.Context, code string) ([]Event, error) {
	rows, err := d.DB.Query(ctx, `SELECT sent_at, split_part(kind, ':', 1) FROM sent_mail WHERE tracking_code = $1`, code)
	if err != nil {
		return nil, fmt.Errorf("read sent mail of %s: %w", code, err)
	}
	mails, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		e := Event{What: "mail"}
		err := row.Scan(&e.At, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read sent mail of %s: %w", code, err)
	}
	return mails, nil
}

// appointmentEvents are the request's bookings, moves and cancellations. A
// booking is a row; a move is a new row replacing one; a cancellation is a
// row's last change. Pending and refused rows did not happen.
func (d *Dashboard) appointmentEvents(ctx context.Context, code string) ([]Event, error) {
	rows, err := d.DB.Query(ctx, `SELECT starts_at, status, replaces IS NOT NULL, created_at, updated_at FROM appointments
		WHERE tracking_code = $1 AND status IN ('booked', 'cancelled', 'rescheduled', 'released') ORDER BY created_at, id`, code)
	if err != nil {
		return nil, fmt.Errorf("read appointments of %s: %w", code, err)
	}
	type appointment struct {
		slot, created, updated time.Time
		status                 string
		moved                  bool
	}
	apps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (appointment, error) {
		var a appointment
		err := row.Scan(&a.slot, &a.status, &a.moved, &a.created, &a.updated)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read appointments of %s: %w", code, err)
	}
	var booked []Event
	for _, a := range apps {
		e := Event{At: a.created, What: "booked", Slot: a.slot}
		if a.moved {
			e.What = "moved"
		}
		booked = append(booked, e)
		if a.status == "cancelled" {
			booked = append(booked, Event{At: a.updated, What: "cancelled", Slot: a.slot})
		}
	}
	return booked, nil
}

// attribute gives each appointment event the actor of the audit line of
// the same action closest to it in time (within a minute: the line is
// written when the workflow answers); one with none was the applicant's.
func attribute(events, audit []Event) []Event {
	used := make([]bool, len(audit))
	for i, e := range events {
		best := -1
		for j, a := range audit {
			if used[j] || a.What != appointmentActions[e.What] {
				continue
			}
			gap := a.At.Sub(e.At).Abs()
			if gap <= time.Minute && (best < 0 || gap < audit[best].At.Sub(e.At).Abs()) {
				best = j
			}
		}
		if best < 0 {
			events[i].Role = roleApplicant
			continue
		}
		used[best] = true
		events[i].Actor, events[i].Role = audit[best].Actor, audit[best].Role
	}
	return events
}

// clientName is an API client's name from the audit log's "client:<name>".
func clientName(actor string) string {
	return strings.TrimPrefix(actor, "client:")
}

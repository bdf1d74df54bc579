package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
)

// Names of the request workflow's query and updates: the appointment system
// and the staff act on a request only through these. Each update has a
// validator, so an action the request's state does not allow is refused at
// once with a reason, and nothing changes. A retried call carries the same
// update ID, and Temporal answers it with the first call's result.
const (
	QueryStatus = "status"

	UpdateBookAppointment       = "book_appointment"
	UpdateRescheduleAppointment = "reschedule_appointment"
	UpdateCancelAppointment     = "cancel_appointment"
	UpdateRecordAttendance      = "record_attendance"
	UpdateMarkNoShow            = "mark_no_show"
	UpdateDecide                = "decide"
	UpdateConfirmDecision       = "confirm_decision"
	UpdateExtendDeadline        = "extend_deadline"
	UpdateWithdraw              = "withdraw"
	// UpdateSendReceiptAgain emails the receipt again to the address on the
	// request (the applicant lost it), once per update ID.
	UpdateSendReceiptAgain = "send_receipt_again"
)

// StatusView is what the status query and every update answer: codes and dates only.
type StatusView struct {
	TrackingCode string
	Status       consular.Status
	ServiceCode  string
	MissionCode  string
	SubmittedAt  time.Time
	Deadline     time.Time
	Appointment  *time.Time
	Decision     consular.Status `json:",omitempty"`
	// Proposed is a decision waiting for a supervisor's confirmation.
	Proposed consular.Status `json:",omitempty"`
}

// AppointmentInput books or moves the request's appointment.
type AppointmentInput struct {
	At time.Time
}

// StaffInput records who acted, by staff ID (never a name or email).
type StaffInput struct {
	StaffID string
}

// Decision is the mission's outcome for an attended request.
type Decision struct {
	Decision consular.Status // approved, rejected or completed
	Reason   string          // required for a rejection; emailed to the applicant
	StaffID  string
	// Confirmed says a supervisor decides, so no second pair of eyes is
	// needed (the API sets it for supervisors only).
	Confirmed bool
}

// ExtendInput moves the deadline later: to Until, or by Days.
type ExtendInput struct {
	Until   time.Time
	Days    int
	Reason  string // internal: why the mission granted more time
	StaffID string
}

func (in ExtendInput) newDeadline(current time.Time) time.Time {
	if in.Days > 0 {
		return current.Add(time.Duration(in.Days) * 24 * time.Hour)
	}
	return in.Until
}

// WithdrawInput is the applicant's withdrawal.
type WithdrawInput struct{}

// ReceiptAgainInput asks for the receipt again; it needs nothing but the request.
type ReceiptAgainInput struct{}

// Refusal is the error type of a refused update: the caller shows its message.
const Refusal = "Refused"

func refuse(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), Refusal, nil)
}

func (r *request) view() StatusView {
	v := StatusView{TrackingCode: r.in.TrackingCode, Status: r.status, ServiceCode: r.in.ServiceCode,
		MissionCode: r.in.MissionCode, SubmittedAt: r.in.SubmittedAt, Deadline: r.deadline, Decision: r.decision.Decision}
	if r.proposed != nil {
		v.Proposed = r.proposed.Decision
	}
	if !r.appointment.IsZero() {
		at := r.appointment
		v.Appointment = &at
	}
	return v
}

// notFinal refuses actions on a request that has ended.
func (r *request) notFinal() error {
	if r.status.Final() {
		return refuse("the request is %s; nothing more can be done with it", r.status)
	}
	return nil
}

func (r *request) appointmentAllowed(at time.Time, now time.Time) error {
	if !at.After(now) {
		return refuse("the appointment time has passed")
	}
	if !at.Before(r.deadline) {
		return refuse("the appointment must be before the request's deadline, %s", r.deadline.UTC().Format(time.RFC3339))
	}
	return nil
}

// registerHandlers installs the query and every update with its validator.
func (r *request) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (StatusView, error) { return r.view(), nil }); err != nil {
		return err
	}
	return errors.Join(
		update(ctx, UpdateBookAppointment, r.book, r.validateBooking),
		update(ctx, UpdateRescheduleAppointment, r.book, r.validateReschedule),
		update(ctx, UpdateCancelAppointment, r.cancelAppointment, r.validateCancel),
		update(ctx, UpdateRecordAttendance, r.recordAttendance, r.validateAttendance),
		update(ctx, UpdateMarkNoShow, r.markNoShow, r.validateNoShow),
		update(ctx, UpdateDecide, r.decide, r.validateDecision),
		update(ctx, UpdateConfirmDecision, r.confirmDecision, r.validateConfirmation),
		update(ctx, UpdateExtendDeadline, r.extendDeadline, r.validateExtension),
		update(ctx, UpdateWithdraw, r.withdraw, r.validateWithdrawal),
		update(ctx, UpdateSendReceiptAgain, r.sendReceiptAgain, r.validateReceiptAgain),
	)
}

// update registers an update's handler with its validator; their input
// types must agree, which the compiler checks here.
func update[In any](ctx workflow.Context, name string, handle func(workflow.Context, In) (StatusView, error), validate func(workflow.Context, In) error) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, name, handle, workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
		return fmt.Errorf("register update %s: %w", name, err)
	}
	return nil
}

func (r *request) validateBooking(ctx workflow.Context, in AppointmentInput) error {
	if err := r.notFinal(); err != nil {
		return err
	}
	switch r.status {
	case consular.StatusAppointmentBooked:
		return refuse("the request already has an appointment; reschedule or cancel it instead")
	case consular.StatusAwaitingAppointment:
		return r.appointmentAllowed(in.At, workflow.Now(ctx))
	}
	return refuse("a request that is %s cannot book an appointment", r.status)
}

func (r *request) validateReschedule(ctx workflow.Context, in AppointmentInput) error {
	if r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s has no appointment to reschedule", r.status)
	}
	if in.At.Equal(r.appointment) {
		return refuse("the appointment is already at that time")
	}
	return r.appointmentAllowed(in.At, workflow.Now(ctx))
}

func (r *request) validateCancel(_ workflow.Context, _ StaffInput) error {
	if r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s has no appointment to cancel", r.status)
	}
	return nil
}

// cancelAppointment frees the applicant to book again and tells them.
func (r *request) cancelAppointment(ctx workflow.Context, _ StaffInput) (StatusView, error) {
	key := r.appointment.UTC().Format(time.RFC3339)
	r.appointment = time.Time{}
	return r.actThenMail(ctx, consular.StatusAwaitingAppointment, activities.MailInput{Kind: activities.MailAppointmentCancelled, Key: key})
}

func (r *request) validateAttendance(_ workflow.Context, _ StaffInput) error {
	switch r.status {
	case consular.StatusAppointmentBooked:
		return nil
	case consular.StatusAttended:
		return refuse("attendance is already recorded")
	}
	return refuse("attendance can be recorded only for a booked appointment; the request is %s", r.status)
}

// recordAttendance notes the applicant came; the decision follows.
func (r *request) recordAttendance(ctx workflow.Context, _ StaffInput) (StatusView, error) {
	return r.act(ctx, consular.StatusAttended, activities.MailInput{})
}

func (r *request) validateNoShow(ctx workflow.Context, _ StaffInput) error {
	if r.status != consular.StatusAppointmentBooked {
		return refuse("only a booked appointment can be missed; the request is %s", r.status)
	}
	if workflow.Now(ctx).Before(r.appointment) {
		return refuse("the appointment has not started yet")
	}
	return nil
}

// markNoShow puts the request back to waiting for a booking and tells the applicant.
func (r *request) markNoShow(ctx workflow.Context, _ StaffInput) (StatusView, error) {
	key := r.appointment.UTC().Format(time.RFC3339)
	r.appointment = time.Time{}
	return r.act(ctx, consular.StatusAwaitingAppointment, activities.MailInput{Kind: activities.MailNoShow, Key: key})
}

func (r *request) validateDecision(_ workflow.Context, in Decision) error {
	if r.status != consular.StatusAttended {
		return refuse("a decision needs the applicant's attendance first; the request is %s", r.status)
	}
	switch in.Decision {
	case consular.StatusApproved, consular.StatusCompleted:
		return nil
	case consular.StatusRejected:
		if in.Reason == "" {
			return refuse("a rejection needs a reason")
		}
		return nil
	}
	return refuse("the decision must be approved, rejected or completed")
}

// decide records the outcome and emails it, or, where a second pair of
// eyes is needed, keeps it waiting for a supervisor.
func (r *request) decide(ctx workflow.Context, in Decision) (StatusView, error) {
	fourEyes := workflow.GetVersion(ctx, "four-eyes", workflow.DefaultVersion, 1) == 1
	if fourEyes && r.in.Policy.needsConfirmation(in.Decision) && !in.Confirmed {
		r.proposed = &in
		return r.view(), nil
	}
	r.decision, r.proposed = in, nil
	return r.act(ctx, in.Decision, activities.MailInput{Kind: activities.MailDecision, Decision: in.Decision, Reason: in.Reason})
}

func (r *request) validateConfirmation(_ workflow.Context, in StaffInput) error {
	switch {
	case r.proposed == nil:
		return refuse("there is no decision waiting for confirmation")
	case in.StaffID == r.proposed.StaffID:
		return refuse("a decision is confirmed by someone other than the officer who proposed it")
	}
	return nil
}

// confirmDecision makes a proposed decision the outcome and emails it.
func (r *request) confirmDecision(ctx workflow.Context, _ StaffInput) (StatusView, error) {
	d := *r.proposed
	r.decision, r.proposed = d, nil
	return r.act(ctx, d.Decision, activities.MailInput{Kind: activities.MailDecision, Decision: d.Decision, Reason: d.Reason})
}

func (r *request) validateExtension(_ workflow.Context, in ExtendInput) error {
	if r.status != consular.StatusAwaitingAppointment && r.status != consular.StatusAppointmentBooked {
		return refuse("only a request waiting for its visit can be given more time; the request is %s", r.status)
	}
	if in.Reason == "" {
		return refuse("an extension needs a reason")
	}
	if !in.newDeadline(r.deadline).After(r.deadline) {
		return refuse("the new deadline must be later than the current one")
	}
	return nil
}

// extendDeadline gives the applicant more time, moves the reminders and tells them.
func (r *request) extendDeadline(ctx workflow.Context, in ExtendInput) (StatusView, error) {
	r.deadline = in.newDeadline(r.deadline)
	r.planReminders(workflow.Now(ctx))
	return r.act(ctx, r.status, activities.MailInput{Kind: activities.MailDeadlineExtended, Key: r.deadline.UTC().Format(time.RFC3339)})
}

func (r *request) validateWithdrawal(_ workflow.Context, _ WithdrawInput) error {
	if r.status != consular.StatusAwaitingAppointment && r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s cannot be withdrawn", r.status)
	}
	return nil
}

// withdraw ends the request at the applicant's wish and tells them.
func (r *request) withdraw(ctx workflow.Context, _ WithdrawInput) (StatusView, error) {
	r.appointment = time.Time{}
	return r.act(ctx, consular.StatusWithdrawn, activities.MailInput{Kind: activities.MailWithdrawn})
}

func (r *request) validateReceiptAgain(_ workflow.Context, _ ReceiptAgainInput) error {
	if r.status != consular.StatusAwaitingAppointment && r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s has no receipt to send again", r.status)
	}
	return nil
}

// sendReceiptAgain emails the receipt again (it was lost); each ask is one
// email, since the mail activity sends a (kind, key) once.
func (r *request) sendReceiptAgain(ctx workflow.Context, _ ReceiptAgainInput) (StatusView, error) {
	key := "again-" + workflow.GetCurrentUpdateInfo(ctx).ID
	return r.view(), r.send(ctx, activities.MailInput{Kind: activities.MailReceipt, Key: key,
		ReceiptKey: storage.ReceiptKey(r.in.TrackingCode)})
}

// book sets the appointment (a first one or a new time) and tells the applicant.
func (r *request) book(ctx workflow.Context, in AppointmentInput) (StatusView, error) {
	r.appointment, r.bookedAt, r.appointmentNoted = in.At, workflow.Now(ctx), false
	return r.actThenMail(ctx, consular.StatusAppointmentBooked, activities.MailInput{Kind: activities.MailAppointmentBooked, Key: in.At.UTC().Format(time.RFC3339)})
}

// actThenMail is act for the appointment system's updates, which answer as
// soon as the new state is published: their email goes out from the main
// loop a moment later. (Requests started earlier replay with act.)
func (r *request) actThenMail(ctx workflow.Context, status consular.Status, letter activities.MailInput) (StatusView, error) {
	if workflow.GetVersion(ctx, "appointment-mail-later", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return r.act(ctx, status, letter)
	}
	view, err := r.act(ctx, status, activities.MailInput{}) // publish only
	if err == nil {
		r.later(letter)
	}
	return view, err
}

// act moves the request to status after an accepted update, publishes the
// change and emails the applicant when there is something to tell.
func (r *request) act(ctx workflow.Context, status consular.Status, letter activities.MailInput) (StatusView, error) {
	r.status = status
	r.wake = true
	view := r.view() // the state this update made, whatever handlers run while it publishes
	if err := r.publish(ctx); err != nil {
		return view, err
	}
	if letter.Kind != "" {
		if err := r.send(ctx, letter); err != nil {
			return view, err
		}
	}
	return view, nil
}

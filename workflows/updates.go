package workflows

import (
	"errors"
	"fmt"
	"github.com/openconsular/consular/workflows/request"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
)

// refuse is a validator's no, with the reason staff read.
func refuse(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), request.Refusal, nil)
}

// refuseUnder is a no under a rule: its details name the rule and its
// limit, so each door says it in its own words (see request.Rule).
func refuseUnder(rule request.Rule, limit int, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), request.Refusal, nil,
		request.Broken{Rule: rule, Limit: limit})
}

func (r *lifecycle) view() request.StatusView {
	v := request.StatusView{TrackingCode: r.in.TrackingCode, Status: r.status, ServiceCode: r.in.ServiceCode,
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
func (r *lifecycle) notFinal() error {
	if r.status.Final() {
		return refuseUnder(request.RuleClosed, 0, "the request is %s; nothing more can be done with it", r.status)
	}
	return nil
}

func (r *lifecycle) appointmentAllowed(at time.Time, now time.Time) error {
	if !at.After(now) {
		return refuse("the appointment time has passed")
	}
	if !at.Before(r.deadline) {
		return refuse("the appointment must be before the request's deadline, %s", r.deadline.UTC().Format(time.RFC3339))
	}
	return nil
}

// registerHandlers installs the query and every update with its validator.
func (r *lifecycle) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, request.QueryStatus, func() (request.StatusView, error) { return r.view(), nil }); err != nil {
		return err
	}
	return errors.Join(
		update(ctx, request.UpdateBookAppointment, r.book, r.validateBooking),
		update(ctx, request.UpdateRescheduleAppointment, r.reschedule, r.validateReschedule),
		update(ctx, request.UpdateCancelAppointment, r.cancelAppointment, r.validateCancel),
		update(ctx, request.UpdateRecordAttendance, r.recordAttendance, r.validateAttendance),
		update(ctx, request.UpdateMarkNoShow, r.markNoShow, r.validateNoShow),
		update(ctx, request.UpdateDecide, r.decide, r.validateDecision),
		update(ctx, request.UpdateConfirmDecision, r.confirmDecision, r.validateConfirmation),
		update(ctx, request.UpdateExtendDeadline, r.extendDeadline, r.validateExtension),
		update(ctx, request.UpdateWithdraw, r.withdraw, r.validateWithdrawal),
		update(ctx, request.UpdateSendReceiptAgain, r.sendReceiptAgain, r.validateReceiptAgain),
		update(ctx, request.UpdateCorrectRequest, r.correct, r.validateCorrection),
	)
}

// update registers an update's handler with its validator; their input
// types must agree, which the compiler checks here.
func update[In any](ctx workflow.Context, name string, handle func(workflow.Context, In) (request.StatusView, error), validate func(workflow.Context, In) error) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, name, handle, workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
		return fmt.Errorf("register update %s: %w", name, err)
	}
	return nil
}

func (r *lifecycle) validateBooking(ctx workflow.Context, in request.AppointmentInput) error {
	if err := r.notFinal(); err != nil {
		return err
	}
	switch r.status {
	case consular.StatusAppointmentBooked:
		return refuseUnder(request.RuleOneAppointment, 0, "the request already has an appointment; reschedule or cancel it instead")
	case consular.StatusAwaitingAppointment:
		return r.appointmentAllowed(in.At, workflow.Now(ctx))
	}
	return refuse("a request that is %s cannot book an appointment", r.status)
}

func (r *lifecycle) validateReschedule(ctx workflow.Context, in request.AppointmentInput) error {
	if r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s has no appointment to reschedule", r.status)
	}
	if in.At.Equal(r.appointment) {
		return refuse("the appointment is already at that time")
	}
	if limit := r.in.Policy.Reschedules(); r.reschedules >= limit {
		return refuseUnder(request.RuleRescheduleLimit, limit, "an appointment can be rescheduled at most %d times; cancel it and book again", limit)
	}
	if err := r.changeable(workflow.Now(ctx)); err != nil {
		return err
	}
	return r.appointmentAllowed(in.At, workflow.Now(ctx))
}

// changeable refuses moving or cancelling an appointment within the cut-off
// before it: its seat could no longer be offered to anyone else.
func (r *lifecycle) changeable(now time.Time) error {
	cutoff := r.in.Policy.Cutoff()
	if now.After(r.appointment.Add(-cutoff)) {
		hours := int(cutoff.Hours())
		return refuseUnder(request.RuleChangeCutoff, hours,
			"the appointment is less than %d hours away and can no longer be changed online; contact the mission", hours)
	}
	return nil
}

func (r *lifecycle) validateCancel(ctx workflow.Context, in request.StaffInput) error {
	if r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s has no appointment to cancel", r.status)
	}
	if in.StaffID == "" { // the applicant online; the mission may cancel its own appointment later
		return r.changeable(workflow.Now(ctx))
	}
	return nil
}

// cancelAppointment frees the applicant to book again, offers the seat to
// others and tells the applicant.
func (r *lifecycle) cancelAppointment(ctx workflow.Context, _ request.StaffInput) (request.StatusView, error) {
	key := r.appointment.UTC().Format(time.RFC3339)
	if err := r.releaseSeat(ctx, activities.SeatCancelled); err != nil {
		return r.view(), err
	}
	r.appointment = time.Time{}
	return r.transitionMailLater(ctx, consular.StatusAwaitingAppointment, activities.MailInput{Kind: activities.MailAppointmentCancelled, Key: key})
}

func (r *lifecycle) validateAttendance(_ workflow.Context, _ request.StaffInput) error {
	switch r.status {
	case consular.StatusAppointmentBooked:
		return nil
	case consular.StatusAttended:
		return refuse("attendance is already recorded")
	}
	return refuse("attendance can be recorded only for a booked appointment; the request is %s", r.status)
}

// recordAttendance notes the applicant came; the decision follows.
func (r *lifecycle) recordAttendance(ctx workflow.Context, _ request.StaffInput) (request.StatusView, error) {
	return r.transition(ctx, consular.StatusAttended, activities.MailInput{})
}

func (r *lifecycle) validateNoShow(ctx workflow.Context, _ request.StaffInput) error {
	if r.status != consular.StatusAppointmentBooked {
		return refuse("only a booked appointment can be missed; the request is %s", r.status)
	}
	if workflow.Now(ctx).Before(r.appointment) {
		return refuseUnder(request.RuleNotYetDue, 0, "the appointment has not started yet")
	}
	return nil
}

// markNoShow puts the request back to waiting for a booking and tells the applicant.
func (r *lifecycle) markNoShow(ctx workflow.Context, _ request.StaffInput) (request.StatusView, error) {
	key := r.appointment.UTC().Format(time.RFC3339)
	if err := r.releaseSeat(ctx, activities.SeatReleased); err != nil {
		return r.view(), err
	}
	r.appointment = time.Time{}
	return r.transition(ctx, consular.StatusAwaitingAppointment, activities.MailInput{Kind: activities.MailNoShow, Key: key})
}

func (r *lifecycle) validateDecision(_ workflow.Context, in request.Decision) error {
	if r.status != consular.StatusAttended {
		return refuseUnder(request.RuleNotAttended, 0, "a decision needs the applicant's attendance first; the request is %s", r.status)
	}
	if r.correcting > 0 {
		return refuse("a correction is being recorded; decide once it is done")
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
func (r *lifecycle) decide(ctx workflow.Context, in request.Decision) (request.StatusView, error) {
	fourEyes := r.localReceipt || workflow.GetVersion(ctx, "four-eyes", workflow.DefaultVersion, 1) == 1
	if fourEyes && needsConfirmation(r.in.Policy, in.Decision) && !in.Confirmed {
		r.proposed = &in
		return r.view(), nil
	}
	r.decision, r.proposed = in, nil
	return r.transition(ctx, in.Decision, activities.MailInput{Kind: activities.MailDecision, Decision: in.Decision, Reason: in.Reason})
}

func (r *lifecycle) validateConfirmation(_ workflow.Context, in request.StaffInput) error {
	switch {
	case r.proposed == nil:
		return refuse("there is no decision waiting for confirmation")
	case r.correcting > 0:
		return refuse("a correction is being recorded; confirm once it is done")
	case in.StaffID == r.proposed.StaffID:
		return refuseUnder(request.RuleOwnProposal, 0, "a decision is confirmed by someone other than the officer who proposed it")
	}
	return nil
}

// confirmDecision makes a proposed decision the outcome and emails it.
func (r *lifecycle) confirmDecision(ctx workflow.Context, _ request.StaffInput) (request.StatusView, error) {
	d := *r.proposed
	r.decision, r.proposed = d, nil
	return r.transition(ctx, d.Decision, activities.MailInput{Kind: activities.MailDecision, Decision: d.Decision, Reason: d.Reason})
}

func (r *lifecycle) validateExtension(_ workflow.Context, in request.ExtendInput) error {
	if r.status != consular.StatusAwaitingAppointment && r.status != consular.StatusAppointmentBooked {
		return refuse("only a request waiting for its visit can be given more time; the request is %s", r.status)
	}
	if in.Reason == "" {
		return refuse("an extension needs a reason")
	}
	if !in.NewDeadline(r.deadline).After(r.deadline) {
		return refuse("the new deadline must be later than the current one")
	}
	return nil
}

// extendDeadline gives the applicant more time, moves the reminders and tells them.
func (r *lifecycle) extendDeadline(ctx workflow.Context, in request.ExtendInput) (request.StatusView, error) {
	r.deadline = in.NewDeadline(r.deadline)
	r.planReminders(workflow.Now(ctx))
	return r.transition(ctx, r.status, activities.MailInput{Kind: activities.MailDeadlineExtended, Key: r.deadline.UTC().Format(time.RFC3339)})
}

func (r *lifecycle) validateWithdrawal(_ workflow.Context, _ request.WithdrawInput) error {
	if r.status != consular.StatusAwaitingAppointment && r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s cannot be withdrawn", r.status)
	}
	return nil
}

// withdraw ends the request at the applicant's wish, frees its
// appointment's seat and tells them.
func (r *lifecycle) withdraw(ctx workflow.Context, _ request.WithdrawInput) (request.StatusView, error) {
	if err := r.releaseSeat(ctx, activities.SeatReleased); err != nil {
		return r.view(), err
	}
	r.appointment = time.Time{}
	return r.transition(ctx, consular.StatusWithdrawn, activities.MailInput{Kind: activities.MailWithdrawn})
}

func (r *lifecycle) validateReceiptAgain(_ workflow.Context, _ request.ReceiptAgainInput) error {
	if r.status != consular.StatusAwaitingAppointment && r.status != consular.StatusAppointmentBooked {
		return refuse("a request that is %s has no receipt to send again", r.status)
	}
	return nil
}

// sendReceiptAgain emails the receipt again (it was lost); each ask is one
// email, since the mail activity sends a (kind, key) once.
func (r *lifecycle) sendReceiptAgain(ctx workflow.Context, _ request.ReceiptAgainInput) (request.StatusView, error) {
	key := "again-" + workflow.GetCurrentUpdateInfo(ctx).ID
	return r.view(), r.send(ctx, activities.MailInput{Kind: activities.MailReceipt, Key: key,
		ReceiptKey: storage.ReceiptKey(r.in.TrackingCode)})
}

// book sets the first appointment and tells the applicant.
func (r *lifecycle) book(ctx workflow.Context, in request.AppointmentInput) (request.StatusView, error) {
	r.appointment, r.bookedAt, r.appointmentNoted = in.At, workflow.Now(ctx), false
	return r.transitionMailLater(ctx, consular.StatusAppointmentBooked, activities.MailInput{Kind: activities.MailAppointmentBooked, Key: in.At.UTC().Format(time.RFC3339)})
}

// reschedule moves the appointment to a new time, frees the old time's
// seat, counts the move against the limit and tells the applicant.
func (r *lifecycle) reschedule(ctx workflow.Context, in request.AppointmentInput) (request.StatusView, error) {
	if err := r.releaseSeat(ctx, activities.SeatRescheduled); err != nil {
		return r.view(), err
	}
	r.reschedules++
	return r.book(ctx, in)
}

// transitionMailLater is transition for the appointment system's updates,
// which answer as soon as the new state is published: their email goes out
// from the main loop a moment later. (Requests started earlier replay with
// transition.)
func (r *lifecycle) transitionMailLater(ctx workflow.Context, status consular.Status, letter activities.MailInput) (request.StatusView, error) {
	if !r.localReceipt && workflow.GetVersion(ctx, "appointment-mail-later", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return r.transition(ctx, status, letter)
	}
	view, err := r.transition(ctx, status, activities.MailInput{}) // publish only
	if err == nil {
		r.queueMail(letter)
	}
	return view, err
}

// transition moves the request to status after an accepted update,
// publishes the change and emails the applicant when there is something to
// tell.
func (r *lifecycle) transition(ctx workflow.Context, status consular.Status, letter activities.MailInput) (request.StatusView, error) {
	r.status = status
	r.changed = true
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

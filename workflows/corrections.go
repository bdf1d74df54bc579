package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/workflows/request"
)

// Corrections happen only in person: an officer corrects a field of the
// request while the applicant is at the mission. "At the mission" is the
// attended status: recording attendance is the officer's word that the
// applicant is in the room. A booked request on its appointment's day is
// not enough (the applicant may not come, and the workflow does not know
// the mission's day), so the officer records attendance first. Once a
// decision waits for a supervisor, or is made, the answers it was made on
// stay as they are.

func (r *lifecycle) validateCorrection(ctx workflow.Context, in request.Correction) error {
	if err := r.notFinal(); err != nil {
		return err
	}
	if r.status != consular.StatusAttended {
		return refuseUnder(request.RuleNotAttended, 0, "corrections are made at the mission during the visit, once attendance is recorded; the request is %s", r.status)
	}
	if r.proposed != nil {
		return refuseUnder(request.RuleAwaitingConfirmation, 0, "a decision is waiting for confirmation; corrections come before the decision")
	}
	if in.StaffID == "" {
		return refuse("a correction names the officer who makes it")
	}
	if consular.CorrectionReasonProblem(in.Reason) != "" {
		return refuse("a correction needs a reason of at most %d characters", consular.MaxCorrectionReason)
	}
	_, problem, known := r.corrected(ctx, in)
	if !known {
		return refuse("%q is not a field of this request that can be corrected", in.Field)
	}
	if problem != nil {
		return refuse("the new value of %s is not valid (%s)", in.Field, problem.Reason)
	}
	return nil
}

// corrected is the correction's field and its new value as stored, checked
// by the rules of submission on the workflow's clock.
func (r *lifecycle) corrected(ctx workflow.Context, in request.Correction) (string, *consular.Problem, bool) {
	service, ok := consular.ServiceByCode(r.in.ServiceCode)
	if !ok {
		return "", nil, false
	}
	field, ok := service.CorrectableField(in.Field)
	if !ok {
		return "", nil, false
	}
	stored, problem := field.Check(in.Value, workflow.Now(ctx), nil)
	return stored, problem, true
}

// correct writes the new value into the request's answers, records the
// correction for the timeline and emails the applicant what changed, once
// per correction (the email's key is the update's ID).
func (r *lifecycle) correct(ctx workflow.Context, in request.Correction) (request.StatusView, error) {
	stored, _, _ := r.corrected(ctx, in)
	r.correcting++
	defer func() { r.correcting-- }()
	id := workflow.GetCurrentUpdateInfo(ctx).ID
	if err := workflow.ExecuteActivity(withRetries(ctx, 10*time.Second), projection.Correct, activities.CorrectInput{
		TrackingCode: r.in.TrackingCode, UpdateID: id, Field: in.Field, Value: stored, Reason: in.Reason, StaffID: in.StaffID,
	}).Get(ctx, nil); err != nil {
		return r.view(), err
	}
	return r.view(), r.send(ctx, activities.MailInput{Kind: activities.MailCorrection, Key: id})
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
)

// RequestInput starts a request's workflow. It carries codes and object keys
// only; the applicant's personal data stays in PostgreSQL.
type RequestInput struct {
	TrackingCode string
	ServiceCode  string
	MissionCode  string
	SubmittedAt  time.Time
	Policy       Policy
}

// Policy is the timing the request lives by, fixed at submission.
type Policy struct {
	// Deadline is how long the applicant has to attend (90 days).
	Deadline time.Duration
}

// RequestResult is how the request ended.
type RequestResult struct {
	Status consular.Status
}

// request is the workflow's state.
type request struct {
	in       RequestInput
	status   consular.Status
	deadline time.Time
	version  int
}

// Request is one consular request's lifecycle, from submission to its final
// status. Its workflow ID is the tracking code.
func Request(ctx workflow.Context, in RequestInput) (RequestResult, error) {
	r := &request{in: in, deadline: in.SubmittedAt.Add(in.Policy.Deadline)}
	if err := r.transition(ctx, consular.StatusAwaitingAppointment); err != nil {
		return RequestResult{}, err
	}
	if err := workflow.Sleep(ctx, r.deadline.Sub(workflow.Now(ctx))); err != nil {
		return RequestResult{}, err
	}
	if err := r.transition(ctx, consular.StatusArchived); err != nil {
		return RequestResult{}, err
	}
	return RequestResult{Status: r.status}, nil
}

// transition moves the request to status: the search attributes for
// operators and the projection for staff follow.
func (r *request) transition(ctx workflow.Context, status consular.Status) error {
	r.status = status
	r.version++
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		StatusAttribute.ValueSet(string(status)),
		MissionAttribute.ValueSet(r.in.MissionCode),
		ServiceAttribute.ValueSet(r.in.ServiceCode),
		DeadlineAttribute.ValueSet(r.deadline),
	); err != nil {
		return err
	}
	var p *activities.Projection
	return workflow.ExecuteActivity(withProjectionOptions(ctx), p.Record, activities.RecordInput{
		TrackingCode: r.in.TrackingCode, Status: status, ServiceCode: r.in.ServiceCode, MissionCode: r.in.MissionCode,
		SubmittedAt: r.in.SubmittedAt, DeadlineAt: r.deadline, Version: r.version,
	}).Get(ctx, nil)
}

func withProjectionOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
}

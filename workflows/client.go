package workflows

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/activities"
)

// The request workflow's contract with its callers (the API's doors, the
// benchmark, the soak): how to start a request, act on it and read its
// status. Every caller uses these three, never the Temporal client's calls
// by hand, so the workflow ID, the start's policies and the reading of a
// refusal are written once. The update and query names and their inputs
// are in updates.go; the start's input in request.go.

// Document is a document a request starts with: its kind, object key and
// the SHA-256 of the bytes that were checked.
type Document = activities.DocumentRef

// Start starts the request's workflow, whose ID is its tracking code, on
// taskQueue. A workflow that runs or ran already under that ID counts as
// started: a retried submission starts nothing twice.
func Start(ctx context.Context, c client.Client, taskQueue string, in RequestInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       in.TrackingCode,
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, Request, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start request %s: %w", in.TrackingCode, err)
	}
	return nil
}

// RefusedError is the workflow's no: the request's state does not allow the
// update (its validator's reason), or the request's workflow has ended
// (Closed). Nothing changed. The reason names the request's state: it is
// for staff, never for applicants.
type RefusedError struct {
	Reason string
	Closed bool
}

func (e *RefusedError) Error() string { return e.Reason }

// Act sends update name with arg to the request's workflow and waits for its
// outcome: the request's new status, or a *RefusedError. updateID makes a
// retried call the same update (Temporal answers it with the first result).
func Act(ctx context.Context, c client.Client, trackingCode, name, updateID string, arg any) (StatusView, error) {
	var view StatusView
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: trackingCode, UpdateID: updateID,
		UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, &view)
	}
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		return view, nil
	case errors.As(err, &appErr) && appErr.Type() == Refusal:
		return view, &RefusedError{Reason: appErr.Message()}
	case errors.As(err, &notFound):
		return view, &RefusedError{Reason: "the request is closed; nothing more can be done with it", Closed: true}
	}
	return view, fmt.Errorf("%s on request %s: %w", name, trackingCode, err)
}

// Status asks the request's workflow for its status (a running or closed
// workflow answers; one whose history is gone does not).
func Status(ctx context.Context, c client.Client, trackingCode string) (StatusView, error) {
	var view StatusView
	value, err := c.QueryWorkflow(ctx, trackingCode, "", QueryStatus)
	if err == nil {
		err = value.Get(&view)
	}
	return view, err
}

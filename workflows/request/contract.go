// Package request is the request workflow's contract with its callers (the
// API's doors, the worker, the benchmark, the soak): the workflow's name and
// ID, its input, the names of its query and updates with their inputs, its
// search attributes, and three helpers every caller uses to start a
// request, act on it and read its status. It is a package of its own, apart
// from the workflow in package workflows, so the API links none of the
// worker's code: it imports only the Temporal client and the domain.
package request

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/consular"
)

// WorkflowType is the name the worker registers the request workflow under.
const WorkflowType = "Request"

// Input starts a request's workflow. It carries codes, dates and object
// keys only; the applicant's personal data stays in PostgreSQL.
type Input struct {
	TrackingCode string
	ServiceCode  string
	MissionCode  string
	SubmittedAt  time.Time
	Documents    []consular.Document
	Policy       Policy
}

// Policy is the rules a request lives by, fixed at submission from
// configuration: its timing, its decisions' second pair of eyes, and its
// appointment's limits.
type Policy struct {
	Deadline  time.Duration   // how long the applicant has to attend (90 days)
	Reminders []time.Duration // how long before the deadline to remind an applicant with no appointment
	Retention time.Duration   // how long documents are kept after the decision
	// FourEyes is the service's rule for decisions a supervisor must
	// confirm: "rejections" (the default: an empty value), "all" (a
	// sensitive service) or "none".
	FourEyes string
	// MaxReschedules is how many times an appointment may be moved; a
	// request started before the limit existed reads 0 and gets
	// DefaultMaxReschedules.
	MaxReschedules int
	// ChangeCutoff is how long before the appointment it can no longer be
	// moved or cancelled; zero reads DefaultChangeCutoff.
	ChangeCutoff time.Duration
}

// The appointment limits a request started without them lives by.
const (
	DefaultMaxReschedules = 2
	DefaultChangeCutoff   = 24 * time.Hour
)

// Reschedules is the policy's reschedule limit, its default when unset.
func (p Policy) Reschedules() int {
	if p.MaxReschedules <= 0 {
		return DefaultMaxReschedules
	}
	return p.MaxReschedules
}

// Cutoff is the policy's change cut-off, its default when unset.
func (p Policy) Cutoff() time.Duration {
	if p.ChangeCutoff <= 0 {
		return DefaultChangeCutoff
	}
	return p.ChangeCutoff
}

// Result is how the request ended.
type Result struct {
	Status consular.Status
}

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
	// UpdateCorrectRequest corrects one field of the request at the visit:
	// corrections happen only in person, at the mission.
	UpdateCorrectRequest = "correct_request"
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

// StaffInput records who acted, by staff ID (never a name or email). An
// empty StaffID is the applicant acting online (a cancellation), held to
// the change cut-off; the mission may cancel its own appointment later.
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

// NewDeadline is the deadline the extension gives a request whose deadline is current.
func (in ExtendInput) NewDeadline(current time.Time) time.Time {
	if in.Days > 0 {
		return current.Add(time.Duration(in.Days) * 24 * time.Hour)
	}
	return in.Until
}

// Correction is an officer's correction of one field of the request while
// the applicant is at the mission (the request is attended). Field is one
// of the service's correctable fields by its full name
// (consular.Service.Correctable: form.licence_number, identity.birth_date);
// Value is checked by the rules of submission (dates as YYYY-MM-DD), and
// empty clears a field that is not required. The reason is emailed to the
// applicant with the old and the new value. StaffID is who corrects, set by
// the door from the session or token, never from the body.
type Correction struct {
	Field   string
	Value   string
	Reason  string
	StaffID string
}

// WithdrawInput is the applicant's withdrawal.
type WithdrawInput struct{}

// ReceiptAgainInput asks for the receipt again; it needs nothing but the request.
type ReceiptAgainInput struct{}

// Refusal is the error type of a refused update: the caller shows its message.
const Refusal = "Refused"

// Rule names the rule a refusal is under, so each door words it in its own
// language by the rule's name rather than by the workflow's English reason.
// A refusal under a rule comes with the rule and its limit as the error's
// details. The appointment rules (Appointment) tell nothing of the
// request's outcome, so applicants may read them; the others are for staff.
type Rule string

const (
	RuleOneAppointment  Rule = "one_appointment"  // book while one is booked
	RuleRescheduleLimit Rule = "reschedule_limit" // Limit: the moves allowed
	RuleChangeCutoff    Rule = "change_cutoff"    // Limit: the cut-off in hours

	RuleClosed               Rule = "closed"                // the request has ended
	RuleNotAttended          Rule = "not_attended"          // a decision or correction before attendance
	RuleAwaitingConfirmation Rule = "awaiting_confirmation" // a correction while a decision waits
	RuleOwnProposal          Rule = "own_proposal"          // a supervisor confirming their own proposal
	RuleNotYetDue            Rule = "not_yet_due"           // a no-show before the appointment's time
)

// Appointment says the rule is one of the appointment rules every door,
// the applicants' included, words alike.
func (r Rule) Appointment() bool {
	return r == RuleOneAppointment || r == RuleRescheduleLimit || r == RuleChangeCutoff
}

// Broken is a refusal's details: the rule broken and its limit.
type Broken struct {
	Rule  Rule
	Limit int `json:",omitempty"`
}

// Search attributes the request workflow upserts on every transition, so
// operators can list requests in the Temporal Web UI by status, mission,
// service, deadline and appointment. They carry codes and dates only, never
// personal data: Temporal stores them unencrypted.
var (
	StatusAttribute      = temporal.NewSearchAttributeKeyKeyword("RequestStatus")
	MissionAttribute     = temporal.NewSearchAttributeKeyKeyword("MissionCode")
	ServiceAttribute     = temporal.NewSearchAttributeKeyKeyword("ServiceCode")
	DeadlineAttribute    = temporal.NewSearchAttributeKeyTime("RequestDeadline")
	AppointmentAttribute = temporal.NewSearchAttributeKeyTime("AppointmentAt")
)

// SearchAttributes lists every custom attribute the Temporal server must have
// registered; the dev and test stacks register exactly these.
var SearchAttributes = []temporal.SearchAttributeKey{
	StatusAttribute, MissionAttribute, ServiceAttribute, DeadlineAttribute, AppointmentAttribute,
}

// Start starts the request's workflow, whose ID is its tracking code, on
// taskQueue. A workflow that runs or ran already under that ID counts as
// started: a retried submission starts nothing twice.
func Start(ctx context.Context, c client.Client, taskQueue string, in Input) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       in.TrackingCode,
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// The submitted state's search attributes, in the visibility record
		// the start writes anyway: the workflow's first transition then
		// needs no upsert (a visibility write) of its own.
		TypedSearchAttributes: temporal.NewSearchAttributes(
			StatusAttribute.ValueSet(string(consular.StatusSubmitted)),
			MissionAttribute.ValueSet(in.MissionCode),
			ServiceAttribute.ValueSet(in.ServiceCode),
			DeadlineAttribute.ValueSet(in.SubmittedAt.Add(in.Policy.Deadline)),
		),
	}, WorkflowType, in)
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
	Broken Broken // set when the refusal is under an appointment rule
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
		refused := &RefusedError{Reason: appErr.Message()}
		if appErr.HasDetails() {
			_ = appErr.Details(&refused.Broken)
		}
		return view, refused
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

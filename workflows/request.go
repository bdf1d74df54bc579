package workflows

import (
	"errors"
	"github.com/openconsular/consular/workflows/request"
	"sort"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
)

// needsConfirmation reports whether a decision waits for a supervisor.
func needsConfirmation(p request.Policy, d consular.Status) bool {
	switch p.FourEyes {
	case "none":
		return false
	case "all":
		return true
	}
	return d == consular.StatusRejected
}

// Activity stubs: typed nils, so activity names are checked by the compiler.
var (
	projection *activities.Projection
	documents  *activities.Documents
	receipts   *activities.Receipts
	mail       *activities.Mail
	seats      *activities.Seats
)

// request is the workflow's state. Update handlers change it synchronously
// (so the next validator sees the change) and then publish it.
type lifecycle struct {
	in          request.Input
	status      consular.Status
	deadline    time.Time
	appointment time.Time // zero when none is booked
	decision    request.Decision
	proposed    *request.Decision // a decision waiting for a supervisor's confirmation
	version     int
	reminders   []time.Time // reminder times still to come, earliest first
	changed     bool        // set by handlers so the main loop looks again
	reschedules int         // appointment moves so far, against Policy.Reschedules
	// seatsReleased says this workflow gives back the seat of an appointment
	// the request no longer has (requests started before left that to the
	// projection and the booking saga).
	seatsReleased bool
	// bookedAt is when the current appointment was booked; its reminder goes
	// out a day before it, if it was booked earlier than that.
	bookedAt         time.Time
	appointmentNoted bool // the current appointment's reminder is sent
	// outbox holds emails an update queued for the main loop to send, so
	// the update answers as soon as the new state is published.
	outbox []activities.MailInput
	// localProjection says the projection is written by a local activity,
	// within the workflow task that made the change (requests started
	// before wrote it by an activity of its own; see publish).
	localProjection bool
	// mailInOrder says emails are sent one at a time (see send); mailing
	// that one is on its way.
	mailInOrder, mailing bool
	// localReceipt says the documents are checked and the receipt issued by
	// local activities, in the submission's first workflow task (see
	// Request). Requests started so take every earlier change as given,
	// here and in the update handlers, without asking GetVersion for each.
	localReceipt bool
	// remindAppointments says a booked appointment's reminder is sent
	// (appointmentReminder).
	remindAppointments bool
	// correcting counts corrections being written: no decision while one
	// is, so a decision is made on the answers as corrected.
	correcting int
}

// queueMail queues an email about the state just made, for the main loop
// to send (sendQueuedMail) once the update has answered.
func (r *lifecycle) queueMail(letter activities.MailInput) {
	letter.Appointment = r.appointment
	r.outbox = append(r.outbox, letter)
	r.changed = true
}

// sendQueuedMail sends the queued emails, in the order their updates came.
func (r *lifecycle) sendQueuedMail(ctx workflow.Context) error {
	for len(r.outbox) > 0 {
		letter := r.outbox[0]
		r.outbox = r.outbox[1:]
		if err := r.send(ctx, letter); err != nil {
			return err
		}
	}
	return nil
}

// appointmentReminder is when the booked appointment's reminder is due, and
// whether one is due at all.
func (r *lifecycle) appointmentReminder() (time.Time, bool) {
	if r.status != consular.StatusAppointmentBooked || r.appointmentNoted {
		return time.Time{}, false
	}
	at := r.appointment.Add(-24 * time.Hour)
	return at, at.After(r.bookedAt)
}

// Request is one consular request's lifecycle, from submission to its final
// status. Its workflow ID is the tracking code.
func Request(ctx workflow.Context, in request.Input) (request.Result, error) {
	r := &lifecycle{in: in, deadline: in.SubmittedAt.Add(in.Policy.Deadline)}
	r.readVersions(ctx)
	if err := r.registerHandlers(ctx); err != nil {
		return request.Result{}, err
	}
	if err := r.moveTo(ctx, consular.StatusSubmitted); err != nil {
		return request.Result{}, err
	}

	// The documents are checked again, then the receipt issued; from
	// receipt-by-local-activities on both run inside the workflow task that
	// started the request, which then ends scheduling the receipt's email:
	// a submission costs two workflow tasks and one activity task instead
	// of four and three.
	err := r.run(ctx, time.Minute, documents.Validate,
		activities.ValidateInput{TrackingCode: in.TrackingCode, Documents: in.Documents}, nil)
	if problems, bad := badDocuments(err); bad {
		if err := r.moveTo(ctx, consular.StatusRejectedDocuments); err != nil {
			return request.Result{}, err
		}
		if err := r.send(ctx, activities.MailInput{Kind: activities.MailDocumentsRejected, Problems: problems}); err != nil {
			return request.Result{}, err
		}
		return r.finish(ctx)
	} else if err != nil {
		return request.Result{}, err
	}

	// Only valid documents reach this line. Issue writes the receipt under
	// a key of the tracking code: a retry, local or not, or a workflow task
	// run again overwrites the same object before its email is scheduled.
	var receipt activities.IssueResult
	if err := r.run(ctx, time.Minute, receipts.Issue, activities.IssueInput{
		TrackingCode: in.TrackingCode, ServiceCode: in.ServiceCode, MissionCode: in.MissionCode,
		SubmittedAt: in.SubmittedAt, Deadline: r.deadline,
	}, &receipt); err != nil {
		return request.Result{}, err
	}
	r.planReminders(workflow.Now(ctx))
	if err := r.moveTo(ctx, consular.StatusAwaitingAppointment); err != nil {
		return request.Result{}, err
	}
	if err := r.send(ctx, activities.MailInput{Kind: activities.MailReceipt, ReceiptKey: receipt.ObjectKey}); err != nil {
		return request.Result{}, err
	}

	// Wait for the visit: bookings, reminders and extensions on the way.
	visit, err := r.waitForVisit(ctx)
	if err != nil {
		return request.Result{}, err
	}
	switch visit {
	case consular.StatusArchived, consular.StatusWithdrawn:
		// No visit: the request ends here and its documents are deleted.
		return r.finish(ctx)
	}
	// Attended: the decision arrives through an update; then the documents are
	// kept for the retention period, for questions about the decision.
	for !r.status.Final() {
		if err := r.sendQueuedMail(ctx); err != nil {
			return request.Result{}, err
		}
		if err := workflow.Await(ctx, func() bool { return r.status.Final() || len(r.outbox) > 0 }); err != nil {
			return request.Result{}, err
		}
	}
	if r.decision.Decision != "" {
		if err := workflow.Sleep(ctx, in.Policy.Retention); err != nil {
			return request.Result{}, err
		}
	}
	return r.finish(ctx)
}

// readVersions asks, at the start, which versioned changes this request
// runs with (requests started before a change keep the old way).
func (r *lifecycle) readVersions(ctx workflow.Context) {
	r.localReceipt = workflow.GetVersion(ctx, "receipt-by-local-activities", workflow.DefaultVersion, 1) == 1
	if r.localReceipt {
		// Every earlier change holds for a request started at this version:
		// asking for each again would cost a marker and a search-attribute
		// upsert (a visibility write on the server) per change, four of
		// them in the first workflow task alone.
		r.seatsReleased, r.localProjection, r.mailInOrder, r.remindAppointments = true, true, true, true
		return
	}
	r.seatsReleased = workflow.GetVersion(ctx, "seats-released-by-workflow", workflow.DefaultVersion, 1) == 1
	r.localProjection = workflow.GetVersion(ctx, "projection-local-activity", workflow.DefaultVersion, 1) == 1
	r.mailInOrder = workflow.GetVersion(ctx, "emails-in-order", workflow.DefaultVersion, 1) == 1
}

// waitForVisit waits for attendance, withdrawal or the deadline, and says
// which came (attended, withdrawn or archived), sending reminders while no
// appointment is booked. Bookings, cancellations and extensions arrive
// through update handlers and set changed.
func (r *lifecycle) waitForVisit(ctx workflow.Context) (consular.Status, error) {
	// Requests started before appointment reminders existed replay without them.
	if !r.localReceipt {
		r.remindAppointments = workflow.GetVersion(ctx, "appointment-reminder", workflow.DefaultVersion, 1) == 1
	}
	for r.status != consular.StatusAttended && !r.status.Final() {
		if err := r.sendQueuedMail(ctx); err != nil {
			return "", err
		}
		// An attendance or a decision that came while the mail was on its
		// way must not wait for the deadline: the wait below would miss it
		// (its flag is reset) and archive an approved request at the
		// deadline. Found by make test under load; the version keeps
		// histories that waited replaying as they ran.
		if (r.status == consular.StatusAttended || r.status.Final()) &&
			workflow.GetVersion(ctx, "visit-seen-after-mail", workflow.DefaultVersion, 1) == 1 {
			break
		}
		now := workflow.Now(ctx)
		if !now.Before(r.deadline) {
			// No visit by the deadline, booked or not: archive.
			return consular.StatusArchived, r.archive(ctx)
		}
		next := r.deadline
		if len(r.reminders) > 0 && r.reminders[0].Before(next) {
			next = r.reminders[0]
		}
		if at, due := r.appointmentReminder(); r.remindAppointments && due {
			if !now.Before(at) {
				r.appointmentNoted = true
				if err := r.send(ctx, activities.MailInput{Kind: activities.MailAppointmentReminder,
					Key: r.appointment.UTC().Format(time.RFC3339)}); err != nil {
					return "", err
				}
				continue
			}
			if at.Before(next) {
				next = at
			}
		}
		r.changed = false
		woken, err := workflow.AwaitWithTimeout(ctx, next.Sub(now), func() bool { return r.changed })
		if err != nil {
			return "", err
		}
		if woken || len(r.reminders) == 0 || workflow.Now(ctx).Before(r.reminders[0]) {
			continue
		}
		due := r.reminders[0]
		r.reminders = r.reminders[1:]
		if r.status == consular.StatusAwaitingAppointment { // a booked applicant needs no reminder
			if err := r.send(ctx, activities.MailInput{Kind: activities.MailReminder,
				Key: r.deadline.UTC().Format(time.RFC3339) + "-" + due.UTC().Format(time.RFC3339)}); err != nil {
				return "", err
			}
		}
	}
	return r.status, nil
}

// archive ends a request nobody came for: its appointment's seat (one was
// booked but missed) is freed and the applicant told.
func (r *lifecycle) archive(ctx workflow.Context) error {
	if r.seatsReleased {
		if err := r.releaseSeat(ctx, activities.SeatReleased); err != nil {
			return err
		}
		r.appointment = time.Time{}
	}
	if err := r.moveTo(ctx, consular.StatusArchived); err != nil {
		return err
	}
	return r.send(ctx, activities.MailInput{Kind: activities.MailArchived})
}

// releaseSeat gives back the seat of the request's current appointment, as
// outcome, so its slot is offered again; once, whatever the retries.
func (r *lifecycle) releaseSeat(ctx workflow.Context, outcome string) error {
	if !r.seatsReleased || r.appointment.IsZero() {
		return nil
	}
	return workflow.ExecuteActivity(withRetries(ctx, 10*time.Second), seats.Release, activities.ReleaseInput{
		TrackingCode: r.in.TrackingCode, At: r.appointment, Outcome: outcome}).Get(ctx, nil)
}

// planReminders schedules the reminders still ahead of now for the current deadline.
func (r *lifecycle) planReminders(now time.Time) {
	r.reminders = r.reminders[:0]
	for _, before := range r.in.Policy.Reminders {
		if at := r.deadline.Add(-before); at.After(now) {
			r.reminders = append(r.reminders, at)
		}
	}
	sort.Slice(r.reminders, func(i, j int) bool { return r.reminders[i].Before(r.reminders[j]) })
}

// finish deletes the documents, lets running handlers complete and ends the workflow.
func (r *lifecycle) finish(ctx workflow.Context) (request.Result, error) {
	if err := r.sendQueuedMail(ctx); err != nil {
		return request.Result{}, err
	}
	keys := make([]string, len(r.in.Documents))
	for i, d := range r.in.Documents {
		keys[i] = d.ObjectKey
	}
	if err := workflow.ExecuteActivity(withRetries(ctx, time.Minute), documents.Delete,
		activities.DeleteInput{ObjectKeys: keys}).Get(ctx, nil); err != nil {
		return request.Result{}, err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return request.Result{}, err
	}
	return request.Result{Status: r.status}, nil
}

// moveTo sets the status and publishes it: search attributes for operators,
// the projection for staff lists and the appointment system.
func (r *lifecycle) moveTo(ctx workflow.Context, status consular.Status) error {
	r.status = status
	r.changed = true
	return r.publish(ctx)
}

// publish writes the current state out. Each write carries the version it
// was made at, so the projection keeps the newest when writes overlap.
func (r *lifecycle) publish(ctx workflow.Context) error {
	r.version++
	rec := activities.RecordInput{
		TrackingCode: r.in.TrackingCode, Status: r.status, ServiceCode: r.in.ServiceCode, MissionCode: r.in.MissionCode,
		SubmittedAt: r.in.SubmittedAt, DeadlineAt: r.deadline, Version: r.version,
	}
	attrs := []temporal.SearchAttributeUpdate{
		request.StatusAttribute.ValueSet(string(r.status)),
		request.MissionAttribute.ValueSet(r.in.MissionCode),
		request.ServiceAttribute.ValueSet(r.in.ServiceCode),
		request.DeadlineAttribute.ValueSet(r.deadline),
	}
	if r.appointment.IsZero() {
		attrs = append(attrs, request.AppointmentAttribute.ValueUnset())
	} else {
		at := r.appointment
		rec.AppointmentAt = &at
		attrs = append(attrs, request.AppointmentAttribute.ValueSet(at))
	}
	if !r.shown(ctx) {
		if err := workflow.UpsertTypedSearchAttributes(ctx, attrs...); err != nil {
			return err
		}
	}
	if r.localProjection {
		// One short INSERT: as a local activity it runs in the workflow
		// task that made the change, so a transition costs no activity task
		// and no second workflow task, and a booking's Update answers in
		// one workflow task. Record is idempotent, and a write whose
		// workflow task was lost is replaced by the next one of the same
		// version (activities.Projection.Record).
		return workflow.ExecuteLocalActivity(withLocalRetries(ctx, 10*time.Second), projection.Record, rec).Get(ctx, nil)
	}
	return workflow.ExecuteActivity(withRetries(ctx, 10*time.Second), projection.Record, rec).Get(ctx, nil)
}

// run runs a step of the submission (documents.Validate, receipts.Issue)
// and decodes its result into result, when not nil: by a local activity
// for requests started at receipt-by-local-activities, by an activity of
// its own for those started before. Both are retried without limit, each
// attempt bounded by attempt.
func (r *lifecycle) run(ctx workflow.Context, attempt time.Duration, step, in, result any) error {
	var f workflow.Future
	if r.localReceipt {
		f = workflow.ExecuteLocalActivity(withLocalRetries(ctx, attempt), step, in)
	} else {
		f = workflow.ExecuteActivity(withRetries(ctx, attempt), step, in)
	}
	return f.Get(ctx, result)
}

// shown tells whether the workflow's search attributes say already what
// publish would set, so it need not upsert them: each upsert is a
// visibility write on the server. A request started by request.Start
// carries its submitted state from the start, in the visibility record
// written then. Requests started before receipt-by-local-activities
// upserted every time, and replay so.
func (r *lifecycle) shown(ctx workflow.Context) bool {
	if !r.localReceipt {
		return false
	}
	sa := workflow.GetTypedSearchAttributes(ctx)
	status, _ := sa.GetKeyword(request.StatusAttribute)
	mission, _ := sa.GetKeyword(request.MissionAttribute)
	service, _ := sa.GetKeyword(request.ServiceAttribute)
	deadline, _ := sa.GetTime(request.DeadlineAttribute)
	appointment, booked := sa.GetTime(request.AppointmentAttribute)
	return status == string(r.status) && mission == r.in.MissionCode && service == r.in.ServiceCode &&
		deadline.Equal(r.deadline) && booked == !r.appointment.IsZero() && appointment.Equal(r.appointment)
}

// send emails the applicant about this request; the mail activity sends
// each (kind, key) once, whatever the retries.
func (r *lifecycle) send(ctx workflow.Context, in activities.MailInput) error {
	in.TrackingCode = r.in.TrackingCode
	in.Deadline = r.deadline
	in.ChangeCutoff = r.in.Policy.Cutoff()
	if in.Appointment.IsZero() { // a queued email keeps the appointment it was about
		in.Appointment = r.appointment
	}
	if r.mailInOrder {
		// One email at a time, so they arrive in the order of the changes
		// they tell of: once the projection stopped taking an activity of
		// its own, a decision's email could overtake the booking's, still
		// on its way from the main loop.
		if err := workflow.Await(ctx, func() bool { return !r.mailing }); err != nil {
			return err
		}
		r.mailing = true
		defer func() { r.mailing = false }()
	}
	return workflow.ExecuteActivity(withRetries(ctx, 30*time.Second), mail.Send, in).Get(ctx, nil)
}

// withRetries sets a timeout for each attempt and retries without limit,
// backing off to five minutes: a dependency that is down (SMTP, MinIO)
// delays a request, visibly in the Temporal UI as a pending activity, but
// never loses it. Errors retrying cannot fix are non-retryable.
func withRetries(ctx workflow.Context, attempt time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: attempt,
		RetryPolicy:         untilItWorks(),
	})
}

// withLocalRetries is withRetries for a local activity: PostgreSQL or
// MinIO down delays the request, retried without limit, never loses it.
// Past the SDK's local retry threshold the retries wait on durable timers.
// The SDK gives a local activity without a ScheduleToCloseTimeout its
// StartToCloseTimeout as one, and stops retrying once the next attempt
// would start past it: without localRetriesFor an outage longer than one
// attempt failed the workflow.
func withLocalRetries(ctx workflow.Context, attempt time.Duration) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: localRetriesFor,
		StartToCloseTimeout:    attempt,
		RetryPolicy:            untilItWorks(),
	})
}

// untilItWorks retries without limit, backing off to five minutes.
func untilItWorks() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute}
}

// localRetriesFor bounds a local activity's retries only in name: far
// beyond any outage and any request's life.
const localRetriesFor = 100 * 365 * 24 * time.Hour

// badDocuments tells whether err is the validator's refusal, and why.
func badDocuments(err error) ([]activities.DocumentProblem, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrBadDocuments {
		return nil, false
	}
	var problems []activities.DocumentProblem
	if appErr.HasDetails() {
		_ = appErr.Details(&problems)
	}
	return problems, true
}

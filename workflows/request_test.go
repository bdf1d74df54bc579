package workflows

import (
	"context"
	"errors"
	"fmt"
	"github.com/openconsular/consular/workflows/request"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
)

const day = 24 * time.Hour

var submitted = time.Date(2026, 3, 21, 9, 0, 0, 0, time.UTC)

// world stands in for the activities: it records what the workflow asked
// them to do, so the tests assert the effects a real applicant would see.
type world struct {
	t          *testing.T
	env        *testsuite.TestWorkflowEnvironment
	records    []activities.RecordInput
	mails      []sentMail
	deleted    []string
	receipts   int
	badDocs    []activities.DocumentProblem
	refusals   []string
	acceptedAt map[string]time.Duration
	sent       int
	released   []activities.ReleaseInput // seats given back
	broken     []request.Broken          // the rules refusals named
	policy     request.Policy
	// steps lists the submission's steps as they ran ("Validate local",
	// "Issue local", "Send activity"), attempt by attempt.
	steps []string
	// validateFailures and issueFailures make that many first attempts
	// fail as a storage outage would; a failing Issue has already stored
	// its receipt (the answer was lost).
	validateFailures, issueFailures int
	receiptObjects                  map[string]int // receipt key → times stored
	// recordFailures makes that many first projection writes fail, as
	// while PostgreSQL is down.
	recordFailures int
}

type sentMail struct {
	activities.MailInput
	at time.Duration // after submission
}

func newWorld(t *testing.T) *world {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	w := &world{t: t, env: suite.NewTestWorkflowEnvironment(), acceptedAt: map[string]time.Duration{}, receiptObjects: map[string]int{},
		policy: request.Policy{Deadline: 90 * day, Reminders: []time.Duration{30 * day, 7 * day, day}, Retention: 30 * day}}
	w.env.SetStartTime(submitted)
	w.env.OnActivity(projection.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		if w.recordFailures > 0 {
			w.recordFailures--
			return errors.New("record: connection refused")
		}
		w.records = append(w.records, in)
		return nil
	})
	w.env.OnActivity(documents.Validate, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.ValidateInput) error {
		w.step(ctx, "Validate")
		if w.validateFailures > 0 {
			w.validateFailures--
			return errors.New("get document: connection refused")
		}
		if w.badDocs != nil {
			return temporal.NewNonRetryableApplicationError("refused", activities.ErrBadDocuments, nil, w.badDocs)
		}
		return nil
	})
	w.env.OnActivity(receipts.Issue, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.IssueInput) (activities.IssueResult, error) {
		w.step(ctx, "Issue")
		key := storage.ReceiptKey(in.TrackingCode)
		w.receiptObjects[key]++
		if w.issueFailures > 0 {
			w.issueFailures--
			return activities.IssueResult{}, errors.New("store receipt: connection reset")
		}
		w.receipts++
		return activities.IssueResult{ObjectKey: key}, nil
	})
	w.env.OnActivity(mail.Send, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.MailInput) (activities.MailResult, error) {
		w.step(ctx, "Send")
		w.mails = append(w.mails, sentMail{in, w.env.Now().Sub(submitted)})
		return activities.MailResult{}, nil
	})
	w.env.OnActivity(documents.Delete, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeleteInput) error {
		w.deleted = append(w.deleted, in.ObjectKeys...)
		return nil
	})
	w.env.OnActivity(seats.Release, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReleaseInput) error {
		w.released = append(w.released, in)
		return nil
	})
	return w
}

// step records that a step ran, and how: inside a workflow task (local)
// or as an activity task of its own.
func (w *world) step(ctx context.Context, name string) {
	how := "activity"
	if activity.GetInfo(ctx).IsLocalActivity {
		how = "local"
	}
	w.steps = append(w.steps, name+" "+how)
}

func (w *world) run() request.Result {
	w.t.Helper()
	w.env.ExecuteWorkflow(Request, request.Input{
		TrackingCode: "4821-7730-9152-06", ServiceCode: "driving_licence_inquiry", MissionCode: "AT-VIE", SubmittedAt: submitted,
		Documents: []consular.Document{{Kind: "licence", ObjectKey: "4821-7730-9152-06/licence.jpg", SHA256: "ab"}},
		Policy:    w.policy,
	})
	if !w.env.IsWorkflowCompleted() {
		w.t.Fatal("the workflow did not complete")
	}
	if err := w.env.GetWorkflowError(); err != nil {
		w.t.Fatal(err)
	}
	var result request.Result
	if err := w.env.GetWorkflowResult(&result); err != nil {
		w.t.Fatal(err)
	}
	return result
}

// at sends an update after the given time from submission; it must be accepted.
func (w *world) at(after time.Duration, name string, arg any) {
	w.env.RegisterDelayedCallback(func() {
		w.env.UpdateWorkflow(name, name+after.String(), &testsuite.TestUpdateCallback{
			OnAccept: func() { w.acceptedAt[name] = after },
			OnReject: func(err error) { w.t.Errorf("%s at %s refused: %v", name, after, err) },
			OnComplete: func(_ any, err error) {
				if err != nil {
					w.t.Errorf("%s at %s failed: %v", name, after, err)
				}
			},
		}, arg)
	}, after)
}

// refusedAt sends an update that must be refused, and records the reason.
func (w *world) refusedAt(after time.Duration, name string, arg any) {
	w.env.RegisterDelayedCallback(func() {
		w.sent++ // a fresh update ID each time: the same ID would be answered from the first call
		w.env.UpdateWorkflow(name, fmt.Sprintf("refused-%s-%d", name, w.sent), &testsuite.TestUpdateCallback{
			OnAccept: func() { w.t.Errorf("%s at %s was accepted, want refused", name, after) },
			OnReject: func(err error) {
				var appErr *temporal.ApplicationError
				if !errors.As(err, &appErr) || appErr.Type() != request.Refusal {
					w.t.Errorf("%s refused with %v, want a %s application error", name, err, request.Refusal)
				}
				w.refusals = append(w.refusals, err.Error())
				var broken request.Broken
				if appErr != nil && appErr.HasDetails() && appErr.Details(&broken) == nil {
					w.broken = append(w.broken, broken)
				}
			},
			OnComplete: func(any, error) {},
		}, arg)
	}, after)
}

func (w *world) mailKinds() []activities.MailKind {
	var kinds []activities.MailKind
	for _, m := range w.mails {
		kinds = append(kinds, m.Kind)
	}
	return kinds
}

func (w *world) statuses() []consular.Status {
	var s []consular.Status
	for _, r := range w.records {
		if len(s) == 0 || s[len(s)-1] != r.Status {
			s = append(s, r.Status)
		}
	}
	return s
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestApprovedAfterBookingAndAttendance(t *testing.T) {
	w := newWorld(t)
	appointment := submitted.Add(20 * day)
	w.at(2*day, request.UpdateBookAppointment, request.AppointmentInput{At: appointment})
	w.at(20*day, request.UpdateRecordAttendance, request.StaffInput{StaffID: "officer-7"})
	w.at(21*day, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "officer-7"})

	if got := w.run().Status; got != consular.StatusApproved {
		t.Fatalf("ended %s, want approved", got)
	}
	want := []consular.Status{consular.StatusSubmitted, consular.StatusAwaitingAppointment, consular.StatusAppointmentBooked,
		consular.StatusAttended, consular.StatusApproved}
	if !equal(w.statuses(), want) {
		t.Fatalf("statuses %v, want %v", w.statuses(), want)
	}
	wantMail := []activities.MailKind{activities.MailReceipt, activities.MailAppointmentBooked, activities.MailAppointmentReminder, activities.MailDecision}
	if !equal(w.mailKinds(), wantMail) {
		t.Fatalf("mails %v, want %v (no deadline reminder once booked)", w.mailKinds(), wantMail)
	}
	if w.mails[0].ReceiptKey == "" {
		t.Error("the receipt email has no receipt attached")
	}
	if len(w.deleted) != 1 || w.env.Now().Sub(submitted) < 51*day {
		t.Fatalf("documents deleted %v at day %.0f, want after the 30-day retention", w.deleted, w.env.Now().Sub(submitted).Hours()/24)
	}
	last := w.records[len(w.records)-1]
	if last.AppointmentAt == nil || !last.AppointmentAt.Equal(appointment) {
		t.Fatalf("projection's appointment = %v, want %v", last.AppointmentAt, appointment)
	}
}

func TestRejectionCarriesItsReasonToTheApplicant(t *testing.T) {
	w := newWorld(t)
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(3 * day)})
	w.at(3*day, request.UpdateRecordAttendance, request.StaffInput{})
	w.refusedAt(3*day+time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusRejected}) // no reason
	w.at(3*day+2*time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusRejected, Reason: "The licence number does not exist.", StaffID: "officer-7"})
	// Four eyes: the officer's rejection waits; the officer cannot confirm it; a supervisor does.
	w.refusedAt(3*day+3*time.Hour, request.UpdateConfirmDecision, request.StaffInput{StaffID: "officer-7"})
	w.env.RegisterDelayedCallback(func() {
		if len(w.mails) > 0 && w.mails[len(w.mails)-1].Kind == activities.MailDecision {
			t.Error("the rejection was emailed before a supervisor confirmed it")
		}
	}, 3*day+4*time.Hour)
	w.at(3*day+5*time.Hour, request.UpdateConfirmDecision, request.StaffInput{StaffID: "supervisor-2"})
	if got := w.run().Status; got != consular.StatusRejected {
		t.Fatalf("ended %s, want rejected", got)
	}
	decision := w.mails[len(w.mails)-1]
	if decision.Kind != activities.MailDecision || decision.Decision != consular.StatusRejected || decision.Reason == "" {
		t.Fatalf("last mail %+v, want the rejection with its reason", decision.MailInput)
	}
	if len(w.refusals) != 2 {
		t.Fatalf("refusals %v, want the reasonless rejection and the proposer's own confirmation refused", w.refusals)
	}
}

func TestBadDocumentsEndTheRequestAndAreDeleted(t *testing.T) {
	w := newWorld(t)
	w.badDocs = []activities.DocumentProblem{{Kind: "licence", Reason: "too_small", Fa: "کوچک", En: "too small"}}
	if got := w.run().Status; got != consular.StatusRejectedDocuments {
		t.Fatalf("ended %s, want rejected_documents", got)
	}
	if w.receipts != 0 {
		t.Fatal("a receipt was issued for refused documents")
	}
	if !equal(w.mailKinds(), []activities.MailKind{activities.MailDocumentsRejected}) || len(w.mails[0].Problems) != 1 || w.mails[0].Problems[0].Reason != "too_small" {
		t.Fatalf("mails %+v, want one naming the refused document", w.mails)
	}
	if len(w.deleted) != 1 {
		t.Fatalf("deleted %v, want the document", w.deleted)
	}
}

func TestArchivesWhenDeadlinePassesWithoutVisit(t *testing.T) {
	w := newWorld(t)
	if got := w.run().Status; got != consular.StatusArchived {
		t.Fatalf("ended %s, want archived", got)
	}
	if elapsed := w.env.Now().Sub(submitted); elapsed < 90*day {
		t.Fatalf("archived after %s, before the 90-day deadline", elapsed)
	}
	want := []activities.MailKind{activities.MailReceipt, activities.MailReminder, activities.MailReminder, activities.MailReminder, activities.MailArchived}
	if !equal(w.mailKinds(), want) {
		t.Fatalf("mails %v, want %v", w.mailKinds(), want)
	}
	for i, wantDay := range []time.Duration{60 * day, 83 * day, 89 * day} {
		if got := w.mails[i+1].at; got != wantDay {
			t.Errorf("reminder %d sent at day %.1f, want day %.0f", i+1, got.Hours()/24, wantDay.Hours()/24)
		}
	}
	keys := map[string]bool{}
	for _, m := range w.mails {
		if keys[string(m.Kind)+m.Key] {
			t.Errorf("two %s mails share the key %q: the outbox would drop one", m.Kind, m.Key)
		}
		keys[string(m.Kind)+m.Key] = true
	}
	if len(w.deleted) != 1 {
		t.Fatalf("deleted %v, want the documents deleted on archive", w.deleted)
	}
}

func TestNoShowIsArchivedAtTheDeadline(t *testing.T) {
	w := newWorld(t)
	w.at(5*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(40 * day)})
	if got := w.run().Status; got != consular.StatusArchived {
		t.Fatalf("ended %s, want archived", got)
	}
	want := []activities.MailKind{activities.MailReceipt, activities.MailAppointmentBooked, activities.MailAppointmentReminder, activities.MailArchived}
	if !equal(w.mailKinds(), want) {
		t.Fatalf("mails %v, want %v: the appointment's reminder, and no deadline reminders while booked", w.mailKinds(), want)
	}
}

func TestRemindersOnlyWhileUnbooked(t *testing.T) {
	w := newWorld(t)
	w.at(65*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(86 * day)}) // after the day-60 reminder
	w.at(80*day, request.UpdateCancelAppointment, request.StaffInput{})                                // before the day-83 one
	w.at(82*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(86 * day)})
	w.at(86*day+time.Hour, request.UpdateMarkNoShow, request.StaffInput{StaffID: "officer-7"}) // back to waiting: the day-89 reminder goes out
	w.run()
	var reminders []time.Duration
	for _, m := range w.mails {
		if m.Kind == activities.MailReminder {
			reminders = append(reminders, m.at)
		}
	}
	if !equal(reminders, []time.Duration{60 * day, 89 * day}) {
		t.Fatalf("reminders at %v, want days 60 and 89 only", reminders)
	}
	kinds := w.mailKinds()
	if kinds[len(kinds)-1] != activities.MailArchived {
		t.Fatalf("mails %v, want the request archived after the no-show", kinds)
	}
}

func TestExtendingTheDeadlineMovesTheTimerAndTellsTheApplicant(t *testing.T) {
	w := newWorld(t)
	w.refusedAt(80*day, request.UpdateExtendDeadline, request.ExtendInput{Days: 30}) // no reason
	w.refusedAt(80*day, request.UpdateExtendDeadline, request.ExtendInput{Until: submitted.Add(85 * day), Reason: "earlier"})
	w.at(80*day+time.Hour, request.UpdateExtendDeadline, request.ExtendInput{Days: 30, Reason: "Mission closed for two weeks", StaffID: "sup-1"})
	w.run()
	if elapsed := w.env.Now().Sub(submitted); elapsed < 120*day {
		t.Fatalf("archived at day %.1f, want after the extended deadline (day 120)", elapsed.Hours()/24)
	}
	var extended *sentMail
	for i := range w.mails {
		if w.mails[i].Kind == activities.MailDeadlineExtended {
			extended = &w.mails[i]
		}
	}
	if extended == nil || !extended.Deadline.Equal(submitted.Add(120*day)) {
		t.Fatalf("no email told the applicant the new deadline: %v", w.mailKinds())
	}
	if last := w.records[len(w.records)-1]; !last.DeadlineAt.Equal(submitted.Add(120 * day)) {
		t.Fatalf("projection deadline %s, want the extended one", last.DeadlineAt)
	}
	if len(w.refusals) != 2 {
		t.Fatalf("refusals %v", w.refusals)
	}
}

func TestWithdrawalEndsTheRequestAndDeletesDocuments(t *testing.T) {
	w := newWorld(t)
	w.at(3*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(10 * day)})
	w.at(4*day, request.UpdateWithdraw, request.WithdrawInput{})
	if got := w.run().Status; got != consular.StatusWithdrawn {
		t.Fatalf("ended %s, want withdrawn", got)
	}
	if elapsed := w.env.Now().Sub(submitted); elapsed > 5*day {
		t.Fatalf("the workflow lived on until day %.0f after withdrawal", elapsed.Hours()/24)
	}
	if len(w.deleted) != 1 || w.mailKinds()[len(w.mails)-1] != activities.MailWithdrawn {
		t.Fatalf("deleted %v, mails %v", w.deleted, w.mailKinds())
	}
}

func TestActionsTheStateDoesNotAllowAreRefused(t *testing.T) {
	w := newWorld(t)
	beforeDeadline := submitted.Add(30 * day)
	w.refusedAt(day, request.UpdateRecordAttendance, request.StaffInput{})                                    // nothing booked
	w.refusedAt(day, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved})               // not attended
	w.refusedAt(day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: beforeDeadline})       // nothing to move
	w.refusedAt(day, request.UpdateCancelAppointment, request.StaffInput{})                                   // nothing to cancel
	w.refusedAt(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(91 * day)})    // after the deadline
	w.refusedAt(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(time.Hour)})   // in the past
	w.at(2*day, request.UpdateBookAppointment, request.AppointmentInput{At: beforeDeadline})                  //
	w.refusedAt(3*day, request.UpdateBookAppointment, request.AppointmentInput{At: beforeDeadline.Add(day)})  // booked already
	w.refusedAt(3*day, request.UpdateMarkNoShow, request.StaffInput{})                                        // appointment not yet
	w.refusedAt(3*day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: beforeDeadline})     // same time
	w.at(30*day, request.UpdateRecordAttendance, request.StaffInput{})                                        //
	w.refusedAt(31*day, request.UpdateRecordAttendance, request.StaffInput{})                                 // twice
	w.refusedAt(31*day, request.UpdateWithdraw, request.WithdrawInput{})                                      // attended
	w.refusedAt(31*day, request.UpdateExtendDeadline, request.ExtendInput{Days: 10, Reason: "r"})             // attended
	w.refusedAt(31*day, request.UpdateDecide, request.Decision{Decision: consular.Status("maybe")})           // not a decision
	w.at(32*day, request.UpdateDecide, request.Decision{Decision: consular.StatusCompleted})                  //
	w.refusedAt(33*day, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved})            // decided
	w.refusedAt(33*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(40 * day)}) // final
	if got := w.run().Status; got != consular.StatusCompleted {
		t.Fatalf("ended %s, want completed", got)
	}
	if len(w.refusals) != 15 {
		t.Fatalf("%d refusals, want 15: %v", len(w.refusals), w.refusals)
	}
	for _, r := range w.refusals {
		if strings.TrimSpace(r) == "" {
			t.Fatal("a refusal without a reason")
		}
	}
}

func TestARepeatedUpdateIsAppliedOnce(t *testing.T) {
	w := newWorld(t)
	var results []request.StatusView
	book := func() {
		w.env.UpdateWorkflow(request.UpdateBookAppointment, "booking-from-http-retry", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("retry refused: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Error(err)
					return
				}
				results = append(results, v.(request.StatusView))
			},
		}, request.AppointmentInput{At: submitted.Add(10 * day)})
	}
	w.env.RegisterDelayedCallback(book, day)
	w.env.RegisterDelayedCallback(book, day+time.Minute)
	w.at(10*day, request.UpdateRecordAttendance, request.StaffInput{})
	w.at(10*day+time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved})
	w.run()
	if len(results) != 2 || results[0].Status != consular.StatusAppointmentBooked || results[1].Status != results[0].Status {
		t.Fatalf("results %+v, want the same booked answer twice", results)
	}
	booked := 0
	for _, m := range w.mails {
		if m.Kind == activities.MailAppointmentBooked {
			booked++
		}
	}
	if booked != 1 {
		t.Fatalf("%d booking emails, want 1", booked)
	}
}

func TestStatusQueryShowsTheAppointment(t *testing.T) {
	w := newWorld(t)
	at := submitted.Add(10 * day)
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: at})
	w.env.RegisterDelayedCallback(func() {
		value, err := w.env.QueryWorkflow(request.QueryStatus)
		if err != nil {
			t.Fatal(err)
		}
		var v request.StatusView
		if err := value.Get(&v); err != nil {
			t.Fatal(err)
		}
		if v.Status != consular.StatusAppointmentBooked || v.Appointment == nil || !v.Appointment.Equal(at) || !v.Deadline.Equal(submitted.Add(90*day)) {
			t.Errorf("status %+v", v)
		}
	}, 2*day)
	w.run()
}

func TestAppointmentReminderADayBefore(t *testing.T) {
	w := newWorld(t)
	w.at(2*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(20*day + 9*time.Hour)})
	w.at(20*day+9*time.Hour, request.UpdateRecordAttendance, request.StaffInput{})
	w.at(20*day+10*time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusCompleted})
	w.run()
	var reminders []sentMail
	for _, m := range w.mails {
		if m.Kind == activities.MailAppointmentReminder {
			reminders = append(reminders, m)
		}
	}
	if len(reminders) != 1 || reminders[0].at != 19*day+9*time.Hour {
		t.Fatalf("appointment reminders %+v, want one 24 hours before the appointment", reminders)
	}
}

func TestNoAppointmentReminderWhenBookedForTheNextDay(t *testing.T) {
	w := newWorld(t)
	w.at(2*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(2*day + 20*time.Hour)})
	w.at(2*day+20*time.Hour, request.UpdateRecordAttendance, request.StaffInput{})
	w.at(2*day+21*time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusCompleted})
	w.run()
	for _, m := range w.mails {
		if m.Kind == activities.MailAppointmentReminder {
			t.Fatalf("a reminder for an appointment booked 20 hours ahead: %+v", m)
		}
	}
}

func TestSensitiveServicesNeedASecondPairOfEyesForEveryDecision(t *testing.T) {
	w := newWorld(t)
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(3 * day)})
	w.at(3*day, request.UpdateRecordAttendance, request.StaffInput{})
	w.at(3*day+time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "officer-7"})
	w.env.RegisterDelayedCallback(func() {
		value, _ := w.env.QueryWorkflow(request.QueryStatus)
		var v request.StatusView
		_ = value.Get(&v)
		if v.Status != consular.StatusAttended || v.Proposed != consular.StatusApproved {
			t.Errorf("before confirmation: %s with %q proposed, want attended with approved proposed", v.Status, v.Proposed)
		}
	}, 3*day+2*time.Hour)
	w.at(3*day+3*time.Hour, request.UpdateConfirmDecision, request.StaffInput{StaffID: "supervisor-2"})
	w.env.ExecuteWorkflow(Request, request.Input{TrackingCode: "T", ServiceCode: "nationality", MissionCode: "AT-VIE", SubmittedAt: submitted,
		Policy: request.Policy{Deadline: 90 * day, Retention: day, FourEyes: "all"}})
	var result request.Result
	if err := w.env.GetWorkflowResult(&result); err != nil || result.Status != consular.StatusApproved {
		t.Fatalf("ended %v (%v), want approved after confirmation", result.Status, err)
	}
}

// A lost receipt is sent again by the request itself, once per ask, while
// the applicant may still visit; afterwards the ask is refused.
func TestReceiptIsSentAgainWhileTheRequestAwaitsItsVisit(t *testing.T) {
	w := newWorld(t)
	w.at(3*day, request.UpdateSendReceiptAgain, request.ReceiptAgainInput{})
	w.at(4*day, request.UpdateSendReceiptAgain, request.ReceiptAgainInput{})
	w.at(5*day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(10 * day)})
	w.at(10*day+time.Hour, request.UpdateRecordAttendance, request.StaffInput{StaffID: "officer-7"})
	w.refusedAt(11*day, request.UpdateSendReceiptAgain, request.ReceiptAgainInput{}) // visited: nothing more to send
	w.at(12*day, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "officer-7"})
	w.run()
	if w.sent != 1 {
		t.Fatalf("%d refused asks made, want the one after the visit", w.sent)
	}
	var again []sentMail
	for _, m := range w.mails {
		if m.Kind == activities.MailReceipt {
			again = append(again, m)
		}
	}
	if len(again) != 3 || again[1].Key == again[2].Key || again[1].Key == "" || again[1].ReceiptKey != storage.ReceiptKey("4821-7730-9152-06") {
		t.Fatalf("receipts sent %+v, want the first and two more with keys of their own and the receipt attached", again)
	}
	if again[1].at != 3*day || again[2].at != 4*day {
		t.Fatalf("sent again at %v and %v, want days 3 and 4", again[1].at, again[2].at)
	}
}

// The appointment rules hold for every door, since the workflow holds
// them: a third move is refused under the reschedule limit, a move or an
// applicant's cancellation within the cut-off under the cut-off (the
// mission may still cancel), a second booking under one-appointment; each
// move and cancellation gives the old time's seat back, once.
func TestAppointmentRulesHoldWhoeverAsks(t *testing.T) {
	w := newWorld(t)
	first := submitted.Add(20 * day)
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: first})
	w.refusedAt(day+time.Hour, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(21 * day)})
	w.at(2*day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: submitted.Add(22 * day)})
	w.at(3*day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: submitted.Add(23 * day)})
	w.refusedAt(4*day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: submitted.Add(24 * day)})
	// Within 24 hours of the appointment on day 23: no move, no applicant's cancellation.
	w.refusedAt(22*day+time.Hour, request.UpdateCancelAppointment, request.StaffInput{})
	w.at(22*day+2*time.Hour, request.UpdateCancelAppointment, request.StaffInput{StaffID: "officer-7"})
	w.at(23*day, request.UpdateWithdraw, request.WithdrawInput{})
	w.run()

	wantBroken := []request.Broken{{Rule: request.RuleOneAppointment}, {Rule: request.RuleRescheduleLimit, Limit: 2},
		{Rule: request.RuleChangeCutoff, Limit: 24}}
	if !equal(w.broken, wantBroken) {
		t.Fatalf("refusals under rules %v, want %v (all: %v)", w.broken, wantBroken, w.refusals)
	}
	var outcomes []string
	for _, r := range w.released {
		outcomes = append(outcomes, r.Outcome+" "+r.At.Sub(submitted).String())
	}
	want := []string{"rescheduled 480h0m0s", "rescheduled 528h0m0s", "cancelled 552h0m0s"}
	if !equal(outcomes, want) {
		t.Fatalf("seats released %v, want %v (nothing for the withdrawal: no appointment left)", outcomes, want)
	}
}

// The limits are the request's policy: a mission allowing one move refuses
// the second; a 48-hour cut-off refuses a move two days before.
func TestAppointmentLimitsComeFromThePolicy(t *testing.T) {
	w := newWorld(t)
	w.policy = request.Policy{Deadline: 90 * day, Retention: day, MaxReschedules: 1, ChangeCutoff: 48 * time.Hour}
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(20 * day)})
	w.at(2*day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: submitted.Add(30 * day)})
	w.refusedAt(3*day, request.UpdateRescheduleAppointment, request.AppointmentInput{At: submitted.Add(31 * day)})
	w.refusedAt(28*day+time.Hour, request.UpdateCancelAppointment, request.StaffInput{})
	w.at(29*day, request.UpdateWithdraw, request.WithdrawInput{})
	w.run()
	want := []request.Broken{{Rule: request.RuleRescheduleLimit, Limit: 1}, {Rule: request.RuleChangeCutoff, Limit: 48}}
	if !equal(w.broken, want) {
		t.Fatalf("refusals under rules %v, want %v (all: %v)", w.broken, want, w.refusals)
	}
	if n := len(w.released); n != 2 || w.released[1].Outcome != activities.SeatReleased {
		t.Fatalf("seats released %v, want the move's and the withdrawal's", w.released)
	}
}

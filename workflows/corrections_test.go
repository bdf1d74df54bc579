package workflows

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/workflows/request"
)

// correcting records what the workflow asked the projection to correct.
func (w *world) correcting() *[]activities.CorrectInput {
	var corrections []activities.CorrectInput
	w.env.OnActivity(projection.Correct, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CorrectInput) error {
		corrections = append(corrections, in)
		return nil
	})
	return &corrections
}

func (w *world) mailsOf(kind activities.MailKind) []sentMail {
	var out []sentMail
	for _, m := range w.mails {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func TestCorrectionAtTheVisitIsRecordedAndEmailedOnce(t *testing.T) {
	w := newWorld(t)
	corrections := w.correcting()
	licence := request.Correction{Field: "form.licence_number", Value: "۸۷۶۵۴۳۲۱", Reason: "a digit misread on the form", StaffID: "7"}
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(10 * day)})
	w.at(10*day+time.Hour, request.UpdateRecordAttendance, request.StaffInput{StaffID: "7"})
	// The officer's form sent twice (a double click, an HTTP retry): one update ID, one correction.
	for _, after := range []time.Duration{10*day + 2*time.Hour, 10*day + 3*time.Hour} {
		w.env.RegisterDelayedCallback(func() {
			w.env.UpdateWorkflow(request.UpdateCorrectRequest, "correct_request:form-1", &noRefusal{t: t}, licence)
		}, after)
	}
	w.at(10*day+4*time.Hour, request.UpdateCorrectRequest, request.Correction{Field: "residence.city", Value: "Graz", Reason: "moved", StaffID: "7"})
	w.at(11*day, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "8"})

	if got := w.run().Status; got != consular.StatusApproved {
		t.Fatalf("ended %s, want approved", got)
	}
	if len(*corrections) != 2 {
		t.Fatalf("corrections %+v, want the licence number once and the city", *corrections)
	}
	first := (*corrections)[0]
	if first.Field != "form.licence_number" || first.Value != "87654321" || first.StaffID != "7" || first.UpdateID != "correct_request:form-1" {
		t.Errorf("correction %+v, want the licence number stored in ASCII digits by officer 7 under its update ID", first)
	}
	mails := w.mailsOf(activities.MailCorrection)
	if len(mails) != 2 || mails[0].Key != "correct_request:form-1" {
		t.Fatalf("correction emails %+v, want one per correction, keyed by its update", mails)
	}
	if mails[0].at != 10*day+2*time.Hour {
		t.Errorf("the correction's email went out at %s, want at once", mails[0].at)
	}
}

// noRefusal is an update callback that fails the test on a refusal or error.
type noRefusal struct{ t *testing.T }

func (n *noRefusal) Accept() {}
func (n *noRefusal) Reject(err error) {
	n.t.Errorf("refused: %v", err)
}
func (n *noRefusal) Complete(_ any, err error) {
	if err != nil {
		n.t.Errorf("failed: %v", err)
	}
}

func TestCorrectionsOnlyWhileTheApplicantIsAtTheMission(t *testing.T) {
	w := newWorld(t)
	corrections := w.correcting()
	valid := request.Correction{Field: "form.licence_number", Value: "12345678", Reason: "typo", StaffID: "7"}
	w.refusedAt(day, request.UpdateCorrectRequest, valid) // waiting for an appointment
	w.at(day+time.Hour, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(5 * day)})
	w.refusedAt(5*day+time.Minute, request.UpdateCorrectRequest, valid) // booked, on the day, attendance not recorded
	w.at(5*day+time.Hour, request.UpdateRecordAttendance, request.StaffInput{StaffID: "7"})
	w.at(5*day+2*time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusRejected, Reason: "not eligible", StaffID: "8", Confirmed: true})
	w.refusedAt(6*day, request.UpdateCorrectRequest, valid) // rejected: final
	w.run()

	if len(w.refusals) != 3 {
		t.Fatalf("refusals %q, want three", w.refusals)
	}
	for i, want := range []string{"awaiting_appointment", "appointment_booked", "rejected"} {
		if !strings.Contains(w.refusals[i], want) {
			t.Errorf("refusal %d: %q, want it to name %s", i, w.refusals[i], want)
		}
	}
	// The rules the desk words the refusals by, in the page's language.
	wantRules := []request.Broken{{Rule: request.RuleNotAttended}, {Rule: request.RuleNotAttended}, {Rule: request.RuleClosed}}
	if !slices.Equal(w.broken, wantRules) {
		t.Errorf("refusals under rules %v, want %v", w.broken, wantRules)
	}
	if len(*corrections) != 0 || len(w.mailsOf(activities.MailCorrection)) != 0 {
		t.Errorf("a refused correction changed something: %+v", *corrections)
	}
}

func TestCorrectionThatSubmissionWouldRefuseIsRefused(t *testing.T) {
	w := newWorld(t)
	corrections := w.correcting()
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(5 * day)})
	w.at(5*day, request.UpdateRecordAttendance, request.StaffInput{StaffID: "7"})
	long := strings.Repeat("x", consular.MaxCorrectionReason+1)
	for i, c := range []request.Correction{
		{Field: "form.licence_number", Value: "12AB", Reason: "typo", StaffID: "7"},        // the service's pattern
		{Field: "form.licence_number", Value: "", Reason: "typo", StaffID: "7"},            // required
		{Field: "identity.birth_date", Value: "2099-01-01", Reason: "typo", StaffID: "7"},  // a birth date to come
		{Field: "identity.gender", Value: "x", Reason: "typo", StaffID: "7"},               // not an option
		{Field: "identity.national_id", Value: "0013542419", Reason: "typo", StaffID: "7"}, // not an answer of the request
		{Field: "licence_number", Value: "12345678", Reason: "typo", StaffID: "7"},         // named without its section
		{Field: "form.licence_number", Value: "12345678", Reason: " ", StaffID: "7"},       // no reason
		{Field: "form.licence_number", Value: "12345678", Reason: long, StaffID: "7"},      // a reason too long
		{Field: "form.licence_number", Value: "12345678", Reason: "typo"},                  // nobody's
	} {
		w.refusedAt(5*day+time.Duration(i+1)*time.Minute, request.UpdateCorrectRequest, c)
	}
	w.at(6*day, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "8"})
	w.run()

	if len(w.refusals) != 9 {
		t.Fatalf("refusals %q, want nine", w.refusals)
	}
	if len(*corrections) != 0 {
		t.Errorf("an invalid correction was written: %+v", *corrections)
	}
}

func TestNoCorrectionWhileADecisionAwaitsConfirmation(t *testing.T) {
	w := newWorld(t)
	w.policy.FourEyes = "all"
	w.correcting()
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(5 * day)})
	w.at(5*day, request.UpdateRecordAttendance, request.StaffInput{StaffID: "7"})
	w.at(5*day+time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "7"})
	w.refusedAt(5*day+2*time.Hour, request.UpdateCorrectRequest, request.Correction{Field: "form.licence_number", Value: "12345678", Reason: "typo", StaffID: "7"})
	w.at(5*day+3*time.Hour, request.UpdateConfirmDecision, request.StaffInput{StaffID: "8"})
	w.run()
	if len(w.refusals) != 1 || !strings.Contains(w.refusals[0], "confirmation") {
		t.Fatalf("refusals %q, want the waiting decision named", w.refusals)
	}
}

// A correction whose write is slow (PostgreSQL busy, the activity retried)
// holds the decision back: a decision is made on the answers as corrected,
// never while they change, and its email follows the correction's.
func TestNoDecisionWhileACorrectionIsBeingWritten(t *testing.T) {
	w := newWorld(t)
	w.env.OnActivity(projection.Correct, mock.Anything, mock.Anything).After(time.Hour).Return(nil)
	w.at(day, request.UpdateBookAppointment, request.AppointmentInput{At: submitted.Add(5 * day)})
	w.at(5*day, request.UpdateRecordAttendance, request.StaffInput{StaffID: "7"})
	w.at(5*day+time.Minute, request.UpdateCorrectRequest, request.Correction{Field: "form.licence_number", Value: "87654321", Reason: "misread", StaffID: "7"})
	w.refusedAt(5*day+10*time.Minute, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "8"})
	w.at(5*day+2*time.Hour, request.UpdateDecide, request.Decision{Decision: consular.StatusApproved, StaffID: "8"})
	if got := w.run().Status; got != consular.StatusApproved {
		t.Fatalf("ended %s, want approved", got)
	}
	if len(w.refusals) != 1 || !strings.Contains(w.refusals[0], "correction is being recorded") {
		t.Fatalf("refusals %q, want the decision held back while the correction was written", w.refusals)
	}
	if c, d := w.mailsOf(activities.MailCorrection), w.mailsOf(activities.MailDecision); len(c) != 1 || len(d) != 1 || c[0].at > d[0].at {
		t.Errorf("correction emails %+v, decision emails %+v: want one each, the correction's first", c, d)
	}
}

package staff

import (
	"testing"

	"github.com/openconsular/consular/workflows/request"
)

// The desk words the workflow's common refusals itself, in the page's
// language; the reasons below are the workflow's (workflows/updates.go,
// workflows/corrections.go). Any other reason is shown as given.
func TestDeskWordsTheWorkflowsCommonRefusals(t *testing.T) {
	for _, c := range []struct {
		reason string
		closed bool
		want   string
	}{
		{"the request is approved; nothing more can be done with it", false, "staff.refusal.closed"},
		{"the request is closed; nothing more can be done with it", true, "staff.refusal.closed"},
		{"anything at all, once the workflow has ended", true, "staff.refusal.closed"},
		{"a decision is waiting for confirmation; corrections come before the decision", false, "staff.refusal.awaiting_confirmation"},
		{"corrections are made at the mission during the visit, once attendance is recorded; the request is appointment_booked", false, "staff.refusal.not_attended"},
		{"a decision needs the applicant's attendance first; the request is awaiting_appointment", false, "staff.refusal.not_attended"},
		{"the appointment has not started yet", false, "staff.actions.no_show_later"},
		{"a decision is confirmed by someone other than the officer who proposed it", false, "staff.refusal.own_proposal"},
		{"there is no decision waiting for confirmation", false, ""},
		{"the new deadline must be later than the current one", false, ""},
	} {
		if got := refusalKey(&request.RefusedError{Reason: c.reason, Closed: c.closed}); got != c.want {
			t.Errorf("%q: worded by %q, want %q", c.reason, got, c.want)
		}
	}
}

package staff

import (
	"testing"

	"github.com/openconsular/consular/workflows/request"
)

// The desk words the workflow's common refusals itself, in the page's
// language, by the rule the workflow names (workflows/updates.go and
// corrections.go name them; their tests check they do). Any other reason
// is shown as given.
func TestDeskWordsTheWorkflowsCommonRefusals(t *testing.T) {
	for _, c := range []struct {
		rule   request.Rule
		closed bool
		want   string
	}{
		{request.RuleClosed, false, "staff.refusal.closed"},
		{"", true, "staff.refusal.closed"}, // the workflow has ended
		{request.RuleAwaitingConfirmation, false, "staff.refusal.awaiting_confirmation"},
		{request.RuleNotAttended, false, "staff.refusal.not_attended"},
		{request.RuleNotYetDue, false, "staff.actions.no_show_later"},
		{request.RuleOwnProposal, false, "staff.refusal.own_proposal"},
		{request.RuleRescheduleLimit, false, ""},
		{"", false, ""},
	} {
		refused := &request.RefusedError{Reason: "the workflow's words", Closed: c.closed, Broken: request.Broken{Rule: c.rule}}
		if got := refusalKey(refused); got != c.want {
			t.Errorf("%q (closed %v): worded by %q, want %q", c.rule, c.closed, got, c.want)
		}
	}
}

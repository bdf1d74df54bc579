package requests

import (
	"testing"

	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/workflows"
)

// The policy's action words are the workflow's update names: the API sends
// the update named like the action it checked.
func TestPolicyActionsAreTheWorkflowsUpdates(t *testing.T) {
	for action, update := range map[staffpolicy.Action]string{
		staffpolicy.Book: workflows.UpdateBookAppointment, staffpolicy.Reschedule: workflows.UpdateRescheduleAppointment,
		staffpolicy.Cancel: workflows.UpdateCancelAppointment, staffpolicy.Attend: workflows.UpdateRecordAttendance,
		staffpolicy.NoShow: workflows.UpdateMarkNoShow, staffpolicy.Decide: workflows.UpdateDecide,
		staffpolicy.Confirm: workflows.UpdateConfirmDecision, staffpolicy.Extend: workflows.UpdateExtendDeadline,
		staffpolicy.Withdraw: workflows.UpdateWithdraw,
	} {
		if string(action) != update {
			t.Errorf("action %s sends update %s", action, update)
		}
	}
}

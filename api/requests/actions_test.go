package requests

import (
	"testing"

	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/workflows/request"
)

// The policy's action words are the workflow's update names: the API sends
// the update named like the action it checked.
func TestPolicyActionsAreTheWorkflowsUpdates(t *testing.T) {
	for action, update := range map[staffpolicy.Action]string{
		staffpolicy.Book: request.UpdateBookAppointment, staffpolicy.Reschedule: request.UpdateRescheduleAppointment,
		staffpolicy.Cancel: request.UpdateCancelAppointment, staffpolicy.Attend: request.UpdateRecordAttendance,
		staffpolicy.NoShow: request.UpdateMarkNoShow, staffpolicy.Decide: request.UpdateDecide,
		staffpolicy.Confirm: request.UpdateConfirmDecision, staffpolicy.Extend: request.UpdateExtendDeadline,
		staffpolicy.Withdraw: request.UpdateWithdraw,
	} {
		if string(action) != update {
			t.Errorf("action %s sends update %s", action, update)
		}
	}
}

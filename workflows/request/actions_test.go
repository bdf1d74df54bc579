package request

import (
	"slices"
	"testing"

	"github.com/openconsular/consular/internal/consular"
)

// The desk offers only what the workflow's validators would accept: one row
// per state a request can be in.
func TestStaffActionsFollowTheRequestsState(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Situation
		want []string
	}{
		{"submitted, still being checked", Situation{Status: consular.StatusSubmitted}, nil},
		{"waiting for a booking", Situation{Status: consular.StatusAwaitingAppointment}, []string{UpdateExtendDeadline}},
		{"booked, not yet begun", Situation{Status: consular.StatusAppointmentBooked}, []string{UpdateRecordAttendance, UpdateExtendDeadline}},
		{"booked, begun", Situation{Status: consular.StatusAppointmentBooked, AppointmentBegun: true},
			[]string{UpdateRecordAttendance, UpdateMarkNoShow, UpdateExtendDeadline}},
		{"attended", Situation{Status: consular.StatusAttended}, []string{UpdateDecide, UpdateCorrectRequest}},
		{"attended, decision proposed", Situation{Status: consular.StatusAttended, Proposed: true}, []string{UpdateConfirmDecision}},
		{"approved", Situation{Status: consular.StatusApproved}, nil},
		{"rejected", Situation{Status: consular.StatusRejected}, nil},
		{"completed", Situation{Status: consular.StatusCompleted}, nil},
		{"archived", Situation{Status: consular.StatusArchived}, nil},
		{"withdrawn", Situation{Status: consular.StatusWithdrawn}, nil},
		{"documents rejected", Situation{Status: consular.StatusRejectedDocuments}, nil},
	} {
		if got := StaffActions(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// A final status offers nothing, whatever else is said of the request.
func TestFinalStatusesOfferNoAction(t *testing.T) {
	for _, s := range []consular.Status{consular.StatusSubmitted, consular.StatusRejectedDocuments, consular.StatusAwaitingAppointment,
		consular.StatusAppointmentBooked, consular.StatusAttended, consular.StatusApproved, consular.StatusRejected,
		consular.StatusCompleted, consular.StatusArchived, consular.StatusWithdrawn} {
		got := StaffActions(Situation{Status: s, Proposed: true, AppointmentBegun: true})
		if s.Final() && len(got) != 0 {
			t.Errorf("%s is final but offers %v", s, got)
		}
	}
}

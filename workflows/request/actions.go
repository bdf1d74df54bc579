package request

import "github.com/openconsular/consular/internal/consular"

// Situation is what a door knows of a request when it decides which staff
// actions to offer: its status (from the status cache), whether a decision
// waits for a supervisor, and whether its appointment has begun.
type Situation struct {
	Status   consular.Status
	Proposed bool // a decision waits for a supervisor's confirmation
	// AppointmentBegun says the booked appointment's time has come: before
	// it the applicant cannot have missed it.
	AppointmentBegun bool
}

// StaffActions are the updates the request's state allows staff to send,
// in the order a desk shows them, so a page offers only what would not be
// refused. It mirrors the workflow's validators for display only: they stay
// the authority, and an action offered on a stale page is still refused
// there with their reason. Notes are the dashboard's own, not updates.
func StaffActions(s Situation) []string {
	switch s.Status {
	case consular.StatusAwaitingAppointment:
		return []string{UpdateExtendDeadline}
	case consular.StatusAppointmentBooked:
		if s.AppointmentBegun {
			return []string{UpdateRecordAttendance, UpdateMarkNoShow, UpdateExtendDeadline}
		}
		return []string{UpdateRecordAttendance, UpdateExtendDeadline}
	case consular.StatusAttended:
		if s.Proposed {
			return []string{UpdateConfirmDecision}
		}
		return []string{UpdateDecide, UpdateCorrectRequest} // corrections at the visit, before the decision
	}
	return nil // submitted (the workflow is checking it) and every final status
}

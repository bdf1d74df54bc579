// Package consular holds the domain's words and rules, with no dependencies:
// request statuses, tracking codes, national ID codes, services and missions.
package consular

// Status is where a request stands. The same words are used in Go, SQL, the
// RequestStatus search attribute, templates and emails.
type Status string

const (
	StatusSubmitted           Status = "submitted"
	StatusRejectedDocuments   Status = "rejected_documents"
	StatusAwaitingAppointment Status = "awaiting_appointment"
	StatusAppointmentBooked   Status = "appointment_booked"
	StatusAttended            Status = "attended"
	StatusApproved            Status = "approved"
	StatusRejected            Status = "rejected"
	StatusCompleted           Status = "completed"
	StatusArchived            Status = "archived"
	StatusWithdrawn           Status = "withdrawn"
)

// Final reports whether a request in this status is over: nothing more can
// happen to it but the purge of its data.
func (s Status) Final() bool {
	switch s {
	case StatusRejectedDocuments, StatusApproved, StatusRejected, StatusCompleted, StatusArchived, StatusWithdrawn:
		return true
	}
	return false
}

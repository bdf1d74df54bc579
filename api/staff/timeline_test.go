package staff

import (
	"testing"
	"time"
)

// An appointment event takes the actor of the nearest audit line of its
// action within a minute, each line once; with none, the applicant booked
// online (the portal writes no audit line).
func TestAppointmentEventsNameWhoActed(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	events := []Event{
		{At: t0, What: "booked"},
		{At: t0.Add(time.Hour), What: "cancelled"},
		{At: t0.Add(2 * time.Hour), What: "booked"},
		{At: t0.Add(3 * time.Hour), What: "moved"},
	}
	audit := []Event{
		{At: t0.Add(2 * time.Second), What: "book_appointment", Actor: "client:kiosk", Role: roleClient},
		{At: t0.Add(time.Hour + 90*time.Second), What: "cancel_appointment", Actor: "late@mfa.example", Role: "officer"}, // too far
		{At: t0.Add(3*time.Hour + time.Second), What: "reschedule_appointment", Actor: "officer@mfa.example", Role: "officer"},
		{At: t0.Add(3*time.Hour + 2*time.Second), What: "reschedule_appointment", Actor: "other@mfa.example", Role: "officer"},
	}
	got := attribute(events, audit)
	want := []struct{ actor, role string }{
		{"client:kiosk", roleClient},
		{"", roleApplicant},
		{"", roleApplicant},
		{"officer@mfa.example", "officer"},
	}
	for i, w := range want {
		if got[i].Actor != w.actor || got[i].Role != w.role {
			t.Errorf("%s at %s: %q (%s), want %q (%s)", got[i].What, got[i].At.Format(time.TimeOnly), got[i].Actor, got[i].Role, w.actor, w.role)
		}
	}
}

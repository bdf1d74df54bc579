package activities

import (
	"context"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
)

// A retried write of an older transition arriving after a newer one must not
// turn the request back.
func TestProjectionKeepsTheNewestTransition(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	p := &Projection{DB: db}
	now := time.Now().UTC().Truncate(time.Microsecond)
	base := RecordInput{TrackingCode: "1234", ServiceCode: "passport", MissionCode: "AT-VIE", SubmittedAt: now, DeadlineAt: now.Add(time.Hour)}

	for _, step := range []struct {
		status  consular.Status
		version int
	}{{consular.StatusAwaitingAppointment, 1}, {consular.StatusArchived, 3}, {consular.StatusAppointmentBooked, 2}, {consular.StatusArchived, 3}} {
		in := base
		in.Status, in.Version = step.status, step.version
		if err := p.Record(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	var status string
	var version int
	if err := db.QueryRow(ctx, "SELECT status, version FROM requests WHERE tracking_code = '1234'").Scan(&status, &version); err != nil {
		t.Fatal(err)
	}
	if status != "archived" || version != 3 {
		t.Fatalf("projection holds %s (version %d), want archived (3)", status, version)
	}
}

// The workflow writes the projection from a local activity, before the
// workflow task that made the change is stored. When that task is lost
// (an Update's task dropped, a worker gone), the write stays though the
// workflow never made the change; the workflow's next write carries the
// same version with what did happen, and must replace it. The same write
// retried still changes nothing.
func TestProjectionFollowsTheWorkflowAfterAWriteWhoseTaskWasLost(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	lost, kept := now.Add(48*time.Hour), now.Add(72*time.Hour)
	base := RecordInput{TrackingCode: "5678", ServiceCode: "passport", MissionCode: "AT-VIE", SubmittedAt: now, DeadlineAt: now.Add(90 * 24 * time.Hour)}
	// Record's statement itself, to see which writes change the row.
	write := func(status consular.Status, version int, at *time.Time) int64 {
		t.Helper()
		in := base
		in.Status, in.Version, in.AppointmentAt = status, version, at
		tag, err := db.Exec(ctx, recordSQL, in.TrackingCode, string(in.Status), in.ServiceCode, in.MissionCode,
			in.SubmittedAt, in.DeadlineAt, in.AppointmentAt, in.Version)
		if err != nil {
			t.Fatal(err)
		}
		return tag.RowsAffected()
	}
	write(consular.StatusAwaitingAppointment, 2, nil)
	write(consular.StatusAppointmentBooked, 3, &lost) // its workflow task was lost
	if n := write(consular.StatusAppointmentBooked, 3, &kept); n != 1 {
		t.Errorf("the workflow's own write of version 3 changed %d rows, want 1", n)
	}
	if n := write(consular.StatusAppointmentBooked, 3, &kept); n != 0 {
		t.Errorf("the same write retried changed %d rows, want 0 (a transition counted twice)", n)
	}
	if n := write(consular.StatusAwaitingAppointment, 2, nil); n != 0 {
		t.Errorf("an older write retried changed %d rows, want 0", n)
	}
	var status string
	var at *time.Time
	if err := db.QueryRow(ctx, "SELECT status, appointment_at FROM requests WHERE tracking_code = '5678'").Scan(&status, &at); err != nil {
		t.Fatal(err)
	}
	if status != string(consular.StatusAppointmentBooked) || at == nil || !at.Equal(kept) {
		t.Fatalf("projection holds %s at %v, want %s at %v", status, at, consular.StatusAppointmentBooked, kept)
	}
}

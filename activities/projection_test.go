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

package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
)

// recorder collects what the workflow wrote to the projection.
type recorder struct{ records []activities.RecordInput }

func (r *recorder) expect(env *testsuite.TestWorkflowEnvironment) {
	var p *activities.Projection
	env.OnActivity(p.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		r.records = append(r.records, in)
		return nil
	})
}

func TestArchivesWhenDeadlinePassesWithoutVisit(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	rec := &recorder{}
	rec.expect(env)
	submitted := time.Date(2026, 3, 21, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(submitted)

	env.ExecuteWorkflow(Request, RequestInput{TrackingCode: "T", ServiceCode: "driving_licence_inquiry",
		MissionCode: "AT-VIE", SubmittedAt: submitted, Policy: Policy{Deadline: 90 * 24 * time.Hour}})

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var result RequestResult
	if err := env.GetWorkflowResult(&result); err != nil {
		t.Fatal(err)
	}
	if result.Status != consular.StatusArchived {
		t.Fatalf("ended %s, want archived", result.Status)
	}
	if got := env.Now().Sub(submitted); got < 90*24*time.Hour {
		t.Fatalf("archived after %s, before the 90-day deadline", got)
	}
	if len(rec.records) != 2 || rec.records[0].Status != consular.StatusAwaitingAppointment || rec.records[1].Status != consular.StatusArchived {
		t.Fatalf("projection writes: %+v", rec.records)
	}
	if rec.records[1].Version <= rec.records[0].Version {
		t.Fatalf("versions do not grow: %+v", rec.records)
	}
}

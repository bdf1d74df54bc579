package workflows

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/workflows/request"
)

// A submission's documents are checked and its receipt issued inside the
// workflow task that started it: only the receipt's email is an activity
// task of its own (SMTP may be slow, and its email is sent once).
func TestSubmissionChecksDocumentsAndIssuesTheReceiptWithinItsFirstWorkflowTask(t *testing.T) {
	w := newWorld(t)
	if got := w.run().Status; got != consular.StatusArchived {
		t.Fatalf("ended %s, want archived", got)
	}
	want := []string{"Validate local", "Issue local", "Send activity"}
	if len(w.steps) < len(want) || !equal(w.steps[:len(want)], want) {
		t.Fatalf("the submission ran %v, want %v first", w.steps, want)
	}
}

// A storage outage during the check and an Issue whose answer was lost
// (its receipt stored) are retried: the documents are checked before any
// receipt is written, the receipt is the one object of the tracking code,
// and the applicant gets one receipt email naming it.
func TestRetriedCheckAndReceiptEndWithOneReceiptAndOneEmail(t *testing.T) {
	w := newWorld(t)
	w.validateFailures, w.issueFailures = 2, 2
	w.run()
	want := []string{"Validate local", "Validate local", "Validate local", "Issue local", "Issue local", "Issue local", "Send activity"}
	if len(w.steps) < len(want) || !equal(w.steps[:len(want)], want) {
		t.Fatalf("the submission ran %v, want %v first", w.steps, want)
	}
	key := storage.ReceiptKey("4821-7730-9152-06")
	if len(w.receiptObjects) != 1 || w.receiptObjects[key] != 3 {
		t.Fatalf("receipts stored %v, want the one object %s written by each of the 3 attempts", w.receiptObjects, key)
	}
	var receiptMails []sentMail
	for _, m := range w.mails {
		if m.Kind == activities.MailReceipt {
			receiptMails = append(receiptMails, m)
		}
	}
	if len(receiptMails) != 1 || receiptMails[0].ReceiptKey != key {
		t.Fatalf("receipt emails %+v, want one attaching %s", receiptMails, key)
	}
}

// Refused documents get no receipt on the local path either: the check's
// refusal (its problems carried through the local activity's marker) ends
// the request.
func TestRefusedDocumentsGetNoReceiptWhenCheckedLocally(t *testing.T) {
	w := newWorld(t)
	w.badDocs = []activities.DocumentProblem{{Kind: "licence", Reason: "changed", Fa: "تغییر", En: "changed"}}
	if got := w.run().Status; got != consular.StatusRejectedDocuments {
		t.Fatalf("ended %s, want rejected_documents", got)
	}
	if slices.Contains(w.steps, "Issue local") || len(w.receiptObjects) != 0 {
		t.Fatalf("steps %v stored receipts %v, want none for refused documents", w.steps, w.receiptObjects)
	}
	if !equal(w.steps, []string{"Validate local", "Send activity"}) {
		t.Fatalf("steps %v, want the check then the refusal's email", w.steps)
	}
}

// submissionCost counts what a recorded request cost Temporal from its
// start until it waits for its visit (its first timer): workflow tasks,
// activity tasks by name, version markers and search-attribute upserts
// (each a visibility write on the server), and events.
type submissionCost struct {
	Events, WorkflowTasks, VersionMarkers, Upserts int
	Activities                                     []string
}

func recordedSubmissionCost(t *testing.T, file string) submissionCost {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var c submissionCost
	for _, e := range h.Events {
		var kind string
		_ = json.Unmarshal(e["eventType"], &kind)
		c.Events++
		switch kind {
		case "EVENT_TYPE_WORKFLOW_TASK_COMPLETED":
			c.WorkflowTasks++
		case "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
			c.Upserts++
		case "EVENT_TYPE_MARKER_RECORDED":
			var m struct{ MarkerName string }
			_ = json.Unmarshal(e["markerRecordedEventAttributes"], &m)
			if m.MarkerName == "Version" {
				c.VersionMarkers++
			}
		case "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
			var a struct{ ActivityType struct{ Name string } }
			_ = json.Unmarshal(e["activityTaskScheduledEventAttributes"], &a)
			c.Activities = append(c.Activities, a.ActivityType.Name)
		case "EVENT_TYPE_TIMER_STARTED":
			return c
		}
	}
	t.Fatalf("%s: no timer: not a request waiting for its visit", file)
	return c
}

// The request recorded from the real stack (make histories) reached its
// wait for a visit in two workflow tasks and one activity task, the
// receipt's email, with one version marker and two search-attribute
// upserts; the one recorded before receipt-by-local-activities took four
// workflow tasks, three activity tasks, four markers and six upserts.
func TestRecordedSubmissionTakesTwoWorkflowTasksAndOneActivity(t *testing.T) {
	before := recordedSubmissionCost(t, "testdata/approved-before-receipt-by-local-activities.json")
	now := recordedSubmissionCost(t, "testdata/approved.json")
	t.Logf("a submission, until it waits for its visit: before %+v, now %+v", before, now)
	if now.WorkflowTasks != 2 || !equal(now.Activities, []string{"Send"}) {
		t.Fatalf("the submission took %d workflow tasks and activities %v, want 2 and [Send]", now.WorkflowTasks, now.Activities)
	}
	if now.VersionMarkers != 1 {
		t.Fatalf("the submission recorded %d version markers, want 1 (receipt-by-local-activities gives the earlier ones)", now.VersionMarkers)
	}
	// The version's and awaiting_appointment's: submitted came with the start.
	if now.Upserts != 2 {
		t.Fatalf("the submission upserted search attributes %d times, want 2", now.Upserts)
	}
}

// PostgreSQL down for longer than one attempt of a local activity delays
// the request, never fails it: the SDK gives a local activity without a
// ScheduleToCloseTimeout its StartToCloseTimeout as one, which would stop
// the retries after ten seconds and fail the workflow.
func TestProjectionOutageLongerThanAnAttemptDelaysTheRequest(t *testing.T) {
	w := newWorld(t)
	w.recordFailures = 9 // about eight minutes of backoff, past the 10 s attempt and the 5 min cap
	if got := w.run().Status; got != consular.StatusArchived {
		t.Fatalf("ended %s, want archived", got)
	}
	if len(w.statuses()) == 0 || w.statuses()[0] != consular.StatusSubmitted {
		t.Fatalf("statuses %v, want submitted first, once PostgreSQL is back", w.statuses())
	}
}

// A request started with its submitted state's search attributes
// (request.Start sets them) upserts none until its state changes: the
// first upsert says awaiting_appointment, though the projection still
// records submitted first. One visibility write fewer per submission.
func TestRequestStartedWithItsSearchAttributesUpsertsThemOnlyWhenTheyChange(t *testing.T) {
	w := newWorld(t)
	if err := w.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		request.StatusAttribute.ValueSet(string(consular.StatusSubmitted)),
		request.MissionAttribute.ValueSet("AT-VIE"),
		request.ServiceAttribute.ValueSet("driving_licence_inquiry"),
		request.DeadlineAttribute.ValueSet(submitted.Add(w.policy.Deadline)),
	)); err != nil {
		t.Fatal(err)
	}
	var upserted []string
	w.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		status, _ := args.Get(0).(temporal.SearchAttributes).GetKeyword(request.StatusAttribute)
		upserted = append(upserted, status)
	}).Return(nil)
	w.run()
	if want := []string{"awaiting_appointment", "archived"}; !equal(upserted, want) {
		t.Fatalf("search attributes upserted with status %v, want %v", upserted, want)
	}
	if s := w.statuses(); len(s) == 0 || s[0] != consular.StatusSubmitted {
		t.Fatalf("projection statuses %v, want submitted first", s)
	}
}

package workflows

import (
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/config"
)

// Histories recorded from the real stack (make histories) must replay on the
// current code: a change that would break running requests fails here.
// corrected.json is a request corrected twice at the visit (correct_request)
// and then approved.
// purge-before-orphan-sweep.json was recorded once from the Purge workflow as
// it was before its orphan sweep (commit c01340c): a purge running during
// that deploy must finish without it. *-before-seats.json and
// *-before-local-projection.json and *-before-receipt-by-local-activities.json
// are requests recorded before those versions (the seat released by the
// workflow; the projection written by a local activity; the documents
// checked and the receipt issued by local activities, the earlier changes
// given without a marker each): requests running at such a deploy must
// finish the way they started.
func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"approved.json", "archived.json", "corrected.json", "purge.json", "purge-before-orphan-sweep.json",
		"approved-before-local-projection.json", "archived-before-local-projection.json", "corrected-before-local-projection.json",
		"approved-before-receipt-by-local-activities.json", "archived-before-receipt-by-local-activities.json",
		"corrected-before-receipt-by-local-activities.json"} {
		if !slices.Contains(files, filepath.Join("testdata", want)) {
			t.Fatalf("testdata/%s is missing (found %v): run make histories", want, files)
		}
	}
	defaults, err := config.Load(func(k string) (string, bool) { return "development", k == "CONSULAR_ENV" }) // the development payload key recorded them
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := codec.New(defaults.Keys.Payload)
	if err != nil {
		t.Fatal(err)
	}
	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: payloads.DataConverter()})
	if err != nil {
		t.Fatal(err)
	}
	replayer.RegisterWorkflow(Request)
	replayer.RegisterWorkflow(Purge)
	logger := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

package workflows

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/config"
)

// Histories recorded from the real stack (make histories) must replay on the
// current code: a change that would break running requests fails here.
func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d recorded histories in testdata/, want the approved and archived ones: run make histories", len(files))
	}
	defaults, err := config.Load(func(string) (string, bool) { return "", false }) // the development payload key recorded them
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
	logger := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

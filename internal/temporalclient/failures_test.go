package temporalclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/openconsular/consular/internal/testenv"
)

const recipient = "sara.ahmadi@example.org"

// sendLetter fails as an SMTP relay refusing a recipient does: the error names them.
func sendLetter(context.Context) error {
	return temporal.NewNonRetryableApplicationError("550 mailbox unavailable: "+recipient, "smtp", nil)
}

func letterWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, sendLetter).Get(ctx, nil)
}

func TestFailureMessagesAreEncryptedInTheHistory(t *testing.T) {
	c := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(letterWorkflow)
	w.RegisterActivity(sendLetter)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, letterWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	err = run.Get(ctx, nil)
	// Through our client (the key holder) the failure reads as it was written...
	if err == nil || !strings.Contains(err.Error(), recipient) {
		t.Fatalf("the workflow's failure through the client: %v, want the SMTP refusal", err)
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "smtp" {
		t.Fatalf("failure type lost: %v", err)
	}
	// ...while the history the server stores (what `temporal workflow show`
	// prints) holds no word of it.
	history, err := c.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: testenv.Config(t).Temporal.Namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()}})
	if err != nil {
		t.Fatal(err)
	}
	raw := protojson.Format(history.History)
	if !strings.Contains(raw, "ActivityTaskFailed") && !strings.Contains(raw, "activityTaskFailedEventAttributes") {
		t.Fatalf("no failed activity in the history:\n%s", raw)
	}
	for _, leak := range []string{recipient, "mailbox unavailable"} {
		if strings.Contains(raw, leak) {
			t.Errorf("the stored history holds %q in clear", leak)
		}
	}
}

package workflows

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows/request"
)

// stack is a worker on the test stack's Temporal, PostgreSQL and MinIO
// with the real Documents, Receipts and Projection activities; its email
// activity only reports what it was asked to send.
type stack struct {
	t                   *testing.T
	ctx                 context.Context
	objects             *minio.Client
	temporal            client.Client
	queue               string
	documents, receipts string
	mails               chan activities.MailInput
}

// newStack starts the worker. For the first outage after it starts, every
// projection write fails as while PostgreSQL is down.
func newStack(t *testing.T, outage time.Duration) *stack {
	cfg := testenv.Config(t)
	db, _ := testenv.Database(t)
	s := &stack{t: t, ctx: context.Background(), objects: testenv.Storage(t), temporal: testenv.Temporal(t), queue: testenv.TaskQueue(t),
		documents: cfg.Storage.DocumentsBucket, receipts: cfg.Storage.ReceiptsBucket, mails: make(chan activities.MailInput, 10)}
	w := worker.New(s.temporal, s.queue, worker.Options{})
	w.RegisterWorkflow(Request)
	projection := &activities.Projection{DB: db}
	back := time.Now().Add(outage)
	w.RegisterActivityWithOptions(func(ctx context.Context, in activities.RecordInput) error {
		if time.Now().Before(back) {
			return errors.New("record: connection refused")
		}
		return projection.Record(ctx, in)
	}, activity.RegisterOptions{Name: "Record"})
	w.RegisterActivity(&activities.Documents{Objects: s.objects, Bucket: s.documents})
	w.RegisterActivity(&activities.Receipts{DB: db, Objects: s.objects, Bucket: s.receipts,
		Signer: cfg.Keys.Receipt, VerifyURL: cfg.HTTP.PublicURL + "/receipts/verify"})
	w.RegisterActivityWithOptions(func(_ context.Context, in activities.MailInput) (activities.MailResult, error) {
		s.mails <- in
		return activities.MailResult{}, nil
	}, activity.RegisterOptions{Name: "Send"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return s
}

// start stores each document's bytes (nil: none) as the API does, then
// starts the request's workflow.
func (s *stack) start(docs map[consular.Document][]byte) string {
	s.t.Helper()
	c, _ := consular.NewTrackingCode()
	code := string(c)
	in := request.Input{TrackingCode: code, ServiceCode: "driving_licence_inquiry", MissionCode: "AT-VIE",
		SubmittedAt: time.Now().UTC(), Policy: request.Policy{Deadline: 90 * day, Retention: day}}
	for d, data := range docs {
		d.ObjectKey = code + "/" + d.ObjectKey
		if data != nil {
			if _, err := s.objects.PutObject(s.ctx, s.documents, d.ObjectKey, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				s.t.Fatal(err)
			}
		}
		in.Documents = append(in.Documents, d)
	}
	if _, err := s.temporal.ExecuteWorkflow(s.ctx, client.StartWorkflowOptions{ID: code, TaskQueue: s.queue}, Request, in); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = s.temporal.TerminateWorkflow(s.ctx, code, "", "test over") })
	return code
}

// mailOf waits for the first email about the request code.
func (s *stack) mailOf(code string, within time.Duration) activities.MailInput {
	s.t.Helper()
	for deadline := time.After(within); ; {
		select {
		case m := <-s.mails:
			if m.TrackingCode == code {
				return m
			}
			s.mails <- m // another request's: left for its reader
			time.Sleep(10 * time.Millisecond)
		case <-deadline:
			s.t.Fatalf("no email for %s within %s", code, within)
		}
	}
}

// activityTasks names the activity tasks the request's history scheduled.
func (s *stack) activityTasks(code string) []string {
	s.t.Helper()
	var names []string
	events := s.temporal.GetWorkflowHistory(s.ctx, code, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for events.HasNext() {
		e, err := events.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			names = append(names, a.GetActivityType().GetName())
		}
	}
	return names
}

// On the real stack (Temporal with the payload codec, MinIO, PostgreSQL),
// with the real Documents, Receipts and Projection activities: a request of
// valid documents gets its receipt, and one whose stored document changed
// after the API checked it (and one missing) is refused by the check, its
// problems carried through the local activity's marker to the email, and
// gets no receipt. Neither schedules Validate or Issue as an activity task.
func TestLocalCheckAndReceiptOnTheRealStack(t *testing.T) {
	s := newStack(t, 0)
	ctx, objects, temporal := s.ctx, s.objects, s.temporal
	photo := testenv.JPEG(t)
	sum := sha256.Sum256(photo)
	checked := hex.EncodeToString(sum[:])

	// Valid documents, their bytes the ones the API checked: a receipt.
	valid := s.start(map[consular.Document][]byte{{Kind: "licence", ObjectKey: "licence.jpg", SHA256: checked}: photo})
	got := s.mailOf(valid, 30*time.Second)
	if got.Kind != activities.MailReceipt || got.ReceiptKey != storage.ReceiptKey(valid) {
		t.Fatalf("email %+v, want the receipt %s", got, storage.ReceiptKey(valid))
	}
	if _, err := objects.StatObject(ctx, s.receipts, got.ReceiptKey, minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the receipt the email names is not in MinIO: %v", err)
	}
	if tasks := s.activityTasks(valid); !slices.Equal(tasks, []string{"Send"}) {
		t.Fatalf("activity tasks %v, want only the email's", tasks)
	}

	// A document changed after the API checked it, and one that never
	// arrived: refused, both named, no receipt.
	changed := bytes.Clone(photo)
	changed[len(changed)/2] ^= 0xFF // inside the scan: the header still reads
	refused := s.start(map[consular.Document][]byte{
		{Kind: "licence", ObjectKey: "licence.jpg", SHA256: checked}:   changed,
		{Kind: "passport", ObjectKey: "passport.jpg", SHA256: checked}: nil,
	})
	got = s.mailOf(refused, 30*time.Second)
	reasons := map[string]string{}
	for _, p := range got.Problems {
		reasons[p.Kind] = p.Reason
	}
	if got.Kind != activities.MailDocumentsRejected || reasons["licence"] != "changed" || reasons["passport"] != "missing" || got.ReceiptKey != "" {
		t.Fatalf("email %+v, want the refusal naming the changed licence and the missing passport", got)
	}
	var result request.Result
	if err := temporal.GetWorkflow(ctx, refused, "").Get(ctx, &result); err != nil || result.Status != consular.StatusRejectedDocuments {
		t.Fatalf("the refused request ended %+v, %v; want rejected_documents", result, err)
	}
	if _, err := objects.StatObject(ctx, s.receipts, storage.ReceiptKey(refused), minio.StatObjectOptions{}); err == nil {
		t.Fatal("a receipt was stored for refused documents")
	}
	if tasks := s.activityTasks(refused); !slices.Equal(tasks, []string{"Send", "Delete"}) {
		t.Fatalf("activity tasks %v, want the refusal's email and the documents' deletion", tasks)
	}
}

// PostgreSQL down for longer than one attempt of the projection's local
// activity (10 s) delays the request on a real worker, never fails it: the
// SDK gives a local activity without a ScheduleToCloseTimeout its
// StartToCloseTimeout as one and stops retrying past it, which failed the
// workflow (withLocalRetries).
func TestProjectionOutageLongerThanAnAttemptDelaysTheRequestOnTheRealStack(t *testing.T) {
	s := newStack(t, 12*time.Second)
	photo := testenv.JPEG(t)
	sum := sha256.Sum256(photo)
	code := s.start(map[consular.Document][]byte{{Kind: "licence", ObjectKey: "licence.jpg", SHA256: hex.EncodeToString(sum[:])}: photo})
	if got := s.mailOf(code, 60*time.Second); got.Kind != activities.MailReceipt {
		t.Fatalf("email %+v, want the receipt once PostgreSQL is back", got)
	}
	desc, err := s.temporal.DescribeWorkflowExecution(s.ctx, code, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the request's workflow is %s, want running (waiting for the visit)", st)
	}
}

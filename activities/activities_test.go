package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/receipt"
	"github.com/openconsular/consular/internal/testenv"
)

// request puts a submitted request with its applicant in a fresh database,
// with an address of the test's own in Mailpit.
func request(t *testing.T) (db *Projection, code, email string) {
	t.Helper()
	pool, _ := testenv.Database(t)
	c, _ := consular.NewTrackingCode()
	code = string(c)
	email = fmt.Sprintf("applicant-%d@example.org", time.Now().UnixNano())
	ctx := context.Background()
	now := time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, 'driving_licence_inquiry', 'JP-TYO', $2)`, []any{code, now}},
		{`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language) VALUES ($1, '0013542419', $2, 'Sara Ahmadi', 'fa')`, []any{code, email}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	p := &Projection{DB: pool}
	if err := p.Record(ctx, RecordInput{TrackingCode: code, Status: consular.StatusAwaitingAppointment, ServiceCode: "driving_licence_inquiry",
		MissionCode: "JP-TYO", SubmittedAt: now, DeadlineAt: now.Add(90 * 24 * time.Hour), Version: 1}); err != nil {
		t.Fatal(err)
	}
	return p, code, email
}

func mailer(t *testing.T, p *Projection) *Mail {
	cfg := testenv.Config(t)
	return &Mail{DB: p.DB, SMTP: mail.New(cfg.Mail), Objects: testenv.Storage(t), ReceiptsBucket: cfg.Storage.ReceiptsBucket}
}

// Once a send is recorded, a retried activity (here: the first attempt fails
// just after the record) does not send the email again.
func TestMailIsSentOnceWhenTheActivityFailsAfterSending(t *testing.T) {
	p, code, email := request(t)
	m := mailer(t, p)
	m.afterRecord = func() error { return errors.New("worker lost after the send") }
	in := MailInput{TrackingCode: code, Kind: MailReminder, Key: "60d", Deadline: time.Now().Add(30 * 24 * time.Hour)}
	if _, err := m.Send(context.Background(), in); err == nil {
		t.Fatal("the first attempt should have failed")
	}
	m.afterRecord = nil
	res, err := m.Send(context.Background(), in) // Temporal's retry
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadySent {
		t.Fatal("the retry sent the email again")
	}
	time.Sleep(500 * time.Millisecond) // let a duplicate, if any, arrive
	got := testenv.Mail(t).WaitFor(t, "to:"+email, 1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d emails, want 1", len(got))
	}
	if !strings.Contains(got[0].Text, code) || !strings.Contains(got[0].Subject, "Reminder") {
		t.Fatalf("reminder says %q / %q", got[0].Subject, got[0].Text)
	}
}

// If the worker dies between the SMTP server's acceptance and the record, the
// retry sends again, under the same Message-ID, which mail clients fold.
func TestMailSentTwiceAfterACrashBeforeTheRecordSharesItsMessageID(t *testing.T) {
	p, code, email := request(t)
	m := mailer(t, p)
	in := MailInput{TrackingCode: code, Kind: MailArchived, Deadline: time.Now()}
	first, err := m.Send(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DB.Exec(context.Background(), "DELETE FROM sent_mail WHERE tracking_code = $1", code); err != nil {
		t.Fatal(err) // as if the record had never been written
	}
	second, err := m.Send(context.Background(), in)
	if err != nil || second.AlreadySent {
		t.Fatalf("%+v %v", second, err)
	}
	got := testenv.Mail(t).WaitFor(t, "to:"+email, 2, 10*time.Second)
	if first.MessageID != second.MessageID || got[0].MessageID != got[1].MessageID || "<"+got[0].MessageID+">" != first.MessageID {
		t.Fatalf("Message-IDs %s / %s / %s / %s differ", first.MessageID, second.MessageID, got[0].MessageID, got[1].MessageID)
	}
}

func TestReceiptIsStoredAndEmailedAsAParseablePDF(t *testing.T) {
	p, code, email := request(t)
	cfg := testenv.Config(t)
	objects := testenv.Storage(t)
	r := &Receipts{DB: p.DB, Objects: objects, Bucket: cfg.Storage.ReceiptsBucket, Signer: cfg.Keys.Receipt, VerifyURL: "https://consular.example/receipts/verify"}
	submitted := time.Now().UTC().Truncate(time.Second)
	issued, err := r.Issue(context.Background(), IssueInput{TrackingCode: code, ServiceCode: "driving_licence_inquiry", MissionCode: "JP-TYO",
		SubmittedAt: submitted, Deadline: submitted.Add(90 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mailer(t, p).Send(context.Background(), MailInput{TrackingCode: code, Kind: MailReceipt, ReceiptKey: issued.ObjectKey,
		Deadline: submitted.Add(90 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	mp := testenv.Mail(t)
	msg := mp.WaitFor(t, "to:"+email, 1, 10*time.Second)[0]
	if !strings.Contains(msg.Subject, code) || msg.HTML == "" || msg.Text == "" {
		t.Fatalf("receipt email: subject %q, html %d bytes, text %d bytes", msg.Subject, len(msg.HTML), len(msg.Text))
	}
	if len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("attachments %+v, want one PDF", msg.Attachments)
	}
	pdf := mp.Attachment(t, msg.ID, msg.Attachments[0].PartID)
	text := pdfText(t, pdf)
	for _, want := range []string{code, "Tokyo", "Driving-licence inquiry"} {
		if !strings.Contains(text, want) {
			t.Errorf("the receipt PDF does not say %q:\n%s", want, text)
		}
	}
	// The QR link on it verifies against the published keys.
	link := r.Signer.Link(r.VerifyURL, receipt.Receipt{TrackingCode: code, ServiceCode: "driving_licence_inquiry", MissionCode: "JP-TYO",
		SubmittedAt: submitted, DeadlineAt: submitted.Add(90 * 24 * time.Hour)})
	if _, err := receipt.Verify(link, cfg.Keys.ReceiptKeys); err != nil {
		t.Fatal(err)
	}
}

// pdfText extracts a PDF's text with poppler's pdftotext, which make test installs.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	cmd := exec.Command("pdftotext", "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils; make test installs it): %v", err)
	}
	return string(out)
}

func TestDocumentsAreValidatedFromStorageAndDeleted(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	objects := testenv.Storage(t)
	d := &Documents{Objects: objects, Bucket: cfg.Storage.DocumentsBucket}
	code, _ := consular.NewTrackingCode()
	good := testenv.JPEG(t)
	put := func(key string, b []byte) {
		if _, err := objects.PutObject(ctx, d.Bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(string(code)+"/licence.jpg", good)
	put(string(code)+"/passport.jpg", good[:len(good)/2]) // truncated after upload
	refs := []consular.Document{
		{Kind: "licence", ObjectKey: string(code) + "/licence.jpg", SHA256: sha(good)},
		{Kind: "passport", ObjectKey: string(code) + "/passport.jpg", SHA256: sha(good)},
		{Kind: "residence_proof", ObjectKey: string(code) + "/residence_proof.jpg", SHA256: sha(good)}, // never arrived
	}
	err := d.Validate(ctx, ValidateInput{TrackingCode: string(code), Documents: refs})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrBadDocuments || !appErr.NonRetryable() {
		t.Fatalf("got %v, want a non-retryable %s error", err, ErrBadDocuments)
	}
	var problems []DocumentProblem
	if err := appErr.Details(&problems); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, p := range problems {
		reasons[p.Kind] = p.Reason
		if p.Fa == "" || p.En == "" {
			t.Errorf("problem %+v lacks a message", p)
		}
	}
	if len(problems) != 2 || reasons["passport"] == "" || reasons["residence_proof"] != "missing" {
		t.Fatalf("problems %+v, want the truncated passport and the missing residence proof", problems)
	}
	if err := d.Validate(ctx, ValidateInput{Documents: refs[:1]}); err != nil {
		t.Fatalf("the good document was refused: %v", err)
	}

	keys := []string{refs[0].ObjectKey, refs[1].ObjectKey, refs[2].ObjectKey}
	for range 2 { // a retried delete finds nothing and succeeds
		if err := d.Delete(ctx, DeleteInput{ObjectKeys: keys}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		if _, err := objects.StatObject(ctx, d.Bucket, k, minio.StatObjectOptions{}); !isNotFound(err) {
			t.Errorf("%s still there (%v)", k, err)
		}
	}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

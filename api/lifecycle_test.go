package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/testenv"
)

// A request from submission to approval over HTTP, on the real stack:
// receipt email with its PDF, download, booking, attendance, decision email,
// documents deleted after the retention period.
func TestSubmittedRequestIsBookedAttendedAndApproved(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_REQUEST_DEADLINE": "1h", "CONSULAR_DOCUMENT_RETENTION": "2s"})
	applicant := email(t)
	sub := s.mustSubmit(drivingLicenceInquiry(t, applicant))
	code := sub.TrackingCode
	if time.Until(sub.Deadline) < 59*time.Minute {
		t.Fatalf("deadline %s, want an hour from now", sub.Deadline)
	}

	mp := testenv.Mail(t)
	receipt := mp.WaitFor(t, "to:"+applicant, 1, 30*time.Second)[0]
	if !strings.Contains(receipt.Subject, code) || len(receipt.Attachments) != 1 || receipt.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("receipt email %q with attachments %+v", receipt.Subject, receipt.Attachments)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+sub.ReceiptURL, nil)
	status, pdf := s.do(req)
	if status != http.StatusOK || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("receipt download: %d, %d bytes", status, len(pdf))
	}
	forged, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/requests/"+code+"/receipt?token=guess", nil)
	if status, _ := s.do(forged); status != http.StatusNotFound {
		t.Fatalf("receipt without its token: %d, want 404", status)
	}
	if len(s.objectsOf(code)) != 3 {
		t.Fatalf("stored documents %v, want 3", s.objectsOf(code))
	}

	at := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	if code, out := s.staff("POST", "/api/v1/requests/"+code+"/appointment", map[string]any{"at": at}); code != 200 || out["Status"] != "appointment_booked" {
		t.Fatalf("booking: %d %v", code, out)
	}
	s.waitStatus(code, "appointment_booked", 5*time.Second)
	// Within the change cut-off staff cannot move it, but the mission may
	// cancel its own appointment and give another.
	if code, out := s.staff("PUT", "/api/v1/requests/"+code+"/appointment", map[string]any{"at": at.Add(5 * time.Minute)}); code != http.StatusConflict {
		t.Fatalf("a move within the cut-off: %d %v, want 409", code, out)
	}
	if code, out := s.staff("DELETE", "/api/v1/requests/"+code+"/appointment", nil); code != 200 || out["Status"] != "awaiting_appointment" {
		t.Fatalf("cancel: %d %v", code, out)
	}
	if code, out := s.staff("POST", "/api/v1/requests/"+code+"/appointment", map[string]any{"at": at.Add(5 * time.Minute)}); code != 200 || out["Status"] != "appointment_booked" {
		t.Fatalf("booking again: %d %v", code, out)
	}
	if code, out := s.staff("POST", "/api/v1/requests/"+code+"/decision", map[string]any{"decision": "approved"}); code != http.StatusConflict {
		t.Fatalf("decision before attendance: %d %v, want 409", code, out)
	}
	if code, out := s.staff("POST", "/api/v1/requests/"+code+"/attendance", map[string]any{"staff_id": "officer-1"}); code != 200 || out["Status"] != "attended" {
		t.Fatalf("attendance: %d %v", code, out)
	}
	if code, out := s.staff("POST", "/api/v1/requests/"+code+"/decision", map[string]any{"decision": "approved", "staff_id": "officer-1"}); code != 200 || out["Status"] != "approved" {
		t.Fatalf("decision: %d %v", code, out)
	}
	mails := mp.WaitFor(t, "to:"+applicant, 5, 30*time.Second) // receipt, booking, cancellation, booking, decision
	if last := mails[len(mails)-1]; !strings.Contains(last.Subject, "Outcome") || !strings.Contains(last.Text, "approved") {
		t.Fatalf("last email %q: %s", last.Subject, last.Text)
	}
	s.waitClosed(code, 30*time.Second)
	if left := s.objectsOf(code); len(left) != 0 {
		t.Fatalf("documents %v still stored after the retention period", left)
	}
	s.waitStatus(code, "approved", time.Second)

	// Temporal holds no personal data in clear: the history shows neither
	// the applicant's email nor the national ID.
	out := s.history(code, "approved")
	if !strings.Contains(string(out), "WorkflowExecutionCompleted") && !strings.Contains(string(out), "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED") {
		t.Fatalf("history does not look complete:\n%.2000s", out)
	}
	for _, secret := range []string{applicant, "0013542419", "Sara Ahmadi"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("the workflow history shows %q in clear", secret)
		}
	}

	// Metrics: the API's by route, the worker's Temporal SDK and business ones.
	for _, m := range []struct{ url, want string }{
		{s.url + "/metrics", `consular_http_request_duration_seconds_count{method="POST",route="/api/v1/requests/",status="201"}`},
		{s.workerURL + "/metrics", `consular_emails_total{kind="decision",outcome="sent"} 1`},
		{s.workerURL + "/metrics", `consular_request_transitions_total{status="approved"} 1`},
		{s.workerURL + "/metrics", `temporal_workflow_completed`},
		{s.url + "/metrics", `consular_requests{mission="AT-VIE",service="driving_licence_inquiry",status="approved"} 1`},
		{s.url + "/metrics", "\nconsular_submissions_start_pending 0\n"},
	} {
		req, _ := http.NewRequest(http.MethodGet, m.url, nil)
		if status, page := s.do(req); status != 200 || !strings.Contains(string(page), m.want) {
			t.Errorf("%s: %d, without %s\n%s", m.url, status, m.want, page)
		}
	}
	s.stop()
}

// Without a visit by the deadline: a reminder, then the archive email, the
// documents gone, and a booking refused because the request is closed.
func TestRequestWithoutVisitIsRemindedThenArchived(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_REQUEST_DEADLINE": "6s", "CONSULAR_REMINDERS": "3s"})
	applicant := email(t)
	sub := s.mustSubmit(drivingLicenceInquiry(t, applicant))
	mails := testenv.Mail(t).WaitFor(t, "to:"+applicant, 3, 30*time.Second)
	kinds := []string{mails[0].Subject, mails[1].Subject, mails[2].Subject}
	if !strings.Contains(kinds[0], "Receipt") || !strings.Contains(kinds[1], "Reminder") || !strings.Contains(kinds[2], "archived") {
		t.Fatalf("emails %q, want receipt, reminder, archived", kinds)
	}
	s.waitClosed(sub.TrackingCode, 30*time.Second)
	s.waitStatus(sub.TrackingCode, "archived", time.Second)
	if left := s.objectsOf(sub.TrackingCode); len(left) != 0 {
		t.Fatalf("documents %v still stored after the archive", left)
	}
	s.history(sub.TrackingCode, "archived")
	status, out := s.staff("POST", "/api/v1/requests/"+sub.TrackingCode+"/appointment", map[string]any{"at": time.Now().Add(time.Hour)})
	if status != http.StatusConflict {
		t.Fatalf("booking after archive: %d %v, want 409", status, out)
	}
}

// Bad documents get a 422 naming each one and why; nothing is stored.
func TestSubmissionWithBadDocumentsIsRefusedAndStoresNothing(t *testing.T) {
	s := startSystem(t, nil)
	f := drivingLicenceInquiry(t, email(t))
	good := f.documents[0].content
	png := append([]byte("\x89PNG\r\n\x1a\n"), good[8:]...)
	f.documents = []document{
		{"licence", "licence.jpg", png},                            // PNG renamed .jpg
		{"residence_proof", "../../x.jpg", good},                   // a path for a name
		{"passport", "passport.jpg", good[:len(good)-len(good)/3]}, // truncated
	}
	f.fields["national_id"] = "0013542418"
	status, body := s.submit(f, "bad-docs")
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d: %s", status, body)
	}
	var invalid struct {
		Fields []struct{ Field, Reason, Message, MessageFa string }
	}
	if err := json.Unmarshal(body, &invalid); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, f := range invalid.Fields {
		reasons[f.Field] = f.Reason
	}
	want := map[string]string{"document.licence": "format", "document.residence_proof": "name", "document.passport": "corrupt", "national_id": "invalid"}
	for field, reason := range want {
		if reasons[field] != reason {
			t.Errorf("%s: reason %q, want %q (all: %v)", field, reasons[field], reason, reasons)
		}
	}
	if left := s.objectsOf(""); len(left) != 0 {
		t.Fatalf("a refused submission left %v in storage", left)
	}
	var n int
	_ = s.db.QueryRow(context.Background(), "SELECT count(*) FROM submissions").Scan(&n)
	if n != 0 {
		t.Fatalf("%d submissions saved, want none", n)
	}
}

// A double click, or a retry after a timeout, yields one request: the same
// tracking code, one workflow.
func TestRepeatedSubmissionGivesTheSameTrackingCode(t *testing.T) {
	s := startSystem(t, nil)
	f := drivingLicenceInquiry(t, email(t))
	key := fmt.Sprintf("double-click-%d", time.Now().UnixNano())
	var wg sync.WaitGroup
	codes := make([]string, 3)
	statuses := make([]int, 3)
	for i := range codes {
		wg.Go(func() {
			status, body := s.submit(f, key)
			var out submitted
			_ = json.Unmarshal(body, &out)
			codes[i], statuses[i] = out.TrackingCode, status
		})
	}
	wg.Wait()
	if codes[0] == "" || codes[0] != codes[1] || codes[1] != codes[2] {
		t.Fatalf("tracking codes %v (statuses %v), want one code", codes, statuses)
	}
	var n int
	_ = s.db.QueryRow(context.Background(), "SELECT count(*) FROM submissions").Scan(&n)
	if n != 1 {
		t.Fatalf("%d submissions saved, want 1", n)
	}
	if _, err := s.temporal.DescribeWorkflow(context.Background(), codes[0], ""); err != nil {
		t.Fatalf("the request's workflow: %v", err)
	}
	if left := s.objectsOf(""); len(left) != 3 {
		t.Fatalf("stored %v, want the 3 documents of one request", left)
	}
	status, _ := s.submit(f, "")
	if status != http.StatusBadRequest {
		t.Fatalf("submission without Idempotency-Key: %d, want 400", status)
	}
}

func TestStaffActionsNeedTheKeyAndAValidTrackingCode(t *testing.T) {
	s := startSystem(t, nil)
	for _, auth := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest("POST", s.url+"/api/v1/requests/4821-7730-9152-06/attendance", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if status, _ := s.do(req); status != http.StatusUnauthorized {
			t.Errorf("attendance with %q: %d, want 401", auth, status)
		}
	}
	code := s.mustSubmit(drivingLicenceInquiry(t, email(t))).TrackingCode
	typo := []byte(code)
	typo[0] = '0' + (typo[0]-'0'+1)%10
	if status, _ := s.staff("POST", "/api/v1/requests/"+string(typo)+"/attendance", nil); status != http.StatusBadRequest {
		t.Fatalf("mistyped tracking code: %d, want 400", status)
	}
}

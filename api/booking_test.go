package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows/request"
)

// appointmentCall sends a JSON call to /api/v1/appointments.
func (s *system) appointmentCall(method, path string, body map[string]any) (int, map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url+"/api/v1/appointments"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	code, out := s.do(req)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return code, m
}

// quickRequest creates a request waiting for an appointment without the
// submission's documents: its applicant row and its real workflow.
func (s *system) quickRequest(nationalID string) string {
	s.t.Helper()
	return s.quickRequestUnder(nationalID, request.Policy{Deadline: 60 * 24 * time.Hour, Reminders: []time.Duration{30 * 24 * time.Hour}, Retention: time.Hour})
}

// quickRequestUnder is quickRequest with the request's policy given.
func (s *system) quickRequestUnder(nationalID string, policy request.Policy) string {
	s.t.Helper()
	return s.seedRequest(nationalID, "apostille", seededApplicant{language: "en"}, policy)
}

// seededApplicant is the applicant row a seeded request is kept with; its
// JSON objects are "{}" when empty, its email the tracking code's.
type seededApplicant struct {
	email, language           string
	identity, residence, form string
}

// seedRequest writes a submission of service at AT-VIE and its applicant
// row, without documents, and starts its real workflow.
func (s *system) seedRequest(nationalID, service string, a seededApplicant, policy request.Policy) string {
	s.t.Helper()
	ctx := context.Background()
	c, _ := consular.NewTrackingCode()
	code := string(c)
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := s.db.Exec(ctx, `INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at)
		VALUES ($1, $1, $2, 'AT-VIE', $3)`, code, service, now); err != nil {
		s.t.Fatal(err)
	}
	if a.email == "" {
		a.email = code + "@example.org"
	}
	object := func(json string) string {
		if json == "" {
			return "{}"
		}
		return json
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language, identity, residence, form)
		VALUES ($1, $2, $3, 'Sara Ahmadi', $4, $5, $6, $7)`, code, nationalID, a.email, a.language,
		object(a.identity), object(a.residence), object(a.form)); err != nil {
		s.t.Fatal(err)
	}
	if err := request.Start(ctx, s.temporal, s.queue,
		request.Input{TrackingCode: code, ServiceCode: service, MissionCode: "AT-VIE", SubmittedAt: now, Policy: policy}); err != nil {
		s.t.Fatal(err)
	}
	return code
}

func slotsOf(t *testing.T, view map[string]any) []map[string]any {
	raw, _ := view["slots"].([]any)
	var out []map[string]any
	for _, r := range raw {
		out = append(out, r.(map[string]any))
	}
	return out
}

func TestBookRescheduleAndCancelThroughTheAppointmentAPI(t *testing.T) {
	s := startSystem(t, nil)
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	who := map[string]any{"national_id": id, "tracking_code": code}

	status, view := s.appointmentCall("POST", "/lookup", who)
	slots := slotsOf(t, view)
	if status != 200 || len(slots) < 20 || view["time_zone"] != "Europe/Vienna" {
		t.Fatalf("lookup: %d, %d slots, zone %v", status, len(slots), view["time_zone"])
	}
	deadline, _ := time.Parse(time.RFC3339, view["deadline"].(string))
	first, _ := time.Parse(time.RFC3339, slots[0]["starts_at"].(string))
	last, _ := time.Parse(time.RFC3339, slots[len(slots)-1]["ends_at"].(string))
	if time.Until(first) < 24*time.Hour || last.After(deadline) {
		t.Fatalf("slots from %s to %s: before the lead time or after the deadline %s", first, last, deadline)
	}
	if h := first.In(mustZone(t, "Europe/Vienna")).Hour(); h < 9 || h >= 16 {
		t.Fatalf("first slot at %s local time, outside the mission's hours", first.In(mustZone(t, "Europe/Vienna")))
	}

	pick := slots[10]["starts_at"].(string)
	status, view = s.appointmentCall("POST", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": pick})
	if status != 200 || view["appointment"] == nil {
		t.Fatalf("book: %d %v", status, view)
	}
	s.waitStatus(code, "appointment_booked", 10*time.Second)
	var at time.Time
	_ = s.db.QueryRow(context.Background(), "SELECT appointment_at FROM requests WHERE tracking_code = $1", code).Scan(&at)
	if want, _ := time.Parse(time.RFC3339, pick); !at.Equal(want) {
		t.Fatalf("projection appointment %s, want %s", at, want)
	}
	if status, out := s.appointmentCall("POST", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": slots[11]["starts_at"]}); status != http.StatusConflict {
		t.Fatalf("a second booking: %d %v, want 409", status, out)
	}

	moved := slots[12]["starts_at"].(string)
	if status, view = s.appointmentCall("PUT", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": moved}); status != 200 {
		t.Fatalf("reschedule: %d %v", status, view)
	}
	if got := view["appointment"].(map[string]any)["starts_at"]; got != moved {
		t.Fatalf("after reschedule the appointment is at %v, want %s", got, moved)
	}
	if status, view = s.appointmentCall("DELETE", "/", who); status != 200 || view["appointment"] != nil {
		t.Fatalf("cancel: %d %v", status, view)
	}
	s.waitStatus(code, "awaiting_appointment", 10*time.Second)
	var seats int
	_ = s.db.QueryRow(context.Background(), "SELECT COALESCE(sum(booked), 0) FROM slot_seats").Scan(&seats)
	if seats != 0 {
		t.Fatalf("%d seats still taken after cancel, want every seat offered again", seats)
	}
	mp := testenv.Mail(t)
	mails := mp.WaitFor(t, "to:"+code+"@example.org", 4, 20*time.Second) // receipt, booked, moved, cancelled
	booked := mails[1]
	if len(booked.Attachments) != 1 || !strings.HasPrefix(booked.Attachments[0].ContentType, "text/calendar") {
		t.Fatalf("the booking email carries %+v, want an iCalendar invitation", booked.Attachments)
	}
	ics := string(mp.Attachment(t, booked.ID, booked.Attachments[0].PartID))
	local, _ := time.Parse(time.RFC3339, pick)
	wantStart := "DTSTART;TZID=Europe/Vienna:" + local.In(mustZone(t, "Europe/Vienna")).Format("20060102T150405")
	if !strings.Contains(ics, wantStart) || !strings.Contains(ics, "BEGIN:VTIMEZONE") {
		t.Fatalf("the invitation lacks %s or its VTIMEZONE:\n%s", wantStart, ics)
	}
	if cancelled := mails[len(mails)-1]; len(cancelled.Attachments) != 1 ||
		!strings.Contains(string(mp.Attachment(t, cancelled.ID, cancelled.Attachments[0].PartID)), "METHOD:CANCEL") {
		t.Fatalf("the cancellation email does not cancel the calendar event")
	}
}

func TestLookupsRevealNothingAndLockAfterRepeatedFailures(t *testing.T) {
	s := startSystem(t, nil)
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	other, _ := consular.NewTrackingCode()
	status1, out1 := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": testenv.NationalID(), "tracking_code": code})
	status2, out2 := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": id, "tracking_code": string(other)})
	if status1 != 404 || status2 != 404 || fmt.Sprint(out1) != fmt.Sprint(out2) {
		t.Fatalf("a wrong national ID (%d %v) and an unknown code (%d %v) must answer alike", status1, out1, status2, out2)
	}
	for i := 0; i < 5; i++ {
		s.appointmentCall("POST", "/lookup", map[string]any{"national_id": testenv.NationalID(), "tracking_code": code})
	}
	if status, out := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": id, "tracking_code": code}); status != http.StatusTooManyRequests {
		t.Fatalf("after repeated failures the right pair gives %d %v, want 429 (locked)", status, out)
	}
}

// 200 applicants try one slot of 5 seats at once: exactly 5 get it, the
// others hear the slot is full, and the database and the workflows agree.
func TestNoOverbookingUnderConcurrentAttempts(t *testing.T) {
	// 200 applicants behind one address (this test): the per-IP limit would refuse them first.
	s := startSystem(t, map[string]string{"CONSULAR_BOOKING_LOOKUPS_PER_IP": "1000"})
	ctx := context.Background()
	if _, err := s.db.Exec(ctx, `DELETE FROM schedule_templates WHERE mission_code = 'AT-VIE';
		INSERT INTO schedule_templates (mission_code, weekdays, slot_minutes, capacity)
		VALUES ('AT-VIE', '{"1":[["10:00","10:30"]],"2":[["10:00","10:30"]],"3":[["10:00","10:30"]],"4":[["10:00","10:30"]],"5":[["10:00","10:30"]]}', 30, 5)`); err != nil {
		t.Fatal(err)
	}
	const applicants = 200
	ids := make([]string, applicants)
	codes := make([]string, applicants)
	for i := range codes {
		ids[i] = testenv.NationalID()
		codes[i] = s.quickRequest(ids[i])
	}
	for _, code := range codes {
		s.waitStatus(code, "awaiting_appointment", 120*time.Second)
	}
	_, view := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": ids[0], "tracking_code": codes[0]})
	slot := slotsOf(t, view)[0]["starts_at"].(string)

	results := make([]int, applicants)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range codes {
		wg.Go(func() {
			<-start
			results[i], _ = s.appointmentCall("POST", "/", map[string]any{"national_id": ids[i], "tracking_code": codes[i], "starts_at": slot})
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, r := range results {
		count[r]++
	}
	if count[200] != 5 || count[409] != applicants-5 {
		t.Fatalf("answers %v, want 5 × 200 and %d × 409", count, applicants-5)
	}
	var seats, booked int
	_ = s.db.QueryRow(ctx, "SELECT booked FROM slot_seats WHERE mission_code = 'AT-VIE' AND starts_at = $1", slot).Scan(&seats)
	_ = s.db.QueryRow(ctx, "SELECT count(*) FROM appointments WHERE status = 'booked'").Scan(&booked)
	var projected int
	_ = s.db.QueryRow(ctx, "SELECT count(*) FROM requests WHERE status = 'appointment_booked'").Scan(&projected)
	if seats != 5 || booked != 5 || projected != 5 {
		t.Fatalf("seats %d, booked appointments %d, workflows booked %d: want 5 each", seats, booked, projected)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// The API died after taking a seat and before hearing from the workflow:
// the reconciliation sends the same update again and settles both ways.
func TestReconciliationSettlesAppointmentsLeftPending(t *testing.T) {
	s := startSystem(t, nil)
	ctx := context.Background()
	open := s.quickRequest(testenv.NationalID())
	closed := s.quickRequest(testenv.NationalID())
	s.waitStatus(open, "awaiting_appointment", 30*time.Second)
	s.waitStatus(closed, "awaiting_appointment", 30*time.Second)
	if _, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: closed, UpdateName: request.UpdateWithdraw,
		Args: []any{request.WithdrawInput{}}, WaitForStage: client.WorkflowUpdateStageCompleted}); err != nil {
		t.Fatal(err)
	}
	s.waitClosed(closed, 30*time.Second)

	at := nextWeekday10(t)
	for _, code := range []string{open, closed} { // as the API left them: a seat taken, the appointment pending
		if _, err := s.db.Exec(ctx, `INSERT INTO slot_seats (mission_code, starts_at, capacity, booked) VALUES ('AT-VIE', $1, 3, 1)
			ON CONFLICT (mission_code, starts_at) DO UPDATE SET booked = slot_seats.booked + 1`, at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO appointments (tracking_code, mission_code, starts_at, ends_at, status, updated_at)
			VALUES ($1, 'AT-VIE', $2, $3, 'pending', now() - interval '5 minutes')`, code, at, at.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	b := &appointments.Booker{DB: s.db, Temporal: s.temporal, Logger: testenv.Logger(t)}
	settled, err := b.Reconcile(ctx, time.Minute)
	if err != nil || settled != 2 {
		t.Fatalf("settled %d (%v), want 2", settled, err)
	}
	statuses := map[string]string{}
	rows, _ := s.db.Query(ctx, "SELECT tracking_code, status FROM appointments")
	for rows.Next() {
		var code, status string
		_ = rows.Scan(&code, &status)
		statuses[code] = status
	}
	rows.Close()
	var seats int
	_ = s.db.QueryRow(ctx, "SELECT booked FROM slot_seats WHERE starts_at = $1", at).Scan(&seats)
	if statuses[open] != "booked" || statuses[closed] != "refused" || seats != 1 {
		t.Fatalf("after reconciliation: %v, %d seats taken; want the open request booked, the withdrawn one refused, 1 seat", statuses, seats)
	}
	s.waitStatus(open, "appointment_booked", 10*time.Second)
}

// nextWeekday10 is 10:00 Vienna time on a weekday a few days ahead: a slot of the default template.
func nextWeekday10(t *testing.T) time.Time {
	vienna := mustZone(t, "Europe/Vienna")
	d := time.Now().In(vienna).AddDate(0, 0, 3)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, vienna)
}

// A lost receipt is emailed again to the address on the request; the page
// answers the same when nothing matches.
func TestLostReceiptIsEmailedAgainAndRevealsNothing(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	address := code + "@example.org"
	testenv.Mail(t).WaitFor(t, "to:"+address, 1, 15*time.Second) // the first receipt

	a := newApplicant(t, s)
	a.get("/lang/en?next=/receipt/lost")
	a.post("/receipt/lost", map[string]string{"national_id": id, "email": address})
	a.want(200, "If a request matches, its receipt has been emailed")
	matched := a.page
	again := testenv.Mail(t).WaitFor(t, "to:"+address, 2, 15*time.Second)
	if last := again[len(again)-1]; len(last.Attachments) != 1 || last.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("the receipt sent again carries %+v", last.Attachments)
	}
	// The request sent it, asked by an Update: the API holds no mail client of the worker's.
	asked := 0
	for it := s.temporal.GetWorkflowHistory(context.Background(), code, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT); it.HasNext(); {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName() == request.UpdateSendReceiptAgain {
			asked++
		}
	}
	if asked != 1 {
		t.Fatalf("%d %s updates in the request's history, want 1", asked, request.UpdateSendReceiptAgain)
	}

	a.get("/receipt/lost")
	a.post("/receipt/lost", map[string]string{"national_id": testenv.NationalID(), "email": "nobody@example.org"})
	a.want(200, "If a request matches, its receipt has been emailed")
	strip := regexp.MustCompile(`value="[^"]*"|/captcha/[^"]+`)
	if strip.ReplaceAllString(a.page, "") != strip.ReplaceAllString(matched, "") {
		t.Fatal("the page answers differently when nothing matches")
	}
}

func TestSupervisorsSetTemplatesAndClosures(t *testing.T) {
	s := startSystem(t, nil)
	ctx := context.Background()
	id := testenv.NationalID()
	code := s.quickRequest(id)
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	at := nextWeekday10(t)
	if status, out := s.appointmentCall("POST", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": at}); status != 200 {
		t.Fatalf("book: %d %v", status, out)
	}

	dir := t.TempDir()
	bad := dir + "/bad.json"
	_ = os.WriteFile(bad, []byte(`[{"weekdays": {"1": [["09:00","09:50"]]}, "slot_minutes": 30, "capacity": 2}]`), 0o644)
	var out bytes.Buffer
	if err := schedules(ctx, &out, s.db, []string{"set", "AT-VIE", bad}); err == nil {
		t.Fatal("a template whose slots do not fit its period was accepted")
	}
	afternoons := dir + "/afternoons.json"
	_ = os.WriteFile(afternoons, []byte(`[{"weekdays": {"1": [["14:00","16:00"]], "2": [["14:00","16:00"]], "3": [["14:00","16:00"]],
		"4": [["14:00","16:00"]], "5": [["14:00","16:00"]]}, "slot_minutes": 20, "capacity": 2}]`), 0o644)
	if err := schedules(ctx, &out, s.db, []string{"set", "AT-VIE", afternoons}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "outside the new schedule, still booked: "+code) {
		t.Fatalf("the booking the new schedule drops is not listed:\n%s", out.String())
	}
	_, view := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": id, "tracking_code": code})
	for _, slot := range slotsOf(t, view) {
		start, _ := time.Parse(time.RFC3339, slot["starts_at"].(string))
		if start.In(mustZone(t, "Europe/Vienna")).Hour() < 14 {
			t.Fatalf("a morning slot after the afternoon-only schedule: %v", slot)
		}
	}
	day := nextWeekday10(t).AddDate(0, 0, 7)
	out.Reset()
	if err := schedules(ctx, &out, s.db, []string{"add", "AT-VIE", day.Format("2006-01-02"), "Nowruz"}); err != nil {
		t.Fatal(err)
	}
	_, view = s.appointmentCall("POST", "/lookup", map[string]any{"national_id": id, "tracking_code": code})
	for _, slot := range slotsOf(t, view) {
		if strings.HasPrefix(slot["starts_at"].(string), day.Format("2006-01-02")) {
			t.Fatalf("a slot on the closed day: %v", slot)
		}
	}
}

// freeSlots is the request's free slots as the applicant's lookup lists them.
func (s *system) freeSlots(nationalID, code string) []string {
	s.t.Helper()
	status, view := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": nationalID, "tracking_code": code})
	var out []string
	for _, slot := range slotsOf(s.t, view) {
		out = append(out, slot["starts_at"].(string))
	}
	if status != 200 || len(out) < 5 {
		s.t.Fatalf("lookup: %d, %d slots", status, len(out))
	}
	return out
}

// Staff change appointments through the same door as applicants: a seat in
// the slot and the workflow's rules. A third move and a move within the
// cut-off are refused with the words the booking page and the applicants'
// API use, and the refused seat is offered again.
func TestStaffAppointmentChangesObeyTheRequestsRules(t *testing.T) {
	s := startSystem(t, nil)
	_, token := staffMember(t, s, "officer@mfa.example", "--role", "officer", "--mission", "AT-VIE")
	id := testenv.NationalID()
	code := s.quickRequestUnder(id, request.Policy{Deadline: 60 * 24 * time.Hour, Retention: time.Hour, MaxReschedules: 2})
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	slots := s.freeSlots(id, code)
	path := "/api/v1/requests/" + code + "/appointment"
	if status, out := s.staffCall(token, "POST", path, map[string]any{"at": slots[0]}); status != 200 || out["Status"] != "appointment_booked" {
		t.Fatalf("staff booking: %d %v", status, out)
	}
	for _, at := range slots[1:3] {
		if status, out := s.staffCall(token, "PUT", path, map[string]any{"at": at}); status != 200 {
			t.Fatalf("staff move to %s: %d %v", at, status, out)
		}
	}
	status, out := s.staffCall(token, "PUT", path, map[string]any{"at": slots[3]})
	refusal, _ := out["error"].(map[string]any)
	if status != http.StatusConflict || refusal["message"] != "An appointment can be moved at most 2 times; cancel it and book again." ||
		refusal["message_fa"] != "هر نوبت را حداکثر ۲ بار می‌توان جابه‌جا کرد؛ آن را لغو کنید و دوباره نوبت بگیرید." {
		t.Fatalf("a third move by staff: %d %v, want 409 with the booking page's words", status, out)
	}
	applicant, answer := s.appointmentCall("PUT", "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": slots[3]})
	if same, _ := answer["error"].(map[string]any); applicant != http.StatusConflict || same["message"] != refusal["message"] {
		t.Fatalf("the applicant's third move: %d %v, want the staff's answer", applicant, answer)
	}
	var seats int
	_ = s.db.QueryRow(context.Background(), "SELECT COALESCE(sum(booked), 0) FROM slot_seats WHERE mission_code = 'AT-VIE'").Scan(&seats)
	if seats != 1 {
		t.Fatalf("%d seats taken, want 1: the moves' old seats and the refused ones given back", seats)
	}

	// A mission whose cut-off is a year: no move at all once booked.
	other := s.quickRequestUnder(id, request.Policy{Deadline: 60 * 24 * time.Hour, Retention: time.Hour, ChangeCutoff: 365 * 24 * time.Hour})
	s.waitStatus(other, "awaiting_appointment", 30*time.Second)
	otherPath := "/api/v1/requests/" + other + "/appointment"
	if status, out := s.staffCall(token, "POST", otherPath, map[string]any{"at": slots[4]}); status != 200 {
		t.Fatalf("staff booking: %d %v", status, out)
	}
	status, out = s.staffCall(token, "PUT", otherPath, map[string]any{"at": slots[5]})
	refusal, _ = out["error"].(map[string]any)
	if status != http.StatusConflict || refusal["message"] != "The appointment is less than 8760 hours away and can no longer be changed online; contact the mission." {
		t.Fatalf("a move within the cut-off by staff: %d %v, want 409 with the booking page's words", status, out)
	}
}

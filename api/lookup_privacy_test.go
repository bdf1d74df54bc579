package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/testenv"
)

// Outcomes travel by email only: a national ID and a tracking code must not
// tell anyone a decision. Every state but "waiting for a visit" answers the
// same, in the JSON API and on the pages.
func TestLookupsRevealNoDecision(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha, "CONSULAR_BOOKING_LOOKUPS_PER_IP": "1000"})
	ctx := context.Background()
	deadline := time.Now().UTC().Add(40 * 24 * time.Hour).Truncate(24 * time.Hour)
	words := []string{"submitted", "rejected", "attended", "approved", "completed", "archived", "withdrawn", "decision", "status"}
	closed := []consular.Status{consular.StatusSubmitted, consular.StatusRejectedDocuments, consular.StatusAttended,
		consular.StatusApproved, consular.StatusRejected, consular.StatusCompleted, consular.StatusArchived, consular.StatusWithdrawn}
	var firstJSON, firstPage string
	for _, status := range closed {
		id := testenv.NationalID()
		c, _ := consular.NewTrackingCode()
		code := string(c)
		for _, q := range []string{
			`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, 'apostille', 'AT-VIE', now())`,
			`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language) VALUES ($1, $2, $1 || '@example.org', 'Sara Ahmadi', 'en')`,
		} {
			args := []any{code}
			if strings.Contains(q, "$2") {
				args = append(args, id)
			}
			if _, err := s.db.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, version)
			VALUES ($1, $2, 'apostille', 'AT-VIE', now(), $3, 1)`, code, string(status), deadline); err != nil {
			t.Fatal(err)
		}

		httpStatus, view := s.appointmentCall("POST", "/lookup", map[string]any{"national_id": id, "tracking_code": code})
		b, _ := json.Marshal(view)
		answer := strings.ReplaceAll(string(b), code, "CODE")
		for _, w := range words {
			if strings.Contains(strings.ToLower(answer), w) {
				t.Errorf("%s: the lookup answer names %q: %s", status, w, answer)
			}
		}
		if httpStatus != 200 || view["bookable"] != false || view["slots"] != nil || view["appointment"] != nil {
			t.Errorf("%s: lookup %d %s, want 200, not bookable, no slots or appointment", status, httpStatus, answer)
		}
		if firstJSON == "" {
			firstJSON = answer
		} else if answer != firstJSON {
			t.Errorf("%s: the lookup answers differently from %s:\n%s\n%s", status, closed[0], answer, firstJSON)
		}
		for _, change := range []string{"POST", "PUT", "DELETE"} {
			_, out := s.appointmentCall(change, "/", map[string]any{"national_id": id, "tracking_code": code, "starts_at": deadline.Add(-24 * time.Hour)})
			b, _ := json.Marshal(out)
			for _, w := range words[:8] {
				if strings.Contains(string(b), w) {
					t.Errorf("%s: %s /api/v1/appointments names %q: %s", status, change, w, b)
				}
			}
		}

		a := newApplicant(t, s)
		a.get("/lang/en?next=/appointments")
		a.post("/appointments", map[string]string{"national_id": id, "tracking_code": code})
		page := regexp.MustCompile(`value="[^"]*"|/captcha/[^"]+`).ReplaceAllString(strings.ReplaceAll(a.page, code, "CODE"), "")
		for _, w := range words[:8] {
			if strings.Contains(strings.ToLower(page), w) {
				t.Errorf("%s: the booking page names %q", status, w)
			}
		}
		if firstPage == "" {
			firstPage = page
		} else if page != firstPage {
			t.Errorf("%s: the booking page differs from %s's", status, closed[0])
		}
		a.get("/withdraw")
		a.post("/withdraw", map[string]string{"national_id": id, "tracking_code": code, "confirm": "yes"})
		for _, w := range words[:8] {
			if strings.Contains(strings.ToLower(a.page), w) {
				t.Errorf("%s: the withdrawal page names %q", status, w)
			}
		}
	}
}

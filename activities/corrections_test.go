package activities

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// A retried correction (the worker died after the commit, before Temporal
// heard of it) changes the answer and records the correction once, keeping
// the old value it replaced; a second correction of the same field reads
// the value the first wrote. Clearing an answer removes it.
func TestCorrectionIsRecordedOnceWithTheValueItReplaced(t *testing.T) {
	ctx := context.Background()
	p, code, _ := request(t)
	if _, err := p.DB.Exec(ctx, `UPDATE request_applicants SET form = '{"licence_number": "12345678", "include_driving_record": "yes"}' WHERE tracking_code = $1`, code); err != nil {
		t.Fatal(err)
	}
	first := CorrectInput{TrackingCode: code, UpdateID: "correct_request:a", Field: "form.licence_number", Value: "87654321", Reason: "misread", StaffID: "7"}
	for range 2 {
		if err := p.Correct(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	second := first
	second.UpdateID, second.Value = "correct_request:b", "87654329"
	cleared := CorrectInput{TrackingCode: code, UpdateID: "correct_request:c", Field: "form.include_driving_record", Reason: "not asked", StaffID: "7"}
	for _, in := range []CorrectInput{second, cleared} {
		if err := p.Correct(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := p.DB.Query(ctx, `SELECT update_id, old_value, new_value FROM request_corrections WHERE tracking_code = $1 ORDER BY id`, code)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, old, now string
		_ = rows.Scan(&id, &old, &now)
		got = append(got, id+" "+old+" → "+now)
	}
	want := []string{"correct_request:a 12345678 → 87654321", "correct_request:b 87654321 → 87654329", "correct_request:c yes → "}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("corrections %q, want %q", got, want)
	}
	var form string
	_ = p.DB.QueryRow(ctx, `SELECT form::text FROM request_applicants WHERE tracking_code = $1`, code).Scan(&form)
	if form != `{"licence_number": "87654329"}` {
		t.Fatalf("answers %s after the corrections", form)
	}

	// A request whose applicant was purged: nothing to correct, no retrying.
	if _, err := p.DB.Exec(ctx, `DELETE FROM request_applicants WHERE tracking_code = $1`, code); err != nil {
		t.Fatal(err)
	}
	third := first
	third.UpdateID = "correct_request:d"
	var appErr *temporal.ApplicationError
	if err := p.Correct(ctx, third); !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != ErrNoApplicant {
		t.Fatalf("correcting a purged request: %v, want a non-retryable %s", err, ErrNoApplicant)
	}
}

// A corrected Persian name is the name the request goes by from then on
// (the queue, the desk, every later email's greeting): full_name is
// written again from the corrected identity, as the portal wrote it.
func TestCorrectedNameIsTheApplicantsNameFromThenOn(t *testing.T) {
	ctx := context.Background()
	p, code, _ := request(t)
	if _, err := p.DB.Exec(ctx, `UPDATE request_applicants SET full_name = 'سارا احمدى', identity = '{"first_name_fa": "سارا", "last_name_fa": "احمدى"}' WHERE tracking_code = $1`, code); err != nil {
		t.Fatal(err)
	}
	in := CorrectInput{TrackingCode: code, UpdateID: "correct_request:name", Field: "identity.last_name_fa", Value: "احمدی", Reason: "a misspelt letter", StaffID: "7"}
	if err := p.Correct(ctx, in); err != nil {
		t.Fatal(err)
	}
	var name, listed string
	if err := p.DB.QueryRow(ctx, `SELECT a.full_name, COALESCE(r.applicant_name, '') FROM request_applicants a JOIN requests r USING (tracking_code) WHERE tracking_code = $1`, code).Scan(&name, &listed); err != nil {
		t.Fatal(err)
	}
	if name != "سارا احمدی" || listed != name {
		t.Fatalf("after correcting the last name: full_name %q, queue's name %q, want %q", name, listed, "سارا احمدی")
	}
}

package consular

import (
	"testing"
	"time"
)

func TestCorrectionsAreCheckedByTheRulesOfSubmission(t *testing.T) {
	s, _ := ServiceByCode("driving_licence_inquiry")
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		field, value, stored, reason string
	}{
		{"form.licence_number", "۱۲۳۴۵۶۷۸", "12345678", ""}, // Persian digits, stored in ASCII
		{"form.licence_number", "12AB", "", ReasonPattern},
		{"form.licence_number", "", "", ReasonRequired},
		{"form.include_driving_record", "yes", "yes", ""},
		{"form.include_driving_record", "", "", ""}, // unticked: not required
		{"form.include_driving_record", "maybe", "", ReasonChoose},
		{"identity.first_name_en", "Zahra", "Zahra", ""},
		{"identity.first_name_en", "زهرا", "", ReasonPattern},
		{"identity.birth_date", "1990-02-30", "", ReasonDate},
		{"identity.birth_date", "2027-01-01", "", ReasonDateFuture},
		{"identity.birth_date", "1990-02-03", "1990-02-03", ""},
		{"identity.gender", "other", "", ReasonChoose},
		{"identity.birth_certificate_number", "۴۵۶", "456", ""},
		{"residence.phone", "+43 (1) 555-0100", "+43 (1) 555-0100", ""},
		{"residence.phone", "call me", "", ReasonPattern},
		{"residence.address", "(301 runes)", "", ReasonTooLong},
	} {
		f, ok := s.CorrectableField(c.field)
		if !ok {
			t.Fatalf("%s is not correctable", c.field)
		}
		value := c.value
		if c.reason == ReasonTooLong {
			value = ""
			for range 301 {
				value += "x"
			}
		}
		stored, problem := f.Check(value, now, nil)
		switch {
		case c.reason == "" && problem != nil:
			t.Errorf("%s = %q refused: %s", c.field, c.value, problem.Reason)
		case c.reason != "" && (problem == nil || problem.Reason != c.reason):
			t.Errorf("%s = %q: %+v, want %s", c.field, c.value, problem, c.reason)
		case c.reason == "" && stored != c.stored:
			t.Errorf("%s = %q stored as %q, want %q", c.field, c.value, stored, c.stored)
		}
	}
	if _, ok := s.CorrectableField("identity.national_id"); ok {
		t.Error("the national ID is not a correctable answer")
	}
	if _, ok := s.CorrectableField("licence_number"); ok {
		t.Error("a field is named with its section")
	}
}

func TestCorrectionReasonIsRequiredAndBounded(t *testing.T) {
	long := ""
	for range MaxCorrectionReason + 1 {
		long += "ی"
	}
	for reason, want := range map[string]string{"": ReasonRequired, "  ": ReasonRequired, long: ReasonTooLong, long[2:]: "", "typo": ""} {
		if got := CorrectionReasonProblem(reason); got != want {
			t.Errorf("reason of %d runes: %q, want %q", len([]rune(reason)), got, want)
		}
	}
}

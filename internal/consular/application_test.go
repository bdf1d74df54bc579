package consular

import (
	"reflect"
	"testing"
	"time"
)

func drivingLicence(t *testing.T) Service {
	t.Helper()
	s, ok := ServiceByCode("driving_licence_inquiry")
	if !ok {
		t.Fatal("no driving-licence inquiry")
	}
	return s
}

var allDocuments = []string{"licence", "residence_proof", "passport"}

func reasons(problems []Problem) map[string]string {
	out := map[string]string{}
	for _, p := range problems {
		out[p.Field] = p.Reason
	}
	return out
}

func TestACompleteApplicationPassesAndIsNormalised(t *testing.T) {
	fields, problems := drivingLicence(t).Check(Application{Mission: "AT-VIE", MissionOpen: true,
		Fields: map[string]string{"licence_number": " ۱۲۳۴۵۶۷ ", "include_driving_record": "on"}, Documents: allDocuments})
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	want := map[string]string{"licence_number": "1234567", "include_driving_record": "yes"}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("stored %v, want %v", fields, want)
	}
	// What Check stores passes Check again: the portal checks, then the submission path checks again.
	if _, again := drivingLicence(t).Check(Application{MissionOpen: true, Fields: fields, Documents: allDocuments}); len(again) != 0 {
		t.Fatalf("normalised fields refused: %v", again)
	}
}

// The API's old path stored a driving-licence inquiry without the licence
// number: the service's fields are checked for every caller.
func TestAnApplicationWithoutTheServicesFieldsNamesEachOne(t *testing.T) {
	_, problems := drivingLicence(t).Check(Application{Mission: "XX-NOPE", Documents: []string{"licence", "selfie"}})
	got := reasons(problems)
	want := map[string]string{"mission": ReasonMission, "licence_number": ReasonRequired,
		"document.residence_proof": ReasonRequired, "document.passport": ReasonRequired, "document.selfie": ReasonUnexpected}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems %v, want %v", got, want)
	}
}

func TestEachFieldTypeIsChecked(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	svc := Service{Code: "x", Documents: []DocumentSpec{{Kind: "d"}}, Fields: []FieldSpec{
		{Name: "choice", Type: "select", Options: []OptionSpec{{Value: "a"}}},
		{Name: "copies", Type: "number"},
		{Name: "year", Type: "year"},
		{Name: "id", Type: "national_id"},
		{Name: "born", Type: "date"},
		{Name: "travel", Type: "future_date"},
		{Name: "any", Type: "date_any"},
		{Name: "short", Type: "text", MaxLength: 3},
		{Name: "free", Type: "textarea"},
		{Name: "passport", Type: "text", Pattern: "^[A-Z0-9]{8,9}$"},
	}}
	long := make([]rune, DefaultMaxLength+1)
	for i := range long {
		long[i] = 'ا'
	}
	cases := []struct {
		field, value, reason string
		args                 []int
	}{
		{"choice", "b", ReasonChoose, nil},
		{"copies", "11", ReasonNumber, []int{1, 10}},
		{"copies", "two", ReasonNumber, []int{1, 10}},
		{"year", "2027", ReasonNumber, []int{1950, 2026}},
		{"id", "0013542418", ReasonNationalID, nil},
		{"born", "2026-13-01", ReasonDate, nil},
		{"born", "2027-01-01", ReasonDateFuture, nil},
		{"travel", "2025-01-01", ReasonDatePast, nil},
		{"short", "abcd", ReasonTooLong, []int{3}},
		{"free", string(long), ReasonTooLong, []int{DefaultMaxLength}},
		{"passport", "x12", ReasonPattern, nil},
		{"colour", "red", ReasonUnexpected, nil},
	}
	for _, c := range cases {
		_, problems := svc.Check(Application{MissionOpen: true, Now: now, Documents: []string{"d"}, Fields: map[string]string{c.field: c.value}})
		if len(problems) != 1 || problems[0].Field != c.field || problems[0].Reason != c.reason || !reflect.DeepEqual(problems[0].Args, c.args) {
			t.Errorf("%s = %q: %+v, want %s %v", c.field, c.value, problems, c.reason, c.args)
		}
	}
	good := map[string]string{"choice": "a", "copies": "۳", "year": "1999", "id": "0013542419", "born": "۱۹۹۰-۰۱-۰۲",
		"travel": "2026-07-01", "any": "2030-01-01", "short": "abc", "free": "x", "passport": "a1234567"}
	fields, problems := svc.Check(Application{MissionOpen: true, Now: now, Documents: []string{"d"}, Fields: good})
	if len(problems) != 0 {
		t.Fatalf("good answers refused: %+v", problems)
	}
	if fields["copies"] != "3" || fields["born"] != "1990-01-02" || fields["passport"] != "A1234567" {
		t.Fatalf("stored %v", fields)
	}
}

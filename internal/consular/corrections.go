package consular

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Corrections happen only in person, at the mission: an officer corrects a
// field of a request during the visit, with a reason. A correctable field
// is one of the service's questions (stored in the request's form) or one
// of the applicant's identity and residence answers as they were copied
// into the request at submission. The new value is checked by the same
// rules as at submission (FieldSpec.check), so a correction cannot store
// what the form would have refused.

// Sections of a request a correction can change: the columns of
// request_applicants that hold the answers.
const (
	SectionForm      = "form"
	SectionIdentity  = "identity"
	SectionResidence = "residence"
)

// MaxCorrectionReason bounds a correction's reason: it is emailed to the
// applicant and kept with the request.
const MaxCorrectionReason = 500

// Correctable is a field of a request an officer may correct: its name is
// "<section>.<field>" (form.licence_number, identity.birth_date).
type Correctable struct {
	Name    string
	Section string
	Spec    FieldSpec
}

// The profile's questions, copied into every request at submission, as the
// rules a correction of them is held to: the lengths, options and formats
// the profile wizard (api/portal/profile.go) asks for, with their labels
// for the correction's email (the pages word them from their catalogue).
const latinName = `^[\p{Latin} .'\-]+$`

var (
	// IdentityFields are the applicant's identity at submission.
	IdentityFields = []FieldSpec{
		{Name: "first_name_fa", Type: "text", Required: true, MaxLength: 60, Label: Text{"نام (فارسی)", "First name (Persian)"}},
		{Name: "last_name_fa", Type: "text", Required: true, MaxLength: 60, Label: Text{"نام خانوادگی (فارسی)", "Last name (Persian)"}},
		{Name: "first_name_en", Type: "text", Required: true, MaxLength: 60, Pattern: latinName, Label: Text{"نام (لاتین)", "First name (Latin letters)"}},
		{Name: "last_name_en", Type: "text", Required: true, MaxLength: 60, Pattern: latinName, Label: Text{"نام خانوادگی (لاتین)", "Last name (Latin letters)"}},
		{Name: "father_name", Type: "text", Required: true, MaxLength: 60, Label: Text{"نام پدر", "Father's name"}},
		{Name: "birth_certificate_number", Type: "text", Required: true, MaxLength: 10, Pattern: `^[0-9]+$`, Label: Text{"شماره شناسنامه", "Birth certificate number"}},
		{Name: "birth_date", Type: "date", Required: true, Label: Text{"تاریخ تولد", "Date of birth"}},
		{Name: "birth_place", Type: "text", Required: true, MaxLength: 80, Label: Text{"محل تولد", "Place of birth"}},
		{Name: "gender", Type: "select", Required: true, Label: Text{"جنسیت", "Sex"}, Options: []OptionSpec{
			{"female", Text{"زن", "Female"}}, {"male", Text{"مرد", "Male"}}}},
		{Name: "marital_status", Type: "select", Label: Text{"وضعیت تأهل", "Marital status"}, Options: []OptionSpec{
			{"single", Text{"مجرد", "Single"}}, {"married", Text{"متأهل", "Married"}},
			{"divorced", Text{"مطلقه", "Divorced"}}, {"widowed", Text{"همسرفوت‌شده", "Widowed"}}}},
		{Name: "education", Type: "select", Label: Text{"میزان تحصیلات", "Education"}, Options: []OptionSpec{
			{"none", Text{"بدون تحصیلات رسمی", "No formal education"}}, {"primary", Text{"ابتدایی", "Primary"}},
			{"secondary", Text{"راهنمایی", "Lower secondary"}}, {"diploma", Text{"دیپلم", "Secondary diploma"}},
			{"associate", Text{"کاردانی", "Associate degree"}}, {"bachelor", Text{"کارشناسی", "Bachelor's degree"}},
			{"master", Text{"کارشناسی ارشد", "Master's degree"}}, {"doctorate", Text{"دکتری", "Doctorate"}}}},
		{Name: "occupation", Type: "text", MaxLength: 80, Label: Text{"شغل", "Occupation"}},
	}
	// ResidenceFields are where the applicant lived at submission.
	ResidenceFields = []FieldSpec{
		{Name: "country", Type: "text", Required: true, MaxLength: 60, Label: Text{"کشور محل اقامت", "Country of residence"}},
		{Name: "city", Type: "text", Required: true, MaxLength: 60, Label: Text{"شهر", "City"}},
		{Name: "address", Type: "textarea", Required: true, MaxLength: 300, Label: Text{"نشانی", "Address"}},
		{Name: "residence_type", Type: "select", Required: true, Label: Text{"نوع اقامت", "Residence status"}, Options: []OptionSpec{
			{"citizen", Text{"تابعیت کشور محل اقامت", "Citizen of the country"}}, {"permanent_resident", Text{"اقامت دائم", "Permanent resident"}},
			{"temporary", Text{"اقامت موقت", "Temporary resident"}}, {"student", Text{"اقامت تحصیلی", "Student"}},
			{"refugee", Text{"پناهندگی", "Refugee"}}, {"other", Text{"سایر", "Other"}}}},
		{Name: "residence_since", Type: "date", Required: true, Label: Text{"تاریخ آغاز اقامت", "Resident since"}},
		// 6 to 18 digits with + - ( ) and spaces, as the wizard's phone check.
		{Name: "phone", Type: "text", Required: true, MaxLength: 25, Pattern: `^[+()\- ]*([0-9][+()\- ]*){6,18}$`, Label: Text{"تلفن", "Phone"}},
	}
)

// Correctable lists the fields of a request for this service an officer may
// correct: the service's questions, then identity, then residence.
func (s Service) Correctable() []Correctable {
	var out []Correctable
	for _, group := range []struct {
		section string
		specs   []FieldSpec
	}{{SectionForm, s.Fields}, {SectionIdentity, IdentityFields}, {SectionResidence, ResidenceFields}} {
		for _, f := range group.specs {
			out = append(out, Correctable{Name: group.section + "." + f.Name, Section: group.section, Spec: f})
		}
	}
	return out
}

// CorrectableField finds a correctable field by its name ("form.licence_number").
func (s Service) CorrectableField(name string) (Correctable, bool) {
	for _, c := range s.Correctable() {
		if c.Name == name {
			return c, true
		}
	}
	return Correctable{}, false
}

// Check checks a corrected value by the rules it was held to at submission
// and returns it as it is stored (ASCII digits, dates as YYYY-MM-DD), or the
// problem with it. An empty value clears a field that is not required.
// parseDate reads a date as typed (nil: YYYY-MM-DD in any digits); now is
// today for the date checks (the workflow passes its own clock).
func (c Correctable) Check(value string, now time.Time, parseDate func(string) (time.Time, error)) (string, *Problem) {
	v := strings.TrimSpace(value)
	if v == "" {
		if c.Spec.Required {
			return "", &Problem{Field: c.Name, Reason: ReasonRequired}
		}
		return "", nil
	}
	if parseDate == nil {
		parseDate = parseISODate
	}
	if c.Spec.Type == "checkbox" && v != "yes" {
		return "", &Problem{Field: c.Name, Reason: ReasonChoose}
	}
	var ps problems
	stored := c.Spec.check(v, Application{Now: now, ParseDate: parseDate}, &ps)
	if len(ps) > 0 {
		p := ps[0]
		p.Field = c.Name
		return "", &p
	}
	if c.Section != SectionForm && c.Spec.Pattern != "" {
		// The profile keeps names and numbers as typed (in ASCII digits); a
		// service's patterned answers are codes, stored upper-cased.
		stored = NormalizeDigits(v)
	}
	return stored, nil
}

// Shown is a stored value as people read it: a select's option label, a
// ticked checkbox's yes, in lang.
func (c Correctable) Shown(stored, lang string) string {
	switch c.Spec.Type {
	case "select":
		for _, o := range c.Spec.Options {
			if o.Value == stored {
				return o.Label.In(lang)
			}
		}
	case "checkbox":
		if stored == "yes" {
			return Text{"بله", "Yes"}.In(lang)
		}
		return Text{"خیر", "No"}.In(lang)
	}
	return stored
}

// CorrectionReasonProblem is what is wrong with a correction's reason, or "".
func CorrectionReasonProblem(reason string) string {
	switch r := strings.TrimSpace(reason); {
	case r == "":
		return ReasonRequired
	case utf8.RuneCountInString(r) > MaxCorrectionReason:
		return ReasonTooLong
	}
	return ""
}

package consular

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Application is what an applicant asks a mission for, as the check sees it:
// the same for the portal's form and for an API client's submission, so
// neither can skip what the service declares.
type Application struct {
	Mission     string
	MissionOpen bool              // the caller looked the mission up: it exists and is active
	Fields      map[string]string // the service's fields by name, as typed
	Documents   []string          // the kinds of document supplied (refused ones included: their own check names them)
	// ParseDate reads a date as the applicant typed it (the portal: in the
	// page's calendar); nil reads YYYY-MM-DD in any digits.
	ParseDate func(string) (time.Time, error)
	Now       time.Time
}

// Problem is one thing wrong with an application, named by its field: a
// service field's name, "mission", or "document.<kind>".
type Problem struct {
	Field  string
	Reason string
	Args   []int // the bounds the reason names: number and year (min, max), too_long (max)
}

// Reasons a field is refused; each caller words them in its own way (the
// portal from its catalogue, the API in English and Persian).
const (
	ReasonRequired   = "required"
	ReasonChoose     = "choose"      // not one of a select's options
	ReasonNumber     = "number"      // not a whole number within Args
	ReasonNationalID = "national_id" // not a national ID code with a valid check digit
	ReasonDate       = "date"        // not a date
	ReasonDateFuture = "date_future" // a day that has passed, given in the future
	ReasonDatePast   = "date_past"   // a day to come, given in the past
	ReasonTooLong    = "too_long"
	ReasonPattern    = "pattern"
	ReasonUnexpected = "unexpected" // a field or document the service does not ask for
	ReasonMission    = "mission"    // not an open mission
)

// DefaultMaxLength bounds a text answer whose declaration sets no length.
const DefaultMaxLength = 1000

// Check validates an application against the service: the mission, every
// declared field (required, type, options, length, pattern), no undeclared
// field, every required document and no undeclared one. It returns the
// fields normalised as they are stored (ASCII digits, dates as YYYY-MM-DD,
// a ticked checkbox as "yes"); checking its own output again finds nothing.
func (s Service) Check(a Application) (map[string]string, []Problem) {
	if a.Now.IsZero() {
		a.Now = time.Now()
	}
	if a.ParseDate == nil {
		a.ParseDate = parseISODate
	}
	var ps problems
	if !a.MissionOpen {
		ps.add("mission", ReasonMission)
	}
	stored := s.checkFields(a, &ps)
	s.checkDocuments(a.Documents, &ps)
	return stored, ps
}

// problems collects what Check finds, in the order it finds it.
type problems []Problem

func (ps *problems) add(field, reason string, args ...int) {
	*ps = append(*ps, Problem{Field: field, Reason: reason, Args: args})
}

// parseISODate reads YYYY-MM-DD in any digits.
func parseISODate(v string) (time.Time, error) {
	return time.Parse("2006-01-02", NormalizeDigits(v))
}

// checkFields checks every declared field, in the service's order, then
// refuses undeclared ones, and returns the answers as they are stored.
func (s Service) checkFields(a Application, ps *problems) map[string]string {
	stored := map[string]string{}
	declared := map[string]bool{}
	for _, f := range s.Fields {
		declared[f.Name] = true
		v := strings.TrimSpace(a.Fields[f.Name])
		if v == "" {
			if f.Required {
				ps.add(f.Name, ReasonRequired)
			}
			continue
		}
		stored[f.Name] = f.check(v, a, ps)
	}
	var extra []string
	for name := range a.Fields {
		if !declared[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		ps.add(name, ReasonUnexpected)
	}
	return stored
}

// check checks one answer that was given: its type, then its length and
// pattern. It returns the answer as it is stored.
func (f FieldSpec) check(v string, a Application, ps *problems) string {
	ascii := strings.ToUpper(NormalizeDigits(v))
	v = f.checkType(v, ascii, a, ps)
	limit := f.MaxLength
	if limit == 0 && (f.Type == "text" || f.Type == "textarea") {
		limit = DefaultMaxLength
	}
	if limit > 0 && utf8.RuneCountInString(v) > limit {
		ps.add(f.Name, ReasonTooLong, limit)
	}
	if f.Pattern != "" {
		if !regexp.MustCompile(f.Pattern).MatchString(ascii) { // compiled once at start by ParseServices
			ps.add(f.Name, ReasonPattern)
		} else {
			v = ascii
		}
	}
	return v
}

// checkType checks an answer against the field's type and returns it
// normalised: ASCII digits for numbers, YYYY-MM-DD for dates, "yes" for a
// ticked checkbox. ascii is the answer upper-cased, in ASCII digits.
func (f FieldSpec) checkType(v, ascii string, a Application, ps *problems) string {
	switch f.Type {
	case "checkbox":
		return "yes"
	case "select":
		if !slices.ContainsFunc(f.Options, func(o OptionSpec) bool { return o.Value == v }) {
			ps.add(f.Name, ReasonChoose)
		}
	case "number":
		f.checkWholeNumber(ascii, 1, 10, ps)
		return ascii
	case "year":
		f.checkWholeNumber(ascii, 1950, a.Now.Year(), ps)
		return ascii
	case "national_id":
		id, err := ParseNationalID(v)
		if err != nil {
			ps.add(f.Name, ReasonNationalID)
		}
		return id
	case "date", "future_date", "date_any":
		return f.checkDate(v, a, ps)
	}
	return v
}

func (f FieldSpec) checkWholeNumber(ascii string, low, high int, ps *problems) {
	if n, err := strconv.Atoi(ascii); err != nil || n < low || n > high {
		ps.add(f.Name, ReasonNumber, low, high)
	}
}

// checkDate reads a date as the applicant typed it and, for date and
// future_date, checks which side of today it falls on.
func (f FieldSpec) checkDate(v string, a Application, ps *problems) string {
	day, err := a.ParseDate(v)
	switch {
	case err != nil:
		ps.add(f.Name, ReasonDate)
	case f.Type == "date" && day.After(a.Now):
		ps.add(f.Name, ReasonDateFuture)
	case f.Type == "future_date" && day.Before(a.Now):
		ps.add(f.Name, ReasonDatePast)
	default:
		return day.Format("2006-01-02")
	}
	return v
}

// checkDocuments asks for every required document and refuses each kind the
// service does not declare, once however often it was supplied.
func (s Service) checkDocuments(kinds []string, ps *problems) {
	have := map[string]bool{}
	var unexpected []string
	for _, kind := range kinds {
		if _, ok := s.Document(kind); !ok && !have[kind] {
			unexpected = append(unexpected, kind)
		}
		have[kind] = true
	}
	for _, d := range s.Documents {
		if d.Required && !have[d.Kind] {
			ps.add("document."+d.Kind, ReasonRequired)
		}
	}
	slices.Sort(unexpected)
	for _, kind := range unexpected {
		ps.add("document."+kind, ReasonUnexpected)
	}
}

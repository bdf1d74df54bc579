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
	var problems []Problem
	fail := func(field, reason string, args ...int) {
		problems = append(problems, Problem{Field: field, Reason: reason, Args: args})
	}
	if a.Now.IsZero() {
		a.Now = time.Now()
	}
	parseDate := a.ParseDate
	if parseDate == nil {
		parseDate = func(v string) (time.Time, error) { return time.Parse("2006-01-02", NormalizeDigits(v)) }
	}
	if !a.MissionOpen {
		fail("mission", ReasonMission)
	}
	stored := map[string]string{}
	declared := map[string]bool{}
	for _, f := range s.Fields {
		declared[f.Name] = true
		v := strings.TrimSpace(a.Fields[f.Name])
		if v == "" {
			if f.Required {
				fail(f.Name, ReasonRequired)
			}
			continue
		}
		ascii := strings.ToUpper(NormalizeDigits(v))
		switch f.Type {
		case "checkbox":
			v = "yes"
		case "select":
			if !slices.ContainsFunc(f.Options, func(o OptionSpec) bool { return o.Value == v }) {
				fail(f.Name, ReasonChoose)
			}
		case "number":
			if n, err := strconv.Atoi(ascii); err != nil || n < 1 || n > 10 {
				fail(f.Name, ReasonNumber, 1, 10)
			}
			v = ascii
		case "year":
			if n, err := strconv.Atoi(ascii); err != nil || n < 1950 || n > a.Now.Year() {
				fail(f.Name, ReasonNumber, 1950, a.Now.Year())
			}
			v = ascii
		case "national_id":
			id, err := ParseNationalID(v)
			if err != nil {
				fail(f.Name, ReasonNationalID)
			}
			v = id
		case "date", "future_date", "date_any":
			day, err := parseDate(v)
			switch {
			case err != nil:
				fail(f.Name, ReasonDate)
			case f.Type == "date" && day.After(a.Now):
				fail(f.Name, ReasonDateFuture)
			case f.Type == "future_date" && day.Before(a.Now):
				fail(f.Name, ReasonDatePast)
			default:
				v = day.Format("2006-01-02")
			}
		}
		limit := f.MaxLength
		if limit == 0 && (f.Type == "text" || f.Type == "textarea") {
			limit = DefaultMaxLength
		}
		if limit > 0 && utf8.RuneCountInString(v) > limit {
			fail(f.Name, ReasonTooLong, limit)
		}
		if f.Pattern != "" {
			if !regexp.MustCompile(f.Pattern).MatchString(ascii) { // compiled once at start by ParseServices
				fail(f.Name, ReasonPattern)
			} else {
				v = ascii
			}
		}
		stored[f.Name] = v
	}
	var extra []string
	for name := range a.Fields {
		if !declared[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		fail(name, ReasonUnexpected)
	}
	have := map[string]bool{}
	var unexpected []string
	for _, kind := range a.Documents {
		if _, ok := s.Document(kind); !ok && !have[kind] {
			unexpected = append(unexpected, kind)
		}
		have[kind] = true
	}
	for _, d := range s.Documents {
		if d.Required && !have[d.Kind] {
			fail("document."+d.Kind, ReasonRequired)
		}
	}
	slices.Sort(unexpected)
	for _, kind := range unexpected {
		fail("document."+kind, ReasonUnexpected)
	}
	return stored, problems
}

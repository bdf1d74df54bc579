package staff

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/workflows/request"
)

// Desk is a request as an officer reads it, in the page's language: the
// request at a glance, the service's answers under their labels, the
// applicant's profile as it was at submission, the documents, the actions
// its state allows and the timeline in words, in the mission's time.
type Desk struct {
	Deadline    string
	DaysLeft    string
	Overdue     bool
	Appointment string // "" when none is booked
	Zone        string // "Vienna time": whose clock the page's times are on
	Answers     []Line
	Identity    []Line
	Residence   []Line
	Documents   []DeskDocument
	// Actions are the dashboard's action paths (attendance, no-show,
	// decision, confirm, extension, note) offered on this page.
	Actions  map[string]bool
	Closed   bool // a final status: nothing more can be done
	Timeline []TimelineLine
	Printed  string // the case sheet's footer: when and by whom, on paper only
}

// Line is one labelled value.
type Line struct{ Label, Value string }

// DeskDocument is a document as the page shows it.
type DeskDocument struct {
	Kind, Label, FileName, Size, URL string
}

// TimelineLine is one event in words.
type TimelineLine struct {
	At   time.Time // for the <time> element
	When string    // in the mission's time
	What string
	Who  string // "" for the system (an email sent)
	Note string // a note's own words, shown apart
}

// updatePaths are the dashboard's action paths by the update they send.
var updatePaths = map[string]string{
	request.UpdateRecordAttendance: "attendance",
	request.UpdateMarkNoShow:       "no-show",
	request.UpdateDecide:           "decision",
	request.UpdateConfirmDecision:  "confirm",
	request.UpdateExtendDeadline:   "extension",
	request.UpdateCorrectRequest:   "corrections",
}

// The profile's fields in the order the profile asks them, with the types
// that decide how their values read (package portal asks them).
var (
	identitySpecs = []web.Spec{{Name: "first_name_fa"}, {Name: "last_name_fa"}, {Name: "first_name_en"}, {Name: "last_name_en"},
		{Name: "father_name"}, {Name: "birth_certificate_number"}, {Name: "birth_date", Type: "date"}, {Name: "birth_place"},
		{Name: "gender", Type: "select"}, {Name: "marital_status", Type: "select"}, {Name: "education", Type: "select"}, {Name: "occupation"}}
	residenceSpecs = []web.Spec{{Name: "country"}, {Name: "city"}, {Name: "address"}, {Name: "residence_type", Type: "select"},
		{Name: "residence_since", Type: "date"}, {Name: "phone"}}
)

func newDesk(pg *web.Page, r Detail, m Member, proposed bool, now time.Time) Desk {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	at := func(t time.Time) string { return missionTime(pg, t, loc) }
	d := Desk{
		Deadline: pg.Date(r.DeadlineAt.In(loc)),
		Zone:     pg.T("staff.detail.zone", r.City.In(pg.Lang)),
		Closed:   consular.Status(r.Status).Final(),
		Actions:  map[string]bool{},
	}
	switch {
	case d.Closed:
	case r.DaysLeft < 0 || r.DeadlineAt.Before(now):
		d.Overdue, d.DaysLeft = true, pg.T("staff.detail.overdue")
	default:
		d.DaysLeft = pg.T("staff.days_left", r.DaysLeft)
	}
	if r.Appointment != nil {
		d.Appointment = at(*r.Appointment)
	}
	d.Answers = answers(pg, r.Service, r.Form)
	d.Identity = profileLines(pg, identitySpecs, r.Identity)
	d.Residence = profileLines(pg, residenceSpecs, r.Residence)
	documentOrder(r.Service, r.Documents)
	for _, doc := range r.Documents {
		d.Documents = append(d.Documents, DeskDocument{Kind: doc.Kind, Label: documentLabel(pg, r.Service, doc.Kind), FileName: doc.FileName,
			Size: pg.T("staff.detail.size_kb", (doc.Size+512)/1024),
			URL:  documentPath(r.TrackingCode, doc.Kind)})
	}
	sit := request.Situation{Status: consular.Status(r.Status), Proposed: proposed,
		AppointmentBegun: r.Appointment != nil && !now.Before(*r.Appointment)}
	for _, update := range request.StaffActions(sit) {
		if staffpolicy.May(m.Role, staffpolicy.Action(update)).Permitted() {
			d.Actions[updatePaths[update]] = true
		}
	}
	if !d.Closed && staffpolicy.May(m.Role, staffpolicy.Note).Permitted() {
		d.Actions["note"] = true
	}
	d.Timeline = timelineWords(pg, r.Timeline, loc)
	d.Printed = pg.T("staff.detail.printed", at(now), web.LTR(m.Email))
	return d
}

// missionTime writes a day and a time on the mission's clock, in the
// page's calendar and digits.
func missionTime(pg *web.Page, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return pg.T("staff.detail.at", i18n.Date(t, pg.Lang), t.Format("15:04"))
}

// answers are the service's questions in the catalogue's order with the
// answers in words: a choice by its label, a date in the page's calendar,
// a tick box as yes or no.
func answers(pg *web.Page, s consular.Service, form map[string]string) []Line {
	var lines []Line
	asked := map[string]bool{}
	for _, f := range s.Fields {
		asked[f.Name] = true
		v, ok := form[f.Name]
		line := Line{Label: f.Label.In(pg.Lang)}
		switch {
		case f.Type == "checkbox" && ok && v != "" && v != "no" && v != "false":
			line.Value = pg.T("answer.yes")
		case f.Type == "checkbox":
			line.Value = pg.T("staff.detail.answer_no")
		case !ok || v == "":
			line.Value = pg.T("staff.detail.unanswered")
		default:
			spec := web.Spec{Name: f.Name, Type: f.Type}
			switch f.Type {
			case "future_date", "date_any":
				spec.Type = "date"
			case "select":
				spec.OptionLabels = map[string]consular.Text{}
				for _, o := range f.Options {
					spec.OptionLabels[o.Value] = o.Label
				}
			}
			line.Value = pg.Shown(spec, v)
		}
		lines = append(lines, line)
	}
	// An answer to a question the catalogue no longer asks is still what
	// was applied for.
	for _, k := range sortedKeys(form) {
		if !asked[k] {
			lines = append(lines, Line{Label: fieldLabel(pg, k), Value: form[k]})
		}
	}
	return lines
}

// profileLines are the snapshot's fields in the profile's order, labelled
// in the page's language, then any the profile no longer asks.
func profileLines(pg *web.Page, specs []web.Spec, values map[string]string) []Line {
	var lines []Line
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Name] = true
		if v := values[s.Name]; v != "" {
			lines = append(lines, Line{Label: fieldLabel(pg, s.Name), Value: pg.Shown(s, v)})
		}
	}
	for _, k := range sortedKeys(values) {
		if !known[k] && values[k] != "" {
			lines = append(lines, Line{Label: fieldLabel(pg, k), Value: values[k]})
		}
	}
	return lines
}

// fieldLabel is a field's label from the catalogue, or its name in words
// when the catalogue has none.
func fieldLabel(pg *web.Page, name string) string {
	if l := pg.T("field." + name); l != "field."+name {
		return l
	}
	return strings.ReplaceAll(name, "_", " ")
}

// documentLabel names a document as the service does, or as the profile
// does for identity documents.
func documentLabel(pg *web.Page, s consular.Service, kind string) string {
	if spec, ok := s.Document(kind); ok {
		return spec.Name.In(pg.Lang)
	}
	if own, ok := strings.CutPrefix(kind, profileDocument); ok {
		if l := pg.T("field.document." + own); l != "field.document."+own {
			return pg.T("staff.detail.profile_document", l)
		}
	}
	return strings.ReplaceAll(kind, "_", " ")
}

// profileDocument prefixes the kind of an identity document the portal
// copies from the applicant's profile into the request (package portal).
const profileDocument = "identity_"

// documentOrder puts a request's documents in the order the service asks
// for them, then the profile's identity documents.
func documentOrder(s consular.Service, docs []Document) {
	rank := func(kind string) int {
		for i, d := range s.Documents {
			if d.Kind == kind {
				return i
			}
		}
		if strings.HasPrefix(kind, profileDocument) {
			return len(s.Documents)
		}
		return len(s.Documents) + 1
	}
	sort.SliceStable(docs, func(i, j int) bool { return rank(docs[i].Kind) < rank(docs[j].Kind) })
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// timelineWords puts events in words: what happened (staff.timeline.*),
// when on the mission's clock, and who acted: an officer by email, an API
// client by name, the applicant; never the log's raw names.
func timelineWords(pg *web.Page, events []Event, loc *time.Location) []TimelineLine {
	has := func(key string) bool { return pg.T(key) != key }
	lines := make([]TimelineLine, 0, len(events))
	for _, e := range events {
		l := TimelineLine{At: e.At, When: missionTime(pg, e.At, loc), Who: actor(pg, e)}
		switch e.What {
		case "mail":
			if key := "staff.timeline.mail." + e.Detail; has(key) {
				l.What = pg.T(key)
			} else {
				l.What = pg.T("staff.timeline.mail.other")
			}
		case "booked", "moved", "cancelled":
			l.What = pg.T("staff.timeline."+e.What, missionTime(pg, e.Slot, loc))
		case "decide":
			l.What = pg.T("staff.timeline.decide", pg.T("status."+e.Detail))
		case "extend_deadline":
			days, err := strconv.Atoi(strings.TrimSuffix(e.Detail, " days"))
			if err != nil {
				l.What = pg.T("staff.timeline.extend_deadline_plain")
			} else {
				l.What = pg.T("staff.timeline.extend_deadline", days)
			}
		case "note":
			l.What, l.Note = pg.T("staff.timeline.note"), e.Detail
		case "corrected":
			l.What = e.Correction.Shown(pg)
		default:
			if key := "staff.timeline." + e.What; has(key) {
				l.What = pg.T(key)
			} else {
				l.What = pg.T("staff.timeline.other")
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// actor names who acted, in words.
func actor(pg *web.Page, e Event) string {
	switch {
	case e.Role == roleApplicant:
		return pg.T("staff.timeline.by_applicant")
	case e.Role == roleClient || strings.HasPrefix(e.Actor, "client:"):
		return pg.T("staff.timeline.by_client", web.LTR(clientName(e.Actor)))
	case e.Role == "operator":
		return pg.T("staff.timeline.by_operator", web.LTR(e.Actor))
	case e.Actor != "":
		return pg.T("staff.timeline.by_staff", web.LTR(e.Actor))
	}
	return ""
}

// documentPath is where staff read a request's document (documents.go).
func documentPath(code, kind string) string {
	return fmt.Sprintf("/staff/requests/%s/documents/%s", code, kind)
}

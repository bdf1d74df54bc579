package staff

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/audit"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/workflows/request"
)

// Corrections are made only in person: during the visit an officer
// corrects a field of the request (a service answer, or the identity and
// residence copied in at submission), with a reason. The workflow decides
// whether the request's state allows it (attended, no decision yet) and
// checks the new value by the rules of submission; the applicant is
// emailed the old and the new value.

// The correction form's fields, apart from the page's other forms.
const (
	correctionField  = "correction_field"
	correctionValue  = "correction_value"
	correctionReason = "correction_reason"
)

// CorrectionForm is what the "correction" partial draws: the request's
// correctable fields with their labels and current values, and what was
// posted with its errors when the page is shown again.
type CorrectionForm struct {
	TrackingCode string
	// Open says the request's state allows corrections (attended): the
	// form is shown; otherwise a line says when corrections can be made.
	Open bool
	// Groups are the correctable fields by section, in the form's order:
	// the service's answers, identity, residence.
	Groups   []CorrectionGroup
	ActionID string // one per page: a form sent twice is one Update
	// What was posted, kept when the page is shown again.
	Field, Value, Reason string
	Errors               map[string]string // form field -> worded error
	// Refusal is the workflow's no, worded; the page shows it at the top
	// (detailData.Refusal), not in the form.
	Refusal string
}

// CorrectionGroup is one section's fields: Title is its message key.
type CorrectionGroup struct {
	Title  string
	Fields []CorrectionChoice
}

// CorrectionChoice is one field the officer may correct.
type CorrectionChoice struct {
	Name  string // section.name, the value posted
	Label string
	// Current is the value now, as people read it, for the page's T: an
	// answer in Latin script keeps its digits and direction.
	Current web.Literal
	Type    string // the field's type (date: typed in the page's calendar)
	// Hint is the field's own hint from the service's form (what a licence
	// number looks like), shown when the field is chosen.
	Hint     string
	Selected bool
}

// Hint is the chosen field's own hint, if it has one: the value's error
// ("see the hint under the label") then points at words about that field.
func (f *CorrectionForm) Hint() string {
	for _, g := range f.Groups {
		for _, c := range g.Fields {
			if c.Selected {
				return c.Hint
			}
		}
	}
	return ""
}

// correctionTitles are the sections' headings, message keys.
var correctionTitles = map[string]string{consular.SectionForm: "staff.form",
	consular.SectionIdentity: "profile.identity.title", consular.SectionResidence: "profile.residence.title"}

// NewCorrectionForm is the correction form for request r on a page in lang.
func NewCorrectionForm(r Detail, lang, actionID string) *CorrectionForm {
	f := &CorrectionForm{TrackingCode: r.TrackingCode, Open: r.Status == string(consular.StatusAttended),
		ActionID: actionID, Errors: map[string]string{}}
	for _, c := range r.Service.Correctable() {
		if n := len(f.Groups); n == 0 || f.Groups[n-1].Title != correctionTitles[c.Section] {
			f.Groups = append(f.Groups, CorrectionGroup{Title: correctionTitles[c.Section]})
		}
		g := &f.Groups[len(f.Groups)-1]
		choice := CorrectionChoice{Name: c.Name, Label: c.Spec.Label.In(lang),
			Current: literal(shownValue(c, r.answer(c), lang)), Type: c.Spec.Type}
		if c.Spec.Hint != nil {
			choice.Hint = c.Spec.Hint.In(lang)
		}
		g.Fields = append(g.Fields, choice)
	}
	return f
}

// choose marks the posted field as chosen.
func (f *CorrectionForm) choose(name string) {
	f.Field = name
	for i := range f.Groups {
		for j := range f.Groups[i].Fields {
			f.Groups[i].Fields[j].Selected = f.Groups[i].Fields[j].Name == name
		}
	}
}

// literal keeps a value in Latin script (a licence number, a city) as
// written, a left-to-right run of its own in a Persian sentence; Persian
// text and dates already in the page's digits are kept as they are.
func literal(v string) web.Literal {
	for _, r := range v {
		if unicode.In(r, unicode.Arabic) {
			return web.Literal(v)
		}
	}
	return web.LTR(v)
}

// answer is the request's stored answer to a correctable field.
func (r Detail) answer(c consular.Correctable) string {
	switch c.Section {
	case consular.SectionIdentity:
		return r.Identity[c.Spec.Name]
	case consular.SectionResidence:
		return r.Residence[c.Spec.Name]
	}
	return r.Form[c.Spec.Name]
}

// shownValue writes a stored value for reading: a choice by its label, a
// date in the page's calendar, an empty one as such.
func shownValue(c consular.Correctable, stored, lang string) string {
	if stored == "" && c.Spec.Type != "checkbox" { // an unticked box reads "no"
		return consular.Text{Fa: "(خالی)", En: "(empty)"}.In(lang)
	}
	if strings.Contains(c.Spec.Type, "date") {
		if t, err := time.Parse("2006-01-02", stored); err == nil {
			return i18n.Date(t, lang)
		}
	}
	return c.Shown(stored, lang)
}

// correct sends an officer's correction to the request's workflow. Who
// corrects is the signed-in member, never anything the form says.
func (d *Dashboard) correct(c *fiber.Ctx, m Member) error {
	r, err := d.load(c, m) // scoped: another mission's request is a 404
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	action := staffpolicy.Correct
	if !staffpolicy.May(m.Role, action).Permitted() {
		d.record(ctx, c, m, string(action), r.TrackingCode, audit.Refused, "not allowed for the role "+m.Role)
		return fiber.ErrForbidden
	}
	pg := d.page(c, "staff.detail.title", nil)
	form := NewCorrectionForm(r, pg.Lang, randomID())
	form.choose(strings.Clone(c.FormValue(correctionField)))
	form.Value = strings.Clone(c.FormValue(correctionValue))
	form.Reason = strings.TrimSpace(c.FormValue(correctionReason))
	pg.Form = web.NewForm()
	pg.Form.Values = map[string]string{correctionField: form.Field, correctionValue: form.Value, correctionReason: form.Reason}
	pg.Form.Labels = map[string]string{correctionField: pg.T("correction.field"), correctionValue: pg.T("correction.value"),
		correctionReason: pg.T("correction.reason")}

	// The page words what is wrong; the workflow checks the same again.
	var stored string
	field, known := r.Service.CorrectableField(form.Field)
	if !known {
		pg.Form.Fail(correctionField, "correction.choose_field")
	} else {
		var problem *consular.Problem
		stored, problem = field.Check(form.Value, time.Now(), func(v string) (time.Time, error) { return i18n.ParseDate(v, pg.Lang) })
		if problem != nil {
			pg.Form.Fail(correctionValue, problemKey(problem.Reason), intArgs(problem.Args)...)
		}
	}
	switch consular.CorrectionReasonProblem(form.Reason) {
	case consular.ReasonRequired:
		pg.Form.Fail(correctionReason, "error.required")
	case consular.ReasonTooLong:
		pg.Form.Fail(correctionReason, "error.too_long", consular.MaxCorrectionReason)
	}
	if !pg.Form.OK() {
		d.record(ctx, c, m, string(action), r.TrackingCode, audit.Refused, "invalid correction of "+form.Field)
		return d.renderCorrection(c, pg, m, r, form, fiber.StatusUnprocessableEntity)
	}

	actionID := strings.Clone(c.FormValue("_action_id"))
	if actionID == "" {
		actionID = randomID()
	}
	in := request.Correction{Field: field.Name, Value: stored, Reason: form.Reason, StaffID: strconv.FormatInt(m.ID, 10)}
	_, err = request.Act(ctx, d.Temporal, r.TrackingCode, request.UpdateCorrectRequest, request.UpdateCorrectRequest+":"+actionID, in)
	var refused *request.RefusedError
	switch {
	case errors.As(err, &refused):
		d.record(ctx, c, m, string(action), r.TrackingCode, audit.Refused, refused.Reason)
		form.Refusal = refusalWords(pg, r, refused)
		pg.Notice = "staff.refused"
		return d.renderCorrection(c, pg, m, r, form, fiber.StatusConflict)
	case err != nil:
		d.record(ctx, c, m, string(action), r.TrackingCode, audit.Failed, err.Error())
		return err
	}
	// The audit line names the field, never its values (personal data).
	d.record(ctx, c, m, string(action), r.TrackingCode, audit.OK, field.Name)
	return c.Redirect("/staff/requests/"+r.TrackingCode+"?notice=staff.done", fiber.StatusSeeOther)
}

// renderCorrection shows the detail page again with the correction form as
// posted, its errors worded in the page's language.
func (d *Dashboard) renderCorrection(c *fiber.Ctx, pg *web.Page, m Member, r Detail, form *CorrectionForm, status int) error {
	for name, key := range pg.Form.Errors {
		form.Errors[name] = pg.T(key, pg.Form.Args[name]...)
	}
	d.deskPage(c, pg, m, r, form.Refusal, form)
	return d.Render.Render(c, status, "staff_detail", pg)
}

// problemKey is the catalogue's word for a reason a value is refused.
func problemKey(reason string) string {
	keys := map[string]string{consular.ReasonRequired: "error.required", consular.ReasonChoose: "error.choose",
		consular.ReasonNumber: "error.number", consular.ReasonNationalID: "error.national_id", consular.ReasonDate: "error.date",
		consular.ReasonDateFuture: "error.date_future", consular.ReasonDatePast: "error.date_past",
		consular.ReasonTooLong: "error.too_long", consular.ReasonPattern: "error.pattern"}
	if key, ok := keys[reason]; ok {
		return key
	}
	return "correction.invalid"
}

func intArgs(ns []int) []any {
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

// Correction is one correction of a request, as its timeline shows it.
type Correction struct {
	At          time.Time
	Field       string        // section.name
	Label       consular.Text // the field's label
	Old, New    string        // as stored
	Reason      string
	StaffEmail  string // who corrected
	correctable consular.Correctable
}

// Shown writes the correction for the timeline in lang: the field, the old
// and the new value as people read them, and the reason (the timeline
// names who beside it).
func (c Correction) Shown(p *web.Page) string {
	return p.T("correction.timeline", c.Label.In(p.Lang),
		literal(shownValue(c.correctable, c.Old, p.Lang)), literal(shownValue(c.correctable, c.New, p.Lang)), isolated(c.Reason))
}

// isolated is free text typed by an officer, in whatever script, as a run
// of its own (first-strong isolate): an English reason on a Persian page
// keeps its full stop and the closing bracket after it where they belong.
func isolated(s string) web.Literal {
	return web.Literal("\u2068" + s + "\u2069")
}

// Querier is what reading needs of a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// correctionsSQL is scoped like every staff query: another mission's
// request has no corrections to show.
const correctionsSQL = `
SELECT c.corrected_at, c.field, c.old_value, c.new_value, c.reason, COALESCE(s.email, ''), r.service_code
FROM request_corrections c
JOIN requests r USING (tracking_code)
LEFT JOIN staff s ON s.id = c.staff_id
WHERE c.tracking_code = $1 AND ($2::text IS NULL OR r.mission_code = $2)
ORDER BY c.corrected_at, c.id`

// Corrections lists the corrections of request code, oldest first, for
// its timeline; mission scopes them (nil: an admin's every mission).
func Corrections(ctx context.Context, db Querier, code string, mission *string) ([]Correction, error) {
	rows, err := db.Query(ctx, correctionsSQL, code, mission)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Correction, error) {
		var c Correction
		var serviceCode string
		if err := row.Scan(&c.At, &c.Field, &c.Old, &c.New, &c.Reason, &c.StaffEmail, &serviceCode); err != nil {
			return c, err
		}
		service, _ := consular.ServiceByCode(serviceCode)
		c.correctable, _ = service.CorrectableField(c.Field)
		c.Label = c.correctable.Spec.Label
		if c.Label.En == "" {
			c.Label = consular.Text{Fa: c.Field, En: c.Field}
		}
		return c, nil
	})
}

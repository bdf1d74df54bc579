package staff

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/audit"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/workflows/request"
)

// Detail is one request as the mission sees it: the request, and the
// applicant's profile and answers as they were at submission (the snapshot
// in request_applicants, never the profile as it is now).
type Detail struct {
	Row
	Service   consular.Service
	Mission   consular.Text
	City      consular.Text // the mission's city, naming its time zone
	Location  *time.Location
	Applicant map[string]string // name, email, national ID, language
	Identity  map[string]string
	Residence map[string]string
	Form      map[string]string
	Documents []Document
	Timeline  []Event
	DaysLeft  int
}

// Document is a stored document, served to staff by documentPath.
type Document struct {
	Kind, FileName, Format string
	Size                   int
	objectKey              string
}

type detailData struct {
	Proposed string // a decision waiting for a supervisor, from the workflow
	// The workflow could not say whether a decision awaits confirmation.
	ProposedUnknown bool
	Member          Member
	Request         Detail
	Desk            Desk // the request in words, in the page's language
	Reasons         []string
	Refusal         string // the workflow's reason for refusing the last action
	ActionID        string // one per page: a form sent twice is one Update
	Correction      *CorrectionForm
}

// RejectionReasons are the reasons staff choose from (free text may follow).
var RejectionReasons = []string{"documents_invalid", "not_eligible", "identity_unconfirmed", "incomplete", "other"}

// detailSQL is scoped like every staff query: another mission's request is
// simply not found.
const detailSQL = `
SELECT r.tracking_code, r.status, r.service_code, r.mission_code, r.submitted_at, r.deadline_at, r.appointment_at,
       m.name_fa, m.name_en, m.time_zone, a.full_name, a.email, a.national_id, a.language, a.identity, a.residence, a.form
FROM requests r
JOIN missions m ON m.code = r.mission_code
JOIN request_applicants a USING (tracking_code)
WHERE r.tracking_code = $1 AND ($2::text IS NULL OR r.mission_code = $2)`

func (d *Dashboard) load(c *fiber.Ctx, m Member) (Detail, error) {
	ctx := c.UserContext()
	var r Detail
	code, err := consular.ParseTrackingCode(c.Params("code"))
	if err != nil {
		return r, fiber.ErrNotFound
	}
	var zone, name, email, nid, lang string
	var identity, residence, form []byte
	err = d.DB.QueryRow(ctx, detailSQL, string(code), m.scope()).Scan(&r.TrackingCode, &r.Status, &r.ServiceCode, &r.MissionCode,
		&r.SubmittedAt, &r.DeadlineAt, &r.Appointment, &r.Mission.Fa, &r.Mission.En, &zone, &name, &email, &nid, &lang,
		&identity, &residence, &form)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fiber.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read request %s: %w", code, err)
	}
	if r.Location, err = time.LoadLocation(zone); err != nil {
		r.Location = time.UTC
	}
	if info, ok := consular.Missions.Mission(r.MissionCode); ok {
		r.City = info.City
	}
	r.Service, _ = consular.ServiceByCode(r.ServiceCode)
	r.Applicant = map[string]string{"full_name": name, "email": email, "national_id": nid, "language": lang}
	_ = json.Unmarshal(identity, &r.Identity)
	_ = json.Unmarshal(residence, &r.Residence)
	_ = json.Unmarshal(form, &r.Form)
	r.DaysLeft = int(time.Until(r.DeadlineAt).Hours() / 24)

	if r.Documents, err = d.documents(ctx, r.TrackingCode); err != nil {
		return r, err
	}
	if r.Timeline, err = d.timeline(ctx, r); err != nil {
		return r, err
	}
	return r, nil
}

// documents are the request's stored documents, in the order the service
// lists them.
func (d *Dashboard) documents(ctx context.Context, code string) ([]Document, error) {
	rows, err := d.DB.Query(ctx, `SELECT kind, object_key, file_name, format, size_bytes FROM request_documents WHERE tracking_code = $1 ORDER BY kind`, code)
	if err != nil {
		return nil, fmt.Errorf("read documents of %s: %w", code, err)
	}
	docs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Document, error) {
		var doc Document
		err := row.Scan(&doc.Kind, &doc.objectKey, &doc.FileName, &doc.Format, &doc.Size)
		return doc, err
	})
	if err != nil {
		return nil, fmt.Errorf("read documents of %s: %w", code, err)
	}
	return docs, nil
}

func (d *Dashboard) detail(c *fiber.Ctx, m Member) error {
	r, err := d.load(c, m)
	if err != nil {
		return err
	}
	d.record(c.UserContext(), c, m, "view", r.TrackingCode, "ok", "")
	pg := d.deskPage(c, nil, m, r, "", nil)
	pg.Notice = strings.Clone(c.Query("notice"))
	if pg.Notice != "" && !strings.HasPrefix(pg.Notice, "staff.") {
		pg.Notice = ""
	}
	return d.Render.Render(c, fiber.StatusOK, "staff_detail", pg)
}

// deskPage is the request's page: its data, the decision a supervisor may
// be waiting on, the desk in words and the correction form (as posted, or
// a fresh one). pg is a page already begun (a posted form), or nil.
func (d *Dashboard) deskPage(c *fiber.Ctx, pg *web.Page, m Member, r Detail, refusal string, form *CorrectionForm) *web.Page {
	data := &detailData{Member: m, Request: r, Reasons: RejectionReasons, Refusal: refusal, ActionID: randomID()}
	if r.Status == string(consular.StatusAttended) { // a proposed decision lives in the workflow
		data.Proposed, data.ProposedUnknown = d.proposed(c.UserContext(), r.TrackingCode)
	}
	if pg == nil {
		pg = d.page(c, "staff.detail.title", data)
	}
	pg.Data = data
	data.Desk = newDesk(pg, r, m, data.Proposed != "", time.Now())
	if form == nil {
		form = NewCorrectionForm(r, pg.Lang, data.ActionID)
	}
	data.ActionID = form.ActionID
	form.Open = data.Desk.Actions[updatePaths[request.UpdateCorrectRequest]] // what the request's state allows
	data.Correction = form
	return pg
}

// proposed asks the request's workflow for a decision awaiting a
// supervisor's confirmation. The page must not wait long for it (a query
// can need a replay on a busy worker, or Temporal be down): after a few
// seconds it is unknown, and the page says so rather than showing none.
func (d *Dashboard) proposed(ctx context.Context, code string) (decision string, unknown bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := request.Status(ctx, d.Temporal, code)
	if err != nil {
		d.Logger.WarnContext(ctx, "read a proposed decision", "tracking_code", code, "err", err)
		return "", true
	}
	return string(v.Proposed), false
}

// Actions are the dashboard's actions, by the word in their path
// (/staff/requests/:code/:action). Appointments are booked by applicants
// (and the JSON API); withdrawal is the applicant's.
var Actions = map[string]staffpolicy.Action{
	"attendance": staffpolicy.Attend,
	"no-show":    staffpolicy.NoShow,
	"decision":   staffpolicy.Decide,
	"confirm":    staffpolicy.Confirm,
	"extension":  staffpolicy.Extend,
	"note":       staffpolicy.Note,
}

// act sends a staff action as an Update of the request's workflow. The
// policy table (package staffpolicy, which the JSON API asks too) says
// whether the member's role may take it; the workflow's validator decides
// whether the request's state allows it.
func (d *Dashboard) act(c *fiber.Ctx, m Member) error {
	r, err := d.load(c, m) // scoped: another mission's request is a 404
	if err != nil {
		return err
	}
	path := c.Params("action")
	action, offered := Actions[path]
	if !offered {
		return fiber.ErrNotFound
	}
	may := staffpolicy.May(m.Role, action)
	if !may.Permitted() {
		d.record(c.UserContext(), c, m, string(action), r.TrackingCode, audit.Refused, "not allowed for the role "+m.Role)
		return fiber.ErrForbidden
	}
	staffID := strconv.FormatInt(m.ID, 10)
	name := string(action) // the workflow's update of the same name
	var arg any
	detail := ""
	switch action {
	case staffpolicy.Attend, staffpolicy.NoShow, staffpolicy.Confirm:
		arg = request.StaffInput{StaffID: staffID}
	case staffpolicy.Decide:
		decision := consular.Status(c.FormValue("decision"))
		reason := strings.TrimSpace(c.FormValue("reason_code") + ": " + strings.TrimSpace(c.FormValue("reason")))
		reason = strings.Trim(reason, ": ")
		if decision != consular.StatusRejected {
			reason = strings.TrimSpace(c.FormValue("reason"))
		}
		detail = string(decision)
		// An officer's decision is a proposal: the workflow holds it for a
		// supervisor where the service's four-eyes rule says so.
		arg = request.Decision{Decision: decision, Reason: reason, StaffID: staffID, Confirmed: may == staffpolicy.Allowed}
	case staffpolicy.Extend:
		days, _ := strconv.Atoi(c.FormValue("days"))
		arg = request.ExtendInput{Days: days, Reason: strings.TrimSpace(c.FormValue("reason")), StaffID: staffID}
		detail = c.FormValue("days") + " days"
	case staffpolicy.Note:
		d.record(c.UserContext(), c, m, name, r.TrackingCode, audit.OK, strings.TrimSpace(c.FormValue("note")))
		return c.Redirect("/staff/requests/"+r.TrackingCode+"?notice=staff.noted", fiber.StatusSeeOther)
	}
	if c.FormValue("confirmed") != "yes" {
		return d.confirmAction(c, m, r, path)
	}
	actionID := strings.Clone(c.FormValue("_action_id"))
	if actionID == "" {
		actionID = randomID()
	}
	_, err = request.Act(c.UserContext(), d.Temporal, r.TrackingCode, name, name+":"+actionID, arg)
	if answer, ok := web.AnswerFor(err, true); ok { // the workflow's no, or the request has ended
		pg := d.page(c, "staff.detail.title", nil)
		reason := answer.Reason
		if reason == "" {
			reason = pg.T(answer.Key, answer.Args...)
		}
		shown := reason
		if refused := (*request.RefusedError)(nil); errors.As(err, &refused) {
			shown = refusalWords(pg, r, refused) // the audit keeps the workflow's own words
		}
		d.record(c.UserContext(), c, m, name, r.TrackingCode, audit.Refused, reason)
		d.deskPage(c, pg, m, r, shown, nil)
		pg.Notice = "staff.refused"
		return d.Render.Render(c, answer.Status, "staff_detail", pg)
	}
	switch {
	case err != nil:
		d.record(c.UserContext(), c, m, name, r.TrackingCode, audit.Failed, err.Error())
		return err
	}
	d.record(c.UserContext(), c, m, name, r.TrackingCode, audit.OK, detail)
	return c.Redirect("/staff/requests/"+r.TrackingCode+"?notice=staff.done", fiber.StatusSeeOther)
}

type confirmData struct {
	Request Detail
	Action  string
	Label   string         // the action's button text, a message key
	Fields  []confirmField // what was posted, carried over as hidden fields
	Summary []confirmField // what the officer is about to do, to read before confirming
}

type confirmField struct{ Name, Value string }

// confirmAction asks the officer to confirm an action before it goes to the
// workflow: what will happen, to which request, with the posted values
// carried over so confirming sends exactly what the form held.
func (d *Dashboard) confirmAction(c *fiber.Ctx, m Member, r Detail, action string) error {
	labels := map[string]string{"attendance": "staff.attendance", "no-show": "staff.no_show", "decision": "staff.decide",
		"confirm": "staff.confirm", "extension": "staff.extend"}
	data := &confirmData{Request: r, Action: action, Label: labels[action]}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if name := string(k); name != "_csrf" && name != "confirmed" {
			data.Fields = append(data.Fields, confirmField{name, string(v)})
		}
	})
	for _, f := range data.Fields {
		switch f.Name {
		case "decision", "reason_code", "reason", "days":
			if f.Value != "" {
				data.Summary = append(data.Summary, f)
			}
		}
	}
	return d.Render.Render(c, fiber.StatusOK, "staff_confirm", d.page(c, "staff.confirm_action.title", data))
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At                                             time.Time
	Email, Role, Action, Code, IP, Outcome, Detail string
	Mission                                        *string
}

type auditData struct {
	Member   Member
	Filter   AuditFilter
	Entries  []AuditEntry
	Actions  []string
	Outcomes []string
	Next     string // the query string of the next (older) page
}

// AuditFilter is the audit page's filters, as its query string carries them.
type AuditFilter struct {
	Action, Email, Code, Outcome string
	From, To                     string // YYYY-MM-DD, in UTC
	Before                       int64  // keyset: entries older than this ID
}

// auditActions are the actions the log records, for the page's filter.
var auditActions = []string{"sign_in", "enrol", "record_attendance", "mark_no_show", "decide", "confirm_decision", "extend_deadline", "note", "correct_request",
	"book_appointment", "reschedule_appointment", "cancel_appointment", "withdraw",
	"staff_add", "staff_disable", "staff_enable", "staff_unlock", "staff_reinvite", "staff_invite", "schedule_set", "closure_add", "closure_remove",
	"api_client_add", "api_client_revoke", "submit"}

const auditPage = 100

// audit shows supervisors their mission's log, admins everyone's, newest
// first, filtered by action, staff email, tracking code, outcome and days.
func (d *Dashboard) audit(c *fiber.Ctx, m Member) error {
	if m.Role == Officer {
		return fiber.ErrForbidden
	}
	f := AuditFilter{Action: c.Query("action"), Email: strings.ToLower(strings.TrimSpace(c.Query("email"))), Code: strings.TrimSpace(consular.NormalizeDigits(c.Query("code"))),
		Outcome: c.Query("outcome"), From: c.Query("from"), To: c.Query("to")}
	f.Before, _ = strconv.ParseInt(c.Query("before"), 10, 64)
	date := func(s string) *string {
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return nil
		}
		return &s
	}
	rows, err := d.DB.Query(c.UserContext(), `SELECT id, at, staff_email, role, mission_code, action, COALESCE(tracking_code, ''), source_ip, outcome, detail
		FROM audit_log
		WHERE ($1::text IS NULL OR mission_code = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR staff_email = $3)
		  AND ($4 = '' OR tracking_code = $4) AND ($5 = '' OR outcome = $5)
		  AND ($6::date IS NULL OR at >= $6::date) AND ($7::date IS NULL OR at < $7::date + 1)
		  AND ($8 = 0 OR id < $8)
		ORDER BY id DESC LIMIT $9`,
		m.scope(), f.Action, f.Email, f.Code, f.Outcome, date(f.From), date(f.To), f.Before, auditPage)
	if err != nil {
		return err
	}
	var ids []int64
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var id int64
		err := row.Scan(&id, &e.At, &e.Email, &e.Role, &e.Mission, &e.Action, &e.Code, &e.IP, &e.Outcome, &e.Detail)
		ids = append(ids, id)
		return e, err
	})
	if err != nil {
		return err
	}
	data := &auditData{Member: m, Filter: f, Entries: entries, Actions: auditActions, Outcomes: []string{"ok", "refused", "failed", "locked", "disabled"}}
	if len(ids) == auditPage {
		q := c.Context().QueryArgs()
		q.Set("before", strconv.FormatInt(ids[len(ids)-1], 10))
		data.Next = string(q.QueryString())
	}
	return d.Render.Render(c, fiber.StatusOK, "staff_audit", d.page(c, "staff.audit.title", data))
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

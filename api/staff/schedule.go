package staff

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/schedule"
)

// isoDays are the weekdays as the page lists them, Monday first; the
// catalogue names them "weekday.1" (Monday) to "weekday.7" (Sunday).
var isoDays = []int{1, 2, 3, 4, 5, 6, 7}

// TemplateForm is one weekly template as the page shows and posts it.
type TemplateForm struct {
	N                     int            // its number on the page, from 1
	Days                  map[int]string // ISO weekday -> "09:00-12:30, 14:00-16:00"
	SlotMinutes, Capacity string
	Services              map[string]bool // none ticked: every service
	ValidFrom, ValidUntil string
	Error                 string // why the template was refused, as the check said it
}

type scheduleData struct {
	Member    Member
	Mission   string // the mission whose schedule this is
	Missions  []MissionChoice
	Templates []TemplateForm
	Closures  []appointments.ClosureRow
	Stranded  []appointments.Stranded // bookings the saved templates no longer offer
	Services  []consular.Service
	Days      []int
	Zone      string
}

// scheduleMission is the mission a supervisor's schedule pages work on (their
// own) or, for an admin, the one they chose; "" when an admin has not chosen.
func (d *Dashboard) scheduleMission(c *fiber.Ctx, m Member) (string, error) {
	switch m.Role {
	case Supervisor:
		return m.Mission, nil
	case Admin:
		mission := c.Query("mission", c.FormValue("mission"))
		if mission == "" {
			return "", nil
		}
		var exists bool
		if err := d.DB.QueryRow(c.UserContext(), "SELECT true FROM missions WHERE code = $1", mission).Scan(&exists); errors.Is(err, pgx.ErrNoRows) {
			return "", fiber.ErrNotFound
		} else if err != nil {
			return "", err
		}
		return mission, nil
	}
	return "", fiber.ErrForbidden
}

func (d *Dashboard) schedulePage(c *fiber.Ctx, m Member) error {
	mission, err := d.scheduleMission(c, m)
	if err != nil {
		return err
	}
	notice := map[string]string{"saved": "staff.schedule.saved", "closed": "staff.schedule.closed", "reopened": "staff.schedule.reopened"}[c.Query("notice")]
	return d.renderSchedule(c, m, mission, fiber.StatusOK, nil, nil, web.NewForm(), notice)
}

// renderSchedule draws the page; templates are the stored ones unless the
// page is redrawn with what was posted.
func (d *Dashboard) renderSchedule(c *fiber.Ctx, m Member, mission string, status int, templates []TemplateForm, stranded []appointments.Stranded, form *web.Form, notice string) error {
	ctx := c.UserContext()
	data := &scheduleData{Member: m, Mission: mission, Services: consular.Services, Days: isoDays, Stranded: stranded}
	if m.Role == Admin {
		rows, err := d.DB.Query(ctx, "SELECT code, name_fa, name_en FROM missions ORDER BY code")
		if err != nil {
			return err
		}
		if data.Missions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[MissionChoice]); err != nil {
			return err
		}
	}
	if mission != "" {
		if err := d.DB.QueryRow(ctx, "SELECT time_zone FROM missions WHERE code = $1", mission).Scan(&data.Zone); err != nil {
			return err
		}
		if templates == nil {
			stored, err := appointments.Templates(ctx, d.DB, mission)
			if err != nil {
				return err
			}
			for _, t := range stored {
				templates = append(templates, templateForm(t))
			}
			templates = append(templates, TemplateForm{Days: map[int]string{}, Services: map[string]bool{}}) // room for one more
		}
		for i := range templates {
			templates[i].N = i + 1
		}
		data.Templates = templates
		loc, err := time.LoadLocation(data.Zone)
		if err != nil {
			return err
		}
		if data.Closures, err = appointments.Closures(ctx, d.DB, mission, schedule.DateOf(time.Now().In(loc))); err != nil {
			return err
		}
	}
	pg := d.page(c, "staff.schedule.title", data)
	pg.Form, pg.Notice = form, notice
	return d.Render.Render(c, status, "staff_schedule", pg)
}

// templateForm writes a stored template the way the page shows it.
func templateForm(t appointments.TemplateInput) TemplateForm {
	f := TemplateForm{Days: map[int]string{}, Services: map[string]bool{}, SlotMinutes: strconv.Itoa(t.SlotMinutes),
		Capacity: strconv.Itoa(t.Capacity), ValidFrom: t.ValidFrom, ValidUntil: t.ValidUntil}
	var raw map[string][][2]string
	_ = json.Unmarshal(t.Weekdays, &raw) // written by SetTemplates, which checked it
	for day, periods := range raw {
		n, _ := strconv.Atoi(day)
		var parts []string
		for _, p := range periods {
			parts = append(parts, p[0]+"-"+p[1])
		}
		f.Days[n] = strings.Join(parts, ", ")
	}
	for _, s := range t.Services {
		f.Services[s] = true
	}
	return f
}

// saveTemplates replaces the mission's templates with the posted ones; a
// template whose days are all empty is left out (that is how one is
// removed). Nothing is saved unless every template is right, and the page
// then keeps everything as typed.
func (d *Dashboard) saveTemplates(c *fiber.Ctx, m Member) error {
	mission, err := d.scheduleMission(c, m)
	if err != nil {
		return err
	}
	if mission == "" {
		return fiber.ErrNotFound
	}
	n, _ := strconv.Atoi(c.FormValue("templates"))
	if n < 0 || n > 20 {
		return fiber.ErrBadRequest
	}
	var forms []TemplateForm
	var inputs []appointments.TemplateInput
	failed := false
	for i := range n {
		field := func(name string) string {
			return strings.TrimSpace(consular.NormalizeDigits(c.FormValue(fmt.Sprintf("t%d.%s", i, name))))
		}
		f := TemplateForm{Days: map[int]string{}, Services: map[string]bool{}, SlotMinutes: field("slot_minutes"),
			Capacity: field("capacity"), ValidFrom: field("valid_from"), ValidUntil: field("valid_until")}
		for _, s := range c.Request().PostArgs().PeekMulti(fmt.Sprintf("t%d.services", i)) {
			f.Services[string(s)] = true
		}
		weekdays := map[string][][2]string{}
		for _, day := range isoDays {
			f.Days[day] = field("day" + strconv.Itoa(day))
			periods, err := parsePeriods(f.Days[day])
			if err != nil && f.Error == "" {
				f.Error = err.Error()
			}
			if len(periods) > 0 {
				weekdays[strconv.Itoa(day)] = periods
			}
		}
		forms = append(forms, f)
		if len(weekdays) == 0 && f.Error == "" {
			continue // an empty template: removed, or the spare one left blank
		}
		in := appointments.TemplateInput{ValidFrom: f.ValidFrom, ValidUntil: f.ValidUntil}
		in.Weekdays, _ = json.Marshal(weekdays)
		in.SlotMinutes, _ = strconv.Atoi(f.SlotMinutes)
		in.Capacity, _ = strconv.Atoi(f.Capacity)
		for _, s := range consular.Services {
			if f.Services[s.Code] {
				in.Services = append(in.Services, s.Code)
			}
		}
		if f.Error == "" {
			if _, err := in.Template(int64(i + 1)); err != nil {
				f.Error = err.Error()
			}
		}
		if f.Error != "" {
			forms[len(forms)-1].Error = f.Error
			failed = true
		}
		inputs = append(inputs, in)
	}
	if failed {
		form := web.NewForm()
		form.Fail("templates", "staff.schedule.invalid")
		return d.renderSchedule(c, m, mission, fiber.StatusUnprocessableEntity, forms, nil, form, "")
	}
	stranded, err := appointments.SetTemplates(c.UserContext(), d.DB, mission, inputs)
	if err != nil {
		return err
	}
	d.record(c.UserContext(), c, Member{ID: m.ID, Email: m.Email, Role: m.Role, Mission: mission}, "schedule_set", "", "ok",
		fmt.Sprintf("%d template(s), %d booking(s) outside", len(inputs), len(stranded)))
	if len(stranded) > 0 {
		return d.renderSchedule(c, m, mission, fiber.StatusOK, nil, stranded, web.NewForm(), "staff.schedule.saved")
	}
	return c.Redirect(d.scheduleURL(m, mission, "saved"), fiber.StatusSeeOther)
}

func (d *Dashboard) scheduleURL(m Member, mission, notice string) string {
	u := "/staff/schedule?notice=" + notice
	if m.Role == Admin {
		u += "&mission=" + mission
	}
	return u
}

// parsePeriods reads "09:00-12:30, 14:00-16:00".
func parsePeriods(s string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '،' || r == ';' || r == '؛' }) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		start, end, ok := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := schedule.ParseClock(strings.TrimSpace(start))
		b, err2 := schedule.ParseClock(strings.TrimSpace(end))
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: want periods like 09:00-12:30, 14:00-16:00", strings.TrimSpace(part))
		}
		out = append(out, [2]string{a.String(), b.String()})
	}
	return out, nil
}

// addClosure closes the mission on a day, or between two times of it.
func (d *Dashboard) addClosure(c *fiber.Ctx, m Member) error {
	mission, err := d.scheduleMission(c, m)
	if err != nil {
		return err
	}
	if mission == "" {
		return fiber.ErrNotFound
	}
	form := web.NewForm()
	for _, k := range []string{"closure_day", "closure_start", "closure_end", "closure_reason"} {
		form.Values[k] = strings.TrimSpace(consular.NormalizeDigits(c.FormValue(k)))
	}
	var cl schedule.Closure
	if cl.Date, err = schedule.ParseDate(form.Values["closure_day"]); err != nil {
		form.Fail("closure_day", "error.date")
	}
	if form.Values["closure_start"] != "" || form.Values["closure_end"] != "" {
		var err1, err2 error
		cl.Start, err1 = schedule.ParseClock(form.Values["closure_start"])
		cl.End, err2 = schedule.ParseClock(form.Values["closure_end"])
		if err1 != nil || err2 != nil || cl.Start >= cl.End {
			form.Fail("closure_start", "staff.schedule.bad_times")
		}
	}
	if cl.Reason = form.Values["closure_reason"]; cl.Reason == "" {
		form.Fail("closure_reason", "error.required")
	}
	if form.OK() {
		if err := cl.Validate(); err != nil {
			form.Fail("closure_day", "error.date")
		}
	}
	if !form.OK() {
		return d.renderSchedule(c, m, mission, fiber.StatusUnprocessableEntity, nil, nil, form, "")
	}
	booked, err := appointments.AddClosure(c.UserContext(), d.DB, mission, cl)
	if err != nil {
		return err
	}
	d.record(c.UserContext(), c, Member{ID: m.ID, Email: m.Email, Role: m.Role, Mission: mission}, "closure_add", "", "ok",
		fmt.Sprintf("%s %s-%s %s; %d booked", cl.Date, form.Values["closure_start"], form.Values["closure_end"], cl.Reason, booked))
	return c.Redirect(d.scheduleURL(m, mission, "closed"), fiber.StatusSeeOther)
}

// removeClosure reopens a closed day of the mission.
func (d *Dashboard) removeClosure(c *fiber.Ctx, m Member) error {
	mission, err := d.scheduleMission(c, m)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || mission == "" {
		return fiber.ErrNotFound
	}
	found, err := appointments.RemoveClosure(c.UserContext(), d.DB, mission, id)
	if err != nil {
		return err
	}
	if !found {
		return fiber.ErrNotFound
	}
	d.record(c.UserContext(), c, Member{ID: m.ID, Email: m.Email, Role: m.Role, Mission: mission}, "closure_remove", "", "ok", strconv.FormatInt(id, 10))
	return c.Redirect(d.scheduleURL(m, mission, "reopened"), fiber.StatusSeeOther)
}

package portal

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/i18n"
)

// The profile: who the applicant is and where they live, asked once in a
// three-step wizard and copied into every request they submit.
var (
	identityFields = []web.Spec{
		{Name: "first_name_fa", Type: "text", Required: true, MaxLength: 60},
		{Name: "last_name_fa", Type: "text", Required: true, MaxLength: 60},
		{Name: "first_name_en", Type: "text", Required: true, MaxLength: 60},
		{Name: "last_name_en", Type: "text", Required: true, MaxLength: 60},
		{Name: "father_name", Type: "text", Required: true, MaxLength: 60},
		{Name: "birth_certificate_number", Type: "text", Required: true, MaxLength: 10},
		{Name: "birth_date", Type: "date", Required: true},
		{Name: "birth_place", Type: "text", Required: true, MaxLength: 80},
		{Name: "gender", Type: "select", Required: true, Options: []string{"female", "male"}},
		{Name: "marital_status", Type: "select", Options: []string{"single", "married", "divorced", "widowed"}},
		{Name: "education", Type: "select", Options: []string{"none", "primary", "secondary", "diploma", "associate", "bachelor", "master", "doctorate"}},
		{Name: "occupation", Type: "text", MaxLength: 80},
	}
	identityDocuments = []consular.DocumentSpec{
		{Kind: "passport", Required: true},
		{Kind: "birth_certificate", Required: true},
	}
	residenceFields = []web.Spec{
		{Name: "country", Type: "text", Required: true, MaxLength: 60},
		{Name: "city", Type: "text", Required: true, MaxLength: 60},
		{Name: "address", Type: "textarea", Required: true, MaxLength: 300},
		{Name: "residence_type", Type: "select", Required: true, Options: []string{"citizen", "permanent_resident", "temporary", "student", "refugee", "other"}},
		{Name: "residence_since", Type: "date", Required: true},
		{Name: "phone", Type: "tel", Required: true, MaxLength: 25},
	}
)

var steps = []string{"identity", "residence", "review"}

// stepData is what a wizard page shows.
type stepData struct {
	Step      string
	Steps     []string
	Fields    []web.Spec
	Documents []consular.DocumentSpec
	Uploaded  map[string]Upload
	Identity  map[string]string
	Residence map[string]string
	CaptchaID string
	Complete  bool
}

// profile is the stored profile.
type profile struct {
	Identity  map[string]string
	Residence map[string]string
	Complete  bool
}

func (p *Portal) loadProfile(ctx context.Context, accountID int64) (profile, error) {
	pr := profile{Identity: map[string]string{}, Residence: map[string]string{}}
	var identity, residence []byte
	err := p.DB.QueryRow(ctx, `SELECT identity, residence, completed_at IS NOT NULL FROM profiles WHERE account_id = $1`, accountID).
		Scan(&identity, &residence, &pr.Complete)
	if err != nil {
		return pr, nil // no profile yet: an empty one
	}
	_ = json.Unmarshal(identity, &pr.Identity)
	_ = json.Unmarshal(residence, &pr.Residence)
	return pr, nil
}

func (p *Portal) profileStep(c *fiber.Ctx) error {
	step := c.Params("step")
	if !validStep(step) {
		return fiber.ErrNotFound
	}
	accountID := web.Current(c).AccountID
	pr, err := p.loadProfile(c.UserContext(), accountID)
	if err != nil {
		return err
	}
	form := web.NewForm()
	values := pr.Identity
	if step == "residence" {
		values = pr.Residence
	}
	for k, v := range values {
		form.Values[k] = v
	}
	displayDates(form, identityFields, language(c))
	displayDates(form, residenceFields, language(c))
	if p.resume(c, form) {
		return p.renderStep(c, fiber.StatusOK, step, form, pr, "session.resumed")
	}
	return p.renderStep(c, fiber.StatusOK, step, form, pr, "")
}

func validStep(step string) bool {
	for _, s := range steps {
		if s == step {
			return true
		}
	}
	return false
}

func (p *Portal) renderStep(c *fiber.Ctx, status int, step string, form *web.Form, pr profile, notice string) error {
	ctx := c.UserContext()
	accountID := web.Current(c).AccountID
	data := &stepData{Step: step, Steps: steps, Identity: pr.Identity, Residence: pr.Residence, Complete: pr.Complete}
	switch step {
	case "identity":
		data.Fields, data.Documents = identityFields, identityDocuments
	case "residence":
		data.Fields = residenceFields
	case "review":
		id, err := p.Captchas.New(ctx)
		if err != nil {
			return err
		}
		data.CaptchaID = id
		data.Fields = append(append([]web.Spec{}, identityFields...), residenceFields...)
		data.Documents = identityDocuments
	}
	uploaded, err := p.uploads(ctx, accountID, "profile")
	if err != nil {
		return err
	}
	data.Uploaded = uploaded
	pg := p.page(c, "profile."+step+".title", data)
	pg.Form = form
	pg.Notice = notice
	return p.Render.Render(c, status, "profile", pg)
}

// saveProfileStep keeps what was typed, valid or not (save and resume), then
// shows the errors or moves to the next step.
func (p *Portal) saveProfileStep(c *fiber.Ctx) error {
	ctx := c.UserContext()
	step := c.Params("step")
	if !validStep(step) {
		return fiber.ErrNotFound
	}
	accountID := web.Current(c).AccountID
	lang := language(c)
	pr, err := p.loadProfile(ctx, accountID)
	if err != nil {
		return err
	}
	form := web.NewForm()
	switch step {
	case "identity":
		allowed := map[string]bool{}
		for _, d := range identityDocuments {
			allowed[d.Kind] = true
		}
		mf, err := p.readMultipart(c, accountID, "profile", allowed)
		if err != nil {
			return err
		}
		pr.Identity = check(form, identityFields, mf.Values, lang)
		uploaded, err := p.uploads(ctx, accountID, "profile")
		if err != nil {
			return err
		}
		checkDocuments(form, identityDocuments, mf.Problems, uploaded, lang)
	case "residence":
		values := map[string]string{}
		for _, f := range residenceFields {
			values[f.Name] = c.FormValue(f.Name)
		}
		pr.Residence = check(form, residenceFields, values, lang)
	case "review":
		if !p.Captchas.Verify(ctx, c.FormValue("captcha_id"), c.FormValue("captcha")) {
			form.Fail("captcha", "error.captcha")
		}
		complete, err := p.complete(ctx, accountID, pr)
		if err != nil {
			return err
		}
		if !complete {
			form.Fail("captcha", "error.profile_incomplete")
		}
	}
	identity, _ := json.Marshal(pr.Identity)
	residence, _ := json.Marshal(pr.Residence)
	completed := step == "review" && form.OK()
	if _, err := p.DB.Exec(ctx, `INSERT INTO profiles (account_id, identity, residence, completed_at, updated_at)
		VALUES ($1, $2, $3, CASE WHEN $4 THEN now() END, now())
		ON CONFLICT (account_id) DO UPDATE SET identity = EXCLUDED.identity, residence = EXCLUDED.residence,
		completed_at = CASE WHEN $4 THEN now() ELSE profiles.completed_at END, updated_at = now()`,
		accountID, identity, residence, completed); err != nil {
		return err
	}
	if !form.OK() {
		for k, v := range pr.Identity {
			if _, typed := form.Values[k]; !typed && step != "residence" {
				form.Values[k] = v
			}
		}
		displayDates(form, identityFields, lang)
		displayDates(form, residenceFields, lang)
		return p.renderStep(c, fiber.StatusUnprocessableEntity, step, form, pr, "")
	}
	switch step {
	case "identity":
		return c.Redirect("/profile/residence", fiber.StatusSeeOther)
	case "residence":
		return c.Redirect("/profile/review", fiber.StatusSeeOther)
	}
	pg := p.page(c, "profile.done.title", nil)
	return p.Render.Render(c, fiber.StatusOK, "profile_done", pg)
}

// afterProfile follows the confirmed profile's one question, the tick box
// "I want to set a fixed password": ticked, to the password page; else on
// to the services. (A GET form: it changes nothing, so no CSRF token.)
func (p *Portal) afterProfile(c *fiber.Ctx) error {
	if c.Query("fixed_password") == "yes" {
		return c.Redirect("/account/password", fiber.StatusSeeOther)
	}
	return c.Redirect("/services", fiber.StatusSeeOther)
}

// complete reports whether every step holds: the profile may be confirmed.
func (p *Portal) complete(ctx context.Context, accountID int64, pr profile) (bool, error) {
	probe := web.NewForm()
	check(probe, identityFields, pr.Identity, "")
	check(probe, residenceFields, pr.Residence, "")
	uploaded, err := p.uploads(ctx, accountID, "profile")
	if err != nil {
		return false, err
	}
	checkDocuments(probe, identityDocuments, nil, uploaded, "")
	return probe.OK(), nil
}

// check validates values against specs, records errors in form, keeps what
// was typed in form.Values, and returns the values to store (dates as
// YYYY-MM-DD, so they read back in either calendar).
func check(form *web.Form, specs []web.Spec, values map[string]string, lang string) map[string]string {
	stored := map[string]string{}
	for _, s := range specs {
		v := strings.TrimSpace(values[s.Name])
		form.Values[s.Name] = v
		switch {
		case v == "" && s.Required:
			form.Fail(s.Name, "error.required")
			continue
		case v == "":
			continue
		case s.MaxLength > 0 && len([]rune(v)) > s.MaxLength:
			form.Fail(s.Name, "error.too_long", s.MaxLength)
		case s.Type == "select" && !contains(s.Options, v):
			form.Fail(s.Name, "error.choose")
		case s.Type == "date":
			d, err := i18n.ParseDate(v, orDefault(lang))
			if err != nil {
				form.Fail(s.Name, "error.date")
				continue
			}
			if d.After(time.Now()) {
				form.Fail(s.Name, "error.date_future")
				continue
			}
			v = d.Format("2006-01-02")
		case s.Type == "tel" && !phoneLike(v):
			form.Fail(s.Name, "error.phone")
		case strings.HasSuffix(s.Name, "_en") && !latinName(v):
			form.Fail(s.Name, "error.latin")
		case s.Name == "birth_certificate_number" && !digitsOnly(consular.NormalizeDigits(v)):
			form.Fail(s.Name, "error.digits")
		}
		if s.Name == "birth_certificate_number" {
			v = consular.NormalizeDigits(v)
		}
		stored[s.Name] = v
	}
	return stored
}

// checkDocuments records a refused upload's reason, or a required document missing.
func checkDocuments(form *web.Form, specs []consular.DocumentSpec, problems map[string]*documents.Problem, uploaded map[string]Upload, lang string) {
	for _, d := range specs {
		field := "document." + d.Kind
		if pr, ok := problems[d.Kind]; ok {
			form.Fail(field, "error.document", web.Literal(pr.Message(orDefault(lang)))) // worded and digited already: its file name keeps its digits
			continue
		}
		if _, ok := uploaded[d.Kind]; !ok && d.Required {
			form.Fail(field, "error.document_required")
		}
	}
}

// displayDates shows stored dates in the page's calendar.
func displayDates(form *web.Form, specs []web.Spec, lang string) {
	for _, s := range specs {
		if s.Type != "date" {
			continue
		}
		if t, err := time.Parse("2006-01-02", form.Values[s.Name]); err == nil {
			form.Values[s.Name] = i18n.InputDate(t, lang)
		}
	}
}

func orDefault(lang string) string {
	if lang == "" {
		return i18n.English // stored values are YYYY-MM-DD
	}
	return lang
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func phoneLike(s string) bool {
	digits := 0
	for _, r := range consular.NormalizeDigits(s) {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() ", r):
		default:
			return false
		}
	}
	return digits >= 6 && digits <= 18
}

func latinName(s string) bool {
	for _, r := range s {
		if !(r < unicode.MaxLatin1 && unicode.IsLetter(r)) && !strings.ContainsRune(" -'.", r) && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return true
}

func digitsOnly(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

package portal

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/submission"
)

// category is one group of the catalogue.
type category struct {
	Code     string
	Services []consular.Service
}

func (p *Portal) catalogue(c *fiber.Ctx) error {
	var groups []category
	for _, code := range consular.Categories {
		g := category{Code: code}
		for _, s := range consular.Services {
			if s.Category == code {
				g.Services = append(g.Services, s)
			}
		}
		groups = append(groups, g)
	}
	return p.Render.Render(c, fiber.StatusOK, "services", p.page(c, "services.title", groups))
}

// applyData is what the request form shows.
type applyData struct {
	Service   consular.Service
	Name      string
	Draft     string
	Fields    []web.Spec
	Documents []consular.DocumentSpec
	Uploaded  map[string]Upload
	CaptchaID string
	Action    string
	DraftDays int // an unsubmitted draft is deleted this many days after its last change
	// Country names the applicant's country of residence when the missions
	// offered are those serving it; AllMissions shows them all.
	Country     string
	AllMissions string
	// Only is the one mission serving the applicant's country, whose
	// address and hours the form shows.
	Only     string
	OnlyName consular.Text
}

// draft is a request being filled in: what was typed and uploaded so far.
type draft struct {
	ID           string
	Fields       map[string]string
	TrackingCode string
}

// openDraft returns the applicant's draft for the service: the one named by
// the form when it is theirs, else the open one, else a new one.
func (p *Portal) openDraft(ctx context.Context, accountID int64, service, id string) (draft, error) {
	d := draft{Fields: map[string]string{}}
	var fields []byte
	var code *string
	err := p.DB.QueryRow(ctx, `SELECT id, fields, tracking_code FROM request_drafts
		WHERE account_id = $1 AND service_code = $2 AND (id::text = $3 OR ($3 = '' AND tracking_code IS NULL))
		ORDER BY updated_at DESC LIMIT 1`, accountID, service, id).Scan(&d.ID, &fields, &code)
	if err == nil {
		if code != nil {
			d.TrackingCode = *code
		}
		return d, json.Unmarshal(fields, &d.Fields)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return d, err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return d, err
	}
	raw[6], raw[8] = raw[6]&0x0f|0x40, raw[8]&0x3f|0x80 // a version 4 UUID
	d.ID = fmt.Sprintf("%x-%x-%x-%x-%x", raw[0:4], raw[4:6], raw[6:8], raw[8:10], raw[10:16])
	_, err = p.DB.Exec(ctx, `INSERT INTO request_drafts (id, account_id, service_code) VALUES ($1, $2, $3)
		ON CONFLICT (account_id, service_code) WHERE tracking_code IS NULL DO NOTHING`, d.ID, accountID, service)
	if err != nil {
		return d, err
	}
	return p.openDraft(ctx, accountID, service, "") // the one that exists now, ours or a concurrent twin
}

func serviceSpecs(s consular.Service) []web.Spec {
	specs := make([]web.Spec, 0, len(s.Fields))
	for _, f := range s.Fields {
		spec := web.Spec{Name: f.Name, Type: f.Type, Required: f.Required, MaxLength: f.MaxLength, Label: &f.Label, Hint: f.Hint}
		switch f.Type {
		case "future_date", "date_any":
			spec.Type = "date"
		case "year", "national_id":
			spec.Type = "text"
		}
		if len(f.Options) > 0 {
			spec.OptionLabels = map[string]consular.Text{}
			for _, o := range f.Options {
				spec.Options = append(spec.Options, o.Value)
				spec.OptionLabels[o.Value] = o.Label
			}
		}
		specs = append(specs, spec)
	}
	return specs
}

func (p *Portal) applyForm(c *fiber.Ctx) error {
	service, ok := consular.ServiceByCode(c.Params("service"))
	if !ok {
		return fiber.ErrNotFound
	}
	accountID := web.Current(c).AccountID
	if complete, err := p.profileComplete(c.UserContext(), accountID); err != nil {
		return err
	} else if !complete {
		return c.Redirect("/profile/identity", fiber.StatusSeeOther)
	}
	d, err := p.openDraft(c.UserContext(), accountID, service.Code, "")
	if err != nil {
		return err
	}
	form := web.NewForm()
	for k, v := range d.Fields {
		form.Values[k] = v
	}
	if p.resume(c, form) {
		return p.renderApply(c, fiber.StatusOK, service, d, form, "session.resumed")
	}
	return p.renderApply(c, fiber.StatusOK, service, d, form, "")
}

func (p *Portal) profileComplete(ctx context.Context, accountID int64) (bool, error) {
	var complete bool
	err := p.DB.QueryRow(ctx, "SELECT completed_at IS NOT NULL FROM profiles WHERE account_id = $1", accountID).Scan(&complete)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return complete, err
}

// missionOptions lists the open missions in the page's language.
func (p *Portal) missionOptions(ctx context.Context, lang string) (web.Spec, error) {
	spec := web.Spec{Name: "mission", Type: "select", Required: true, OptionLabels: map[string]consular.Text{}}
	rows, err := p.DB.Query(ctx, `SELECT code, name_fa, name_en FROM missions WHERE active ORDER BY CASE WHEN $1 = 'fa' THEN name_fa ELSE name_en END`, lang)
	if err != nil {
		return spec, err
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var name consular.Text
		if err := rows.Scan(&code, &name.Fa, &name.En); err != nil {
			return spec, err
		}
		spec.Options = append(spec.Options, code)
		spec.OptionLabels[code] = name
	}
	return spec, rows.Err()
}

func (p *Portal) renderApply(c *fiber.Ctx, status int, service consular.Service, d draft, form *web.Form, notice string) error {
	ctx := c.UserContext()
	lang := language(c)
	missions, err := p.missionOptions(ctx, lang)
	if err != nil {
		return err
	}
	uploaded, err := p.uploads(ctx, web.Current(c).AccountID, d.ID)
	if err != nil {
		return err
	}
	captchaID, err := p.Captchas.New(ctx)
	if err != nil {
		return err
	}
	pr, err := p.loadProfile(ctx, web.Current(c).AccountID)
	if err != nil {
		return err
	}
	var country string
	missions.Options, country = narrowMissions(&consular.Missions, missions.Options, pr.Residence["country"], form.Values["mission"], c.Query("missions") == "all")
	if country != "" && len(missions.Options) == 1 && form.Values["mission"] == "" {
		form.Values["mission"] = missions.Options[0]
	}
	displayDates(form, serviceSpecs(service), lang)
	data := &applyData{Service: service, Name: service.Name.In(lang), Draft: d.ID, Documents: service.Documents, Uploaded: uploaded,
		Fields: append([]web.Spec{missions}, serviceSpecs(service)...), CaptchaID: captchaID,
		DraftDays: int(p.Config.Requests.DraftsKept.Hours() / 24)}
	if country != "" {
		names := consular.Missions.Countries[country]
		data.Country = consular.Text{Fa: names.Fa, En: names.En}.In(lang)
		data.AllMissions = fmt.Sprintf("/services/%s/apply?draft=%s&missions=all", service.Code, d.ID)
		if len(missions.Options) == 1 {
			data.Only = missions.Options[0]
			data.OnlyName = missions.OptionLabels[data.Only]
		}
	}
	pg := p.page(c, "apply.title", data)
	data.Action = fmt.Sprintf("/services/%s/apply?draft=%s&_csrf=%s", service.Code, d.ID, pg.CSRF)
	for _, f := range service.Fields {
		form.Labels[f.Name] = f.Label.In(lang)
	}
	for _, doc := range service.Documents {
		form.Labels["document."+doc.Kind] = doc.Name.In(lang)
	}
	pg.Form = form
	pg.Notice = notice
	return p.Render.Render(c, status, "apply", pg)
}

// apply keeps what was typed and uploaded, checks it all, and submits: the
// same path as the JSON API, with the draft's ID as idempotency key, so a
// double click or a resubmission after a timeout gives one request.
func (p *Portal) apply(c *fiber.Ctx) error {
	ctx := c.UserContext()
	service, ok := consular.ServiceByCode(c.Params("service"))
	if !ok {
		return fiber.ErrNotFound
	}
	accountID := web.Current(c).AccountID
	lang := language(c)
	d, err := p.openDraft(ctx, accountID, service.Code, strings.Clone(c.Query("draft")))
	if err != nil {
		return err
	}
	if d.TrackingCode != "" { // submitted already: show its success page again
		return c.Redirect(p.submittedURL(d.TrackingCode), fiber.StatusSeeOther)
	}
	allowed := map[string]bool{}
	for _, doc := range service.Documents {
		allowed[doc.Kind] = true
	}
	mf, err := p.readMultipart(c, accountID, d.ID, allowed)
	if err != nil {
		return err
	}
	uploaded, err := p.uploads(ctx, accountID, d.ID)
	if err != nil {
		return err
	}
	form := web.NewForm()
	stored, err := p.checkService(ctx, form, service, mf.Values, uploaded, mf.Problems, lang)
	if err != nil {
		return err
	}
	if !p.Captchas.Verify(ctx, mf.Values["captcha_id"], mf.Values["captcha"]) {
		form.Fail("captcha", "error.captcha")
	}
	fields, _ := json.Marshal(stored)
	if _, err := p.DB.Exec(ctx, "UPDATE request_drafts SET fields = $2, updated_at = now() WHERE id = $1", d.ID, fields); err != nil {
		return err
	}
	if !form.OK() {
		return p.renderApply(c, fiber.StatusUnprocessableEntity, service, d, form, "")
	}
	code, err := p.submit(ctx, accountID, lang, service, d, stored, uploaded)
	if answer, ok := web.AnswerFor(err, false); ok { // the mission closed since the check, or saved but not started
		failAll(form, answer.Problems)
		if answer.Problems == nil {
			answer.Fail(form, "captcha")
		}
		return p.renderApply(c, answer.Status, service, d, form, "")
	}
	if err != nil {
		return err
	}
	return c.Redirect(p.submittedURL(code), fiber.StatusSeeOther)
}

// checkService checks the mission, the service's fields and its documents
// with the check every submission passes (submission.Submitter.Validate runs
// it again on submitting), and words the problems from the catalogue. It
// returns the fields as they are kept, with the mission.
func (p *Portal) checkService(ctx context.Context, form *web.Form, service consular.Service, values map[string]string,
	uploaded map[string]Upload, refused map[string]*documents.Problem, lang string) (map[string]string, error) {
	mission := values["mission"]
	form.Values["mission"] = mission
	open, err := p.Submissions.MissionOpen(ctx, mission)
	if err != nil {
		return nil, err
	}
	answers := map[string]string{}
	for _, f := range service.Fields {
		answers[f.Name] = values[f.Name]
		form.Values[f.Name] = strings.TrimSpace(values[f.Name])
	}
	var kinds []string
	for kind := range uploaded {
		kinds = append(kinds, kind)
	}
	for kind := range refused {
		kinds = append(kinds, kind) // named below, with the reason it was refused
	}
	stored, problems := service.Check(consular.Application{Mission: mission, MissionOpen: open, Fields: answers, Documents: kinds,
		ParseDate: func(v string) (time.Time, error) { return i18n.ParseDate(v, lang) }})
	failAll(form, problems)
	for _, doc := range service.Documents {
		if pr, ok := refused[doc.Kind]; ok {
			form.Fail("document."+doc.Kind, "error.document", web.Literal(pr.Message(orDefault(lang)))) // worded and digited already: its file name keeps its digits
		}
	}
	stored["mission"] = mission
	return stored, nil
}

// failAll words the check's problems with the catalogue's keys.
func failAll(form *web.Form, problems []consular.Problem) {
	keys := map[string]string{consular.ReasonChoose: "error.choose", consular.ReasonNumber: "error.number",
		consular.ReasonNationalID: "error.national_id", consular.ReasonDate: "error.date", consular.ReasonDateFuture: "error.date_future",
		consular.ReasonDatePast: "error.date_past", consular.ReasonTooLong: "error.too_long", consular.ReasonPattern: "error.pattern",
		consular.ReasonMission: "error.mission"}
	for _, pr := range problems {
		key, ok := keys[pr.Reason]
		switch {
		case strings.HasPrefix(pr.Field, "document.") && pr.Reason == consular.ReasonRequired:
			key = "error.document_required"
		case !ok:
			key = "error.required"
		}
		args := make([]any, len(pr.Args))
		for i, a := range pr.Args {
			args[i] = a
		}
		form.Fail(pr.Field, key, args...)
	}
}

// submit copies the documents under the new request, with the profile's
// identity documents, and hands the application to the lifecycle.
func (p *Portal) submit(ctx context.Context, accountID int64, lang string, service consular.Service, d draft,
	fields map[string]string, uploaded map[string]Upload) (string, error) {
	var email, nationalID string
	if err := p.DB.QueryRow(ctx, "SELECT email, national_id FROM accounts WHERE id = $1", accountID).Scan(&email, &nationalID); err != nil {
		return "", err
	}
	pr, err := p.loadProfile(ctx, accountID)
	if err != nil {
		return "", err
	}
	identityDocs, err := p.uploads(ctx, accountID, "profile")
	if err != nil {
		return "", err
	}
	code, err := consular.NewTrackingCode()
	if err != nil {
		return "", err
	}
	name := pr.Identity["first_name_fa"] + " " + pr.Identity["last_name_fa"]
	if lang == i18n.English {
		name = pr.Identity["first_name_en"] + " " + pr.Identity["last_name_en"]
	}
	mission := fields["mission"]
	delete(fields, "mission")
	app := submission.Application{Caller: submission.AccountCaller(accountID), Key: "draft:" + d.ID, Code: code, Service: service.Code, Mission: mission,
		Applicant: submission.Applicant{NationalID: nationalID, Email: email, FullName: name, Language: lang,
			Identity: pr.Identity, Residence: pr.Residence, Form: fields}}
	bucket := p.Config.Storage.DocumentsBucket
	copyIn := func(into *[]submission.StoredDocument, kind string, u Upload) error {
		key := storage.DocumentKey(string(code), kind, u.Format)
		if _, err := p.Objects.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: key},
			minio.CopySrcOptions{Bucket: bucket, Object: u.ObjectKey}); err != nil {
			return fmt.Errorf("copy %s into the request: %w", kind, err)
		}
		*into = append(*into, submission.StoredDocument{Kind: kind, ObjectKey: key, FileName: u.FileName,
			Format: u.Format, Size: u.Size, SHA256: u.SHA256})
		return nil
	}
	for _, doc := range service.Documents {
		if u, ok := uploaded[doc.Kind]; ok {
			if err := copyIn(&app.Documents, doc.Kind, u); err != nil {
				return "", err
			}
		}
	}
	for _, doc := range identityDocuments {
		if u, ok := identityDocs[doc.Kind]; ok {
			if err := copyIn(&app.ProfileDocuments, "identity_"+doc.Kind, u); err != nil {
				return "", err
			}
		}
	}
	out, saved, err := p.Submissions.Submit(ctx, app)
	if !saved { // a twin submission won, or the check refused: these copies are not needed
		p.Submissions.Discard(code, slices.Concat(app.Documents, app.ProfileDocuments))
	}
	if err != nil {
		return "", err
	}
	if _, err := p.DB.Exec(ctx, "UPDATE request_drafts SET tracking_code = $2 WHERE id = $1", d.ID, out.TrackingCode); err != nil {
		return "", err
	}
	// The draft's uploads now live with the request; the portal keeps no view of it.
	for _, u := range uploaded {
		_ = p.Objects.RemoveObject(ctx, bucket, u.ObjectKey, minio.RemoveObjectOptions{})
	}
	_, _ = p.DB.Exec(ctx, "DELETE FROM uploads WHERE account_id = $1 AND owner = $2", accountID, d.ID)
	return out.TrackingCode, nil
}

// submittedFor is how long the success page can be opened: it is the
// answer to the submission, not a view of the request kept for later.
const submittedFor = time.Hour

func (p *Portal) submittedURL(code string) string {
	return "/submitted/" + code + "?token=" + submission.ReceiptToken(p.Config.Keys.Submitted, code, time.Now().Add(submittedFor))
}

// submittedData is the success page.
type submittedData struct {
	TrackingCode string
	Deadline     time.Time
	ReceiptURL   string
}

// submitted is the success page: the tracking code, the deadline, what to do
// next and the receipt. It is reachable only with the submission's token.
func (p *Portal) submitted(c *fiber.Ctx) error {
	code := strings.Clone(c.Params("code"))
	if !submission.TokenNames(p.Config.Keys.Submitted, c.Query("token"), code, time.Now()) {
		return fiber.ErrNotFound
	}
	out, err := p.Submissions.Find(c.UserContext(), code)
	if errors.Is(err, consular.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	data := &submittedData{TrackingCode: out.TrackingCode, Deadline: out.Deadline, ReceiptURL: out.ReceiptURL}
	return p.Render.Render(c, fiber.StatusOK, "submitted", p.page(c, "submitted.title", data))
}

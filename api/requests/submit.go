// Package requests is the versioned JSON API of consular requests
// (/api/v1/requests): it reads a client's multipart submission and hands it
// to package submission, serves the receipt download, and turns the staff
// and appointment actions into updates of the request's workflow. Domain
// outcomes are answered through the one table, web.AnswerFor.
package requests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/appointments"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/internal/submission"
)

// Handlers serve /api/v1/requests.
type Handlers struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Temporal client.Client
	Objects  *minio.Client
	Limits   *web.Limiter // each API client's submissions an hour
	Logger   *slog.Logger
	// Submissions saves applications and starts their workflows: the same
	// path as the portal's.
	Submissions *submission.Submitter
	// Appointments books, moves and cancels for staff through the same saga
	// and rules as the booking pages.
	Appointments *appointments.Booker
	Messages     web.Catalogue
}

// MaxDocuments bounds one submission; services ask for three or four.
const MaxDocuments = 8

// Register mounts the routes.
func (h *Handlers) Register(r fiber.Router) {
	v1 := r.Group("/api/v1/requests")
	v1.Post("/", h.clientOnly, h.submit)
	v1.Get("/:code/receipt", h.receipt)
	staff := v1.Group("/:code", h.staffOnly)
	staff.Get("/", h.status)
	staff.Post("/appointment", h.update(staffpolicy.Book, appointmentArgs))
	staff.Put("/appointment", h.update(staffpolicy.Reschedule, appointmentArgs))
	staff.Delete("/appointment", h.update(staffpolicy.Cancel, cancelArgs))
	staff.Post("/attendance", h.update(staffpolicy.Attend, staffArgs))
	staff.Post("/no-show", h.update(staffpolicy.NoShow, staffArgs))
	staff.Post("/decision", h.update(staffpolicy.Decide, decisionArgs))
	staff.Post("/decision/confirmation", h.update(staffpolicy.Confirm, staffArgs))
	staff.Post("/deadline-extension", h.update(staffpolicy.Extend, extensionArgs))
	staff.Post("/withdrawal", h.update(staffpolicy.Withdraw, withdrawalArgs))
	staff.Post("/corrections", h.update(staffpolicy.Correct, h.correctionArgs))
}

// Submitted is the answer to a submission, the same for its retries.
type Submitted struct {
	TrackingCode string    `json:"tracking_code"`
	Deadline     time.Time `json:"deadline"`
	ReceiptURL   string    `json:"receipt_url"`
}

func submitted(out submission.Submitted) Submitted {
	return Submitted{TrackingCode: out.TrackingCode, Deadline: out.Deadline, ReceiptURL: out.ReceiptURL}
}

// FieldError is one problem with the submission, named by its form field.
type FieldError struct {
	Field   string `json:"field"`
	Reason  string `json:"reason"`
	Message string `json:"message"`    // English
	Fa      string `json:"message_fa"` // Persian
}

// Invalid is the 422 answer: every problem at once, nothing stored.
type Invalid struct {
	Error  string       `json:"error"`
	Fields []FieldError `json:"fields"`
}

// form is what the client's multipart body carried, once read.
type form struct {
	caller     string
	key        string
	code       consular.TrackingCode
	service    consular.Service
	mission    string
	name       string
	email      string
	nationalID string
	language   string
	fields     map[string]string // the service's fields, sent as field.<name>
	documents  []submission.StoredDocument
	problems   []FieldError
}

// clientLocal holds the API client a submission comes from.
const clientLocal = "api_client"

// clientOnly admits a registered API client's token (see package
// apiclients), and nothing else, before the body is read: an anonymous or
// unknown caller gets 401 and nothing happens.
func (h *Handlers) clientOnly(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	client, err := apiclients.Authenticate(c.UserContext(), h.DB, strings.TrimSpace(token))
	if !ok {
		err = consular.ErrUnauthenticated
	}
	if answer, isOutcome := web.AnswerFor(err, false); isOutcome {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="consular api clients"`)
		return answer.JSON(c, h.Messages)
	}
	if err != nil {
		return err
	}
	c.Locals(clientLocal, client)
	return c.Next()
}

// audit writes a client's submission to the audit log; a failure to write
// it is logged loudly, never hidden.
func (h *Handlers) audit(c *fiber.Ctx, client apiclients.Client, mission, code, outcome, detail string) {
	if err := apiclients.Audit(c.UserContext(), h.DB, apiclients.Entry{Client: &client, Mission: mission, Action: "submit",
		Code: code, IP: c.IP(), Outcome: outcome, Detail: detail}); err != nil {
		h.Logger.ErrorContext(c.UserContext(), "audit log write failed", "action", "submit", "err", err)
	}
}

// submit reads the multipart form part by part: each document is checked
// and stored by package submission as it arrives, so memory holds one
// document at a time. On any problem the stored documents are deleted and
// the answer is 422 naming every field. A retry by the same client with the
// same Idempotency-Key answers with the same tracking code, and the request
// has exactly one workflow; another client's key is another request.
func (h *Handlers) submit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	client := c.Locals(clientLocal).(apiclients.Client)
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	if key == "" || len(key) > 200 {
		return fiber.NewError(fiber.StatusBadRequest, "the Idempotency-Key header is required (at most 200 characters): send the same key when you retry")
	}
	key = strings.Clone(key)
	// Every call counts, retries included: they cost a lookup and a start.
	allowed, until, err := h.Limits.Allow(ctx, "api_client:"+strconv.FormatInt(client.ID, 10), client.PerHour, time.Hour)
	if err != nil {
		return err
	}
	if !allowed {
		h.audit(c, client, "", "", "refused", "rate: over "+strconv.Itoa(client.PerHour)+" an hour")
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(time.Until(until).Seconds()))))
		return web.JSONError(c, fiber.StatusTooManyRequests,
			fmt.Sprintf("this client may submit %d requests an hour; try again after %s", client.PerHour, until.Format(time.RFC3339)),
			fmt.Sprintf("این برنامه در هر ساعت %d درخواست می‌تواند بفرستد؛ پس از %s دوباره بفرستید.", client.PerHour, until.Format(time.RFC3339)))
	}
	if out, found, err := h.Submissions.Repeat(ctx, client.Caller(), key); found || err != nil {
		if err != nil {
			return h.answer(c, err, consular.Service{})
		}
		h.audit(c, client, out.Mission, out.TrackingCode, "ok", "repeated")
		return c.JSON(submitted(out))
	}

	code, err := consular.NewTrackingCode()
	if err != nil {
		return err
	}
	f := &form{caller: client.Caller(), key: key, code: code}
	if err := h.read(c, f); err != nil {
		h.Submissions.Discard(f.code, f.documents)
		return err
	}
	if !client.May(f.mission) {
		h.Submissions.Discard(f.code, f.documents)
		h.audit(c, client, f.mission, "", "refused", "mission outside the client's scope")
		return h.answer(c, &consular.MissionError{Mission: f.mission, Allowed: client.Missions}, f.service)
	}
	app := f.application()
	if err := f.check(ctx, h.Submissions, app); err != nil {
		h.Submissions.Discard(f.code, f.documents)
		return err
	}
	if len(f.problems) > 0 {
		h.Submissions.Discard(f.code, f.documents)
		h.audit(c, client, f.mission, "", "refused", "invalid: "+fieldNames(f.problems))
		return h.invalid(c, f.problems)
	}
	app.Applicant.Form = f.fields // normalised by the check
	out, saved, err := h.Submissions.Submit(ctx, app)
	if !saved {
		h.Submissions.Discard(f.code, f.documents) // not saved, or a concurrent retry with the same key got there first
	}
	if err != nil {
		return h.answer(c, err, f.service) // refused: the mission closed since the check
	}
	status, detail := fiber.StatusOK, "repeated"
	if saved {
		status, detail = fiber.StatusCreated, "created"
	}
	h.audit(c, client, f.mission, out.TrackingCode, "ok", detail)
	return c.Status(status).JSON(submitted(out))
}

// answer sends a domain outcome as the table (web.AnswerFor) says; an
// invalid application names its fields in the API's words for svc.
func (h *Handlers) answer(c *fiber.Ctx, err error, svc consular.Service) error {
	answer, ok := web.AnswerFor(err, false)
	switch {
	case !ok:
		return err
	case answer.Problems != nil:
		return h.invalid(c, describe(svc, answer.Problems))
	}
	return answer.JSON(c, h.Messages)
}

// invalid is the 422 naming every field; nothing was stored.
func (h *Handlers) invalid(c *fiber.Ctx, fields []FieldError) error {
	answer, _ := web.AnswerFor(&submission.Refused{}, false)
	return c.Status(answer.Status).JSON(Invalid{Error: h.Messages.T("en", answer.Key), Fields: fields})
}

// application is the submission as the lifecycle takes it.
func (f *form) application() submission.Application {
	return submission.Application{Caller: f.caller, Key: f.key, Code: f.code, Service: f.service.Code, Mission: f.mission,
		Applicant: submission.Applicant{NationalID: f.nationalID, Email: f.email, FullName: f.name, Language: f.language, Form: f.fields},
		Documents: f.documents}
}

func fieldNames(problems []FieldError) string {
	names := make([]string, len(problems))
	for i, p := range problems {
		names[i] = p.Field
	}
	return strings.Join(names, " ")
}

// read walks the multipart body; problems with single fields or documents
// are collected, while a body that is not multipart at all is a 400.
func (h *Handlers) read(c *fiber.Ctx, f *form) error {
	reader, err := web.NewFormReader(c, func(name string) bool { return strings.HasPrefix(name, "document.") }, web.DefaultFormLimits)
	if err != nil {
		return err // 400: not multipart
	}
	fields := map[string]string{}
	seen := map[string]bool{}
	for {
		part, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err // 400 malformed, 413 over a bound (English and Persian)
		}
		if !part.IsFile {
			fields[part.Name] = strings.TrimSpace(part.Value)
			continue
		}
		kind := strings.TrimPrefix(part.Name, "document.")
		if seen[kind] || len(seen) >= MaxDocuments {
			f.problems = append(f.problems, FieldError{Field: part.Name, Reason: "duplicate",
				Message: "Send each document once, at most 8 in all.", Fa: "هر مدرک را یک بار بفرستید، حداکثر ۸ مدرک."})
			continue
		}
		seen[kind] = true
		if err := h.store(c.UserContext(), f, kind, part.FileName, part.File); err != nil {
			return err
		}
	}
	f.name, f.email, f.mission, f.language = fields["full_name"], fields["email"], fields["mission"], fields["language"]
	f.nationalID = fields["national_id"]
	f.fields = map[string]string{}
	for name, value := range fields {
		if field, ok := strings.CutPrefix(name, FieldPrefix); ok {
			f.fields[field] = value
		}
	}
	if svc, ok := consular.ServiceByCode(fields["service"]); ok {
		f.service = svc
	} else {
		f.problems = append(f.problems, FieldError{Field: "service", Reason: "unknown",
			Message: "Choose one of the services offered.", Fa: "یکی از خدمات موجود را انتخاب کنید."})
	}
	return nil
}

// FieldPrefix names a service's field in the API's form: field.licence_number.
const FieldPrefix = "field."

// store hands one document to package submission; a refused one becomes a
// problem of its field, and the reader skips what is left of the part.
func (h *Handlers) store(ctx context.Context, f *form, kind, fileName string, content io.Reader) error {
	doc, err := h.Submissions.StoreDocument(ctx, f.code, kind, fileName, content)
	var problem *documents.Problem
	switch {
	case errors.As(err, &problem):
		f.problems = append(f.problems, FieldError{Field: "document." + kind, Reason: problem.Reason,
			Message: problem.Message("en"), Fa: problem.Message("fa")})
		return nil
	case errors.Is(err, submission.ErrUnreadable):
		return fiber.NewError(fiber.StatusBadRequest, err.Error())
	case err != nil:
		return err
	}
	f.documents = append(f.documents, doc)
	return nil
}

// check validates the applicant's own fields, then the application against
// its service with the check every submission passes (Submitter.Validate).
func (f *form) check(ctx context.Context, submissions *submission.Submitter, app submission.Application) error {
	add := func(field, reason, en, fa string) {
		f.problems = append(f.problems, FieldError{Field: field, Reason: reason, Message: en, Fa: fa})
	}
	if f.name == "" || len(f.name) > 200 {
		add("full_name", "required", "Enter your full name.", "نام و نام خانوادگی خود را وارد کنید.")
	}
	if addr, err := mail.ParseAddress(f.email); err != nil || addr.Address != f.email || len(f.email) > 254 {
		add("email", "invalid", "Enter a valid email address, such as name@example.com.", "یک نشانی ایمیل درست وارد کنید، مانند name@example.com.")
	}
	if id, err := consular.ParseNationalID(f.nationalID); err != nil {
		add("national_id", "invalid", "Enter your 10-digit national ID code; its last digit did not check out.", "کد ملی ۱۰ رقمی خود را درست وارد کنید؛ رقم کنترل آن درست نیست.")
	} else {
		f.nationalID = id
	}
	if f.language == "" {
		f.language = "fa"
	}
	if f.language != "fa" && f.language != "en" {
		add("language", "invalid", "Language must be fa or en.", "زبان باید fa یا en باشد.")
	}
	if f.service.Code == "" {
		return nil
	}
	var refused []string // documents refused already, with their own reason
	for _, p := range f.problems {
		if kind, ok := strings.CutPrefix(p.Field, "document."); ok {
			refused = append(refused, kind)
		}
	}
	fields, problems, err := submissions.Validate(ctx, app, refused...)
	if err != nil {
		return err
	}
	f.fields = fields
	f.problems = append(f.problems, describe(f.service, problems)...)
	return nil
}

// describe words the check's problems for the API, in English and Persian,
// naming each field as the API's form does (field.<name>, document.<kind>).
func describe(svc consular.Service, problems []consular.Problem) []FieldError {
	var out []FieldError
	for _, p := range problems {
		label, field := consular.Text{En: p.Field, Fa: p.Field}, p.Field
		kind, isDocument := strings.CutPrefix(p.Field, "document.")
		if d, ok := svc.Document(kind); isDocument && ok {
			label = d.Name
		}
		var options []string
		for _, f := range svc.Fields {
			if f.Name == p.Field {
				label, field = f.Label, FieldPrefix+f.Name
				for _, o := range f.Options {
					options = append(options, o.Value)
				}
			}
		}
		if p.Reason == consular.ReasonUnexpected && !isDocument {
			field = FieldPrefix + p.Field
		}
		arg := func(i int) int {
			if i < len(p.Args) {
				return p.Args[i]
			}
			return 0
		}
		e := FieldError{Field: field, Reason: p.Reason}
		switch p.Reason {
		case consular.ReasonMission:
			e.Message, e.Fa = "Choose one of the open embassies or consulates.", "یکی از سفارتخانه‌ها یا کنسولگری‌های فعال را انتخاب کنید."
		case consular.ReasonRequired:
			e.Message, e.Fa = label.En+" is required.", label.Fa+" لازم است."
		case consular.ReasonChoose:
			e.Message = fmt.Sprintf("%s must be one of: %s.", label.En, strings.Join(options, ", "))
			e.Fa = fmt.Sprintf("%s باید یکی از این‌ها باشد: %s.", label.Fa, strings.Join(options, "، "))
		case consular.ReasonNumber:
			e.Message = fmt.Sprintf("%s must be a whole number from %d to %d.", label.En, arg(0), arg(1))
			e.Fa = fmt.Sprintf("%s باید عددی از %d تا %d باشد.", label.Fa, arg(0), arg(1))
		case consular.ReasonNationalID:
			e.Message, e.Fa = label.En+" must be a 10-digit national ID code with a valid check digit.", label.Fa+" باید کد ملی ۱۰ رقمی با رقم کنترل درست باشد."
		case consular.ReasonDate:
			e.Message, e.Fa = label.En+" must be a Gregorian date written YYYY-MM-DD.", label.Fa+" باید تاریخ میلادی به شکل YYYY-MM-DD باشد."
		case consular.ReasonDateFuture:
			e.Message, e.Fa = label.En+" cannot be in the future.", label.Fa+" نمی‌تواند در آینده باشد."
		case consular.ReasonDatePast:
			e.Message, e.Fa = label.En+" cannot be in the past.", label.Fa+" نمی‌تواند در گذشته باشد."
		case consular.ReasonTooLong:
			e.Message = fmt.Sprintf("%s must be at most %d characters.", label.En, arg(0))
			e.Fa = fmt.Sprintf("%s حداکثر %d نویسه باشد.", label.Fa, arg(0))
		case consular.ReasonPattern:
			e.Message, e.Fa = label.En+" is not in the form this service expects.", label.Fa+" به شکلی که این خدمت می‌خواهد نیست."
		case consular.ReasonUnexpected:
			if isDocument {
				e.Message, e.Fa = "This service does not take this document.", "این خدمت چنین مدرکی نمی‌خواهد."
			} else {
				e.Message, e.Fa = "This service does not ask for this field.", "این خدمت چنین پرسشی ندارد."
			}
		case "unknown":
			e.Message, e.Fa = "Choose one of the services offered.", "یکی از خدمات موجود را انتخاب کنید."
		default:
			e.Message, e.Fa = label.En+" is not valid.", label.Fa+" درست نیست."
		}
		out = append(out, e)
	}
	return out
}

// Package requests is the versioned JSON API of consular requests
// (/api/v1/requests): submission with documents, the receipt download, and
// the staff and appointment actions that become updates of the request's
// workflow.
package requests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/openconsular/consular/internal/appointments"
	"io"
	"log/slog"
	"math"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/apiclients"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/workflows/request"
)

// Handlers serve /api/v1/requests.
type Handlers struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Temporal client.Client
	Objects  *minio.Client
	Limits   *web.Limiter // each API client's submissions an hour
	Logger   *slog.Logger
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

// submission is what the form carried, once read.
type submission struct {
	caller     string
	key        string
	code       consular.TrackingCode
	service    consular.Service
	mission    string
	name       string
	email      string
	nationalID string
	language   string
	form       map[string]string // the service's fields, sent as field.<name>
	documents  []stored
	problems   []FieldError
}

type stored struct {
	kind string
	doc  documents.Document
	key  string
}

// clientLocal holds the API client a submission comes from.
const clientLocal = "api_client"

// clientOnly admits a registered API client's token (see package
// apiclients), and nothing else, before the body is read: an anonymous or
// unknown caller gets 401 and nothing happens.
func (h *Handlers) clientOnly(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	client, err := apiclients.Authenticate(c.UserContext(), h.DB, strings.TrimSpace(token))
	if !ok || errors.Is(err, apiclients.ErrUnknownToken) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="consular api clients"`)
		return refuse(c, fiber.StatusUnauthorized,
			"a registered API client's token is required (Authorization: Bearer <token>); applicants submit through the portal",
			"توکن یک برنامه‌ی ثبت‌شده لازم است (Authorization: Bearer <token>)؛ متقاضیان از راه درگاه درخواست می‌دهند.")
	}
	if err != nil {
		return err
	}
	c.Locals(clientLocal, client)
	return c.Next()
}

// refuse answers a JSON error in English and Persian, in the shape every
// error of the API has.
func refuse(c *fiber.Ctx, status int, en, fa string) error {
	return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": status, "message": en, "message_fa": fa}})
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
// with the same validator the workflow uses and streamed to MinIO as it
// arrives, so memory holds one document at a time. On any problem the stored
// documents are deleted and the answer is 422 naming every field. A retry by
// the same client with the same Idempotency-Key answers with the same
// tracking code, and the request has exactly one workflow; another client's
// key is another request.
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
		return refuse(c, fiber.StatusTooManyRequests,
			fmt.Sprintf("this client may submit %d requests an hour; try again after %s", client.PerHour, until.Format(time.RFC3339)),
			fmt.Sprintf("این برنامه در هر ساعت %d درخواست می‌تواند بفرستد؛ پس از %s دوباره بفرستید.", client.PerHour, until.Format(time.RFC3339)))
	}
	if done, err := h.findSubmission(ctx, client.Caller(), key); err != nil {
		return err
	} else if done != nil {
		out, err := h.start(ctx, *done)
		if err != nil {
			return err
		}
		h.audit(c, client, done.mission, string(done.code), "ok", "repeated")
		return c.JSON(out)
	}

	code, err := consular.NewTrackingCode()
	if err != nil {
		return err
	}
	s := &submission{caller: client.Caller(), key: key, code: code}
	if err := h.read(c, s); err != nil {
		h.discard(s)
		return err
	}
	if !client.May(s.mission) {
		h.discard(s)
		h.audit(c, client, s.mission, "", "refused", "mission outside the client's scope")
		return refuse(c, fiber.StatusForbidden,
			fmt.Sprintf("this client may not submit to mission %q; it may submit to %s", s.mission, strings.Join(client.Missions, ", ")),
			fmt.Sprintf("این برنامه اجازه‌ی فرستادن درخواست به نمایندگی %q را ندارد؛ نمایندگی‌های مجاز: %s", s.mission, strings.Join(client.Missions, "، ")))
	}
	app := s.application()
	if err := s.checkFields(ctx, h, app); err != nil {
		h.discard(s)
		return err
	}
	if len(s.problems) > 0 {
		h.discard(s)
		h.audit(c, client, s.mission, "", "refused", "invalid: "+fieldNames(s.problems))
		return c.Status(fiber.StatusUnprocessableEntity).JSON(Invalid{Error: "the submission has problems; nothing was stored", Fields: s.problems})
	}
	app.Applicant.Form = s.form // normalised by the check
	out, saved, err := h.Submit(ctx, app)
	if !saved {
		h.discard(s) // not saved, or a concurrent retry with the same key got there first
	}
	var refused *Refused
	if errors.As(err, &refused) { // the mission closed since the check
		return c.Status(fiber.StatusUnprocessableEntity).JSON(Invalid{Error: "the submission has problems; nothing was stored",
			Fields: describe(s.service, refused.Problems)})
	}
	if err != nil {
		return err
	}
	status, detail := fiber.StatusOK, "repeated"
	if saved {
		status, detail = fiber.StatusCreated, "created"
	}
	h.audit(c, client, s.mission, out.TrackingCode, "ok", detail)
	return c.Status(status).JSON(out)
}

// application is the submission as the lifecycle takes it.
func (s *submission) application() Application {
	app := Application{Caller: s.caller, Key: s.key, Code: s.code, Service: s.service.Code, Mission: s.mission,
		Applicant: Applicant{NationalID: s.nationalID, Email: s.email, FullName: s.name, Language: s.language, Form: s.form}}
	for _, d := range s.documents {
		app.Documents = append(app.Documents, StoredDocument{Kind: d.kind, ObjectKey: d.key, FileName: d.doc.Name,
			Format: d.doc.Format, Size: d.doc.Size, SHA256: d.doc.SHA256})
	}
	return app
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
func (h *Handlers) read(c *fiber.Ctx, s *submission) error {
	form, err := web.NewFormReader(c, func(name string) bool { return strings.HasPrefix(name, "document.") }, web.DefaultFormLimits)
	if err != nil {
		return err // 400: not multipart
	}
	fields := map[string]string{}
	seen := map[string]bool{}
	for {
		part, err := form.Next()
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
			s.problems = append(s.problems, FieldError{Field: part.Name, Reason: "duplicate",
				Message: "Send each document once, at most 8 in all.", Fa: "هر مدرک را یک بار بفرستید، حداکثر ۸ مدرک."})
			continue
		}
		seen[kind] = true
		if err := h.store(c.UserContext(), s, kind, part.FileName, part.File); err != nil {
			return err
		}
	}
	s.name, s.email, s.mission, s.language = fields["full_name"], fields["email"], fields["mission"], fields["language"]
	s.nationalID = fields["national_id"]
	s.form = map[string]string{}
	for name, value := range fields {
		if field, ok := strings.CutPrefix(name, FieldPrefix); ok {
			s.form[field] = value
		}
	}
	if svc, ok := consular.ServiceByCode(fields["service"]); ok {
		s.service = svc
	} else {
		s.problems = append(s.problems, FieldError{Field: "service", Reason: "unknown",
			Message: "Choose one of the services offered.", Fa: "یکی از خدمات موجود را انتخاب کنید."})
	}
	return nil
}

// FieldPrefix names a service's field in the API's form: field.licence_number.
const FieldPrefix = "field."

// store checks one document and, if it passes, puts it in MinIO.
func (h *Handlers) store(ctx context.Context, s *submission, kind, fileName string, content io.Reader) error {
	// fileName is as the client sent it, path included: a name such as
	// ../../x.jpg is refused, and the applicant deserves to hear why.
	doc, data, err := documents.CheckContext(ctx, fileName, content, documents.DefaultRule)
	var problem *documents.Problem
	if errors.As(err, &problem) {
		s.problems = append(s.problems, FieldError{Field: "document." + kind, Reason: problem.Reason,
			Message: problem.Message("en"), Fa: problem.Message("fa")})
		return nil // the reader skips what is left of the part
	}
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "could not read document "+kind+": "+err.Error())
	}
	objectKey := storage.DocumentKey(string(s.code), kind, doc.Format)
	if _, err := h.Objects.PutObject(ctx, h.Config.Storage.DocumentsBucket, objectKey, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "image/" + doc.Format}); err != nil {
		return fmt.Errorf("store document: %w", err)
	}
	s.documents = append(s.documents, stored{kind: kind, doc: doc, key: objectKey})
	return nil
}

// checkFields validates the applicant's own fields, then the application
// against its service with the check every submission passes (Validate).
func (s *submission) checkFields(ctx context.Context, h *Handlers, app Application) error {
	add := func(field, reason, en, fa string) {
		s.problems = append(s.problems, FieldError{Field: field, Reason: reason, Message: en, Fa: fa})
	}
	if s.name == "" || len(s.name) > 200 {
		add("full_name", "required", "Enter your full name.", "نام و نام خانوادگی خود را وارد کنید.")
	}
	if addr, err := mail.ParseAddress(s.email); err != nil || addr.Address != s.email || len(s.email) > 254 {
		add("email", "invalid", "Enter a valid email address, such as name@example.com.", "یک نشانی ایمیل درست وارد کنید، مانند name@example.com.")
	}
	if id, err := consular.ParseNationalID(s.nationalID); err != nil {
		add("national_id", "invalid", "Enter your 10-digit national ID code; its last digit did not check out.", "کد ملی ۱۰ رقمی خود را درست وارد کنید؛ رقم کنترل آن درست نیست.")
	} else {
		s.nationalID = id
	}
	if s.language == "" {
		s.language = "fa"
	}
	if s.language != "fa" && s.language != "en" {
		add("language", "invalid", "Language must be fa or en.", "زبان باید fa یا en باشد.")
	}
	if s.service.Code == "" {
		return nil
	}
	var refused []string // documents refused already, with their own reason
	for _, p := range s.problems {
		if kind, ok := strings.CutPrefix(p.Field, "document."); ok {
			refused = append(refused, kind)
		}
	}
	form, problems, err := h.check(ctx, app, refused)
	if err != nil {
		return err
	}
	s.form = form
	s.problems = append(s.problems, describe(s.service, problems)...)
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

// Refused is an application its service's check refused: nothing was saved.
type Refused struct{ Problems []consular.Problem }

func (r *Refused) Error() string {
	var names []string
	for _, p := range r.Problems {
		names = append(names, p.Field+": "+p.Reason)
	}
	return "the application does not meet its service's definition: " + strings.Join(names, ", ")
}

// Validate checks an application against its service (the service's
// fields, its documents, an open mission): the one check every submission
// passes, the portal's and the API's. It returns the fields normalised as
// they are stored. Callers check first to show the problems in their own
// words; Submit checks again, so no path can skip it.
func (h *Handlers) Validate(ctx context.Context, a Application) (map[string]string, []consular.Problem, error) {
	return h.check(ctx, a, nil)
}

// check is Validate counting the document kinds in refused as supplied:
// their own check has named them already.
func (h *Handlers) check(ctx context.Context, a Application, refused []string) (map[string]string, []consular.Problem, error) {
	svc, ok := consular.ServiceByCode(a.Service)
	if !ok {
		return nil, []consular.Problem{{Field: "service", Reason: "unknown"}}, nil
	}
	open, err := h.mission(ctx, a.Mission)
	if err != nil {
		return nil, nil, fmt.Errorf("look up mission: %w", err)
	}
	kinds := slices.Clone(refused)
	for _, d := range a.Documents {
		kinds = append(kinds, d.Kind)
	}
	form, problems := svc.Check(consular.Application{Mission: a.Mission, MissionOpen: open, Fields: a.Applicant.Form, Documents: kinds})
	return form, problems, nil
}

// mission reports whether a mission exists and is open.
func (h *Handlers) mission(ctx context.Context, code string) (bool, error) {
	var active bool
	err := h.DB.QueryRow(ctx, "SELECT active FROM missions WHERE code = $1", code).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return active, err
}

// discard deletes what a refused or duplicate submission stored.
func (h *Handlers) discard(s *submission) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range s.documents {
		if err := h.Objects.RemoveObject(ctx, h.Config.Storage.DocumentsBucket, d.key, minio.RemoveObjectOptions{}); err != nil {
			h.Logger.Error("could not delete a refused submission's document", "tracking_code", s.code, "err", err)
		}
	}
}

// Application is a complete request, its documents already in MinIO under
// the tracking code: what the JSON API and the portal both submit.
type Application struct {
	// Caller owns Key: an API client (apiclients.Client.Caller) or an
	// applicant's account (AccountCaller). Nobody submits anonymously.
	Caller    string
	Key       string // idempotency key: the same caller and key give the same request
	Code      consular.TrackingCode
	Service   string
	Mission   string
	Applicant Applicant
	Documents []StoredDocument // the service's documents, checked against it
	// ProfileDocuments are the applicant's identity documents from their
	// profile (the portal), kept with the request but not the service's.
	ProfileDocuments []StoredDocument
}

// AccountCaller is an applicant's account as the owner of its idempotency keys.
func AccountCaller(accountID int64) string { return "account:" + strconv.FormatInt(accountID, 10) }

// Applicant is who asks, as the mission will see it.
type Applicant struct {
	NationalID, Email, FullName, Language string
	Identity, Residence, Form             map[string]string // the profile and the service's form, as filled in
}

// StoredDocument is an accepted document in MinIO.
type StoredDocument struct {
	Kind, ObjectKey, FileName, Format, SHA256 string
	Size                                      int64
}

// ErrNotStarted says the request was saved but its workflow could not be
// started (Temporal unreachable): retrying with the same key finishes it.
var ErrNotStarted = fiber.NewError(fiber.StatusServiceUnavailable,
	"the request was saved but could not be started; retry with the same Idempotency-Key")

// Submit checks the application against its service (Validate: a *Refused
// error names what is wrong), saves it and starts its workflow. saved is true when
// this application is the one kept, even if its workflow could not be
// started (a retry with the same key starts it): its documents are then in
// use and must stay. saved is false when saving failed or the key was
// submitted before: then the earlier request is returned and the caller
// deletes what it stored for this attempt.
func (h *Handlers) Submit(ctx context.Context, a Application) (out Submitted, saved bool, err error) {
	if a.Caller == "" || a.Key == "" {
		return out, false, errors.New("submit: an application needs its caller and idempotency key")
	}
	if _, problems, err := h.Validate(ctx, a); err != nil {
		return out, false, err
	} else if len(problems) > 0 {
		return out, false, &Refused{Problems: problems}
	}
	rec := record{caller: a.Caller, key: a.Key, code: a.Code, service: a.Service, mission: a.Mission, submittedAt: time.Now().UTC().Truncate(time.Second)}
	winner, err := h.save(ctx, a, rec)
	if err != nil {
		return out, false, err
	}
	out, err = h.start(ctx, winner)
	return out, winner.code == a.Code, err
}

// record is a saved submission: enough to start (or restart) its workflow.
type record struct {
	caller, key, service, mission string
	code                          consular.TrackingCode
	submittedAt                   time.Time
	documents                     []consular.Document
}

// save writes the submission, the applicant and the documents in one
// transaction. If another call with the same key saved first, it returns that one.
func (h *Handlers) save(ctx context.Context, a Application, rec record) (record, error) {
	tx, err := h.DB.Begin(ctx)
	if err != nil {
		return rec, err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO submissions (caller, idempotency_key, tracking_code, service_code, mission_code, submitted_at, start_pending)
		VALUES ($1, $2, $3, $4, $5, $6, true) ON CONFLICT (caller, idempotency_key) DO NOTHING`,
		rec.caller, rec.key, string(rec.code), rec.service, rec.mission, rec.submittedAt)
	if err != nil {
		return rec, fmt.Errorf("save submission: %w", err)
	}
	if tag.RowsAffected() == 0 {
		tx.Rollback(ctx)
		other, err := h.findSubmission(ctx, rec.caller, rec.key)
		if err != nil || other == nil {
			return rec, fmt.Errorf("find the concurrent submission: %w", err)
		}
		return *other, nil
	}
	ap := a.Applicant
	if _, err := tx.Exec(ctx, `INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language, identity, residence, form)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, string(rec.code), ap.NationalID, ap.Email, ap.FullName, ap.Language,
		orEmpty(ap.Identity), orEmpty(ap.Residence), orEmpty(ap.Form)); err != nil {
		return rec, fmt.Errorf("save applicant: %w", err)
	}
	for _, d := range slices.Concat(a.Documents, a.ProfileDocuments) {
		if _, err := tx.Exec(ctx, `INSERT INTO request_documents (tracking_code, kind, object_key, file_name, format, size_bytes, sha256)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, string(rec.code), d.Kind, d.ObjectKey, d.FileName, d.Format, d.Size, d.SHA256); err != nil {
			return rec, fmt.Errorf("save document: %w", err)
		}
		rec.documents = append(rec.documents, consular.Document{Kind: d.Kind, ObjectKey: d.ObjectKey, SHA256: d.SHA256})
	}
	return rec, tx.Commit(ctx)
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// findSubmission loads the caller's saved submission by its idempotency
// key, or nil: another caller's key is not found.
func (h *Handlers) findSubmission(ctx context.Context, caller, key string) (*record, error) {
	return h.loadSubmission(ctx, "caller = $1 AND idempotency_key = $2", caller, key)
}

// loadSubmission loads the saved submission where says, or nil.
func (h *Handlers) loadSubmission(ctx context.Context, where string, args ...any) (*record, error) {
	var rec record
	var code string
	err := h.DB.QueryRow(ctx, `SELECT caller, idempotency_key, tracking_code, service_code, mission_code, submitted_at FROM submissions WHERE `+where, args...).
		Scan(&rec.caller, &rec.key, &code, &rec.service, &rec.mission, &rec.submittedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up submission: %w", err)
	}
	rec.code = consular.TrackingCode(code)
	rows, err := h.DB.Query(ctx, `SELECT kind, object_key, sha256 FROM request_documents WHERE tracking_code = $1 ORDER BY kind`, code)
	if err != nil {
		return nil, err
	}
	rec.documents, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (consular.Document, error) {
		var d consular.Document
		return d, row.Scan(&d.Kind, &d.ObjectKey, &d.SHA256)
	})
	return &rec, err
}

// start starts the request's workflow unless it runs or ran already.
func (h *Handlers) start(ctx context.Context, rec record) (Submitted, error) {
	if err := h.startWorkflow(ctx, rec); err != nil {
		h.Logger.ErrorContext(ctx, "start request workflow", "tracking_code", rec.code, "err", err)
		return Submitted{}, ErrNotStarted
	}
	return Submitted{
		TrackingCode: string(rec.code),
		Deadline:     rec.submittedAt.Add(h.Config.Requests.Deadline),
		ReceiptURL:   ReceiptURL(h.Config.Keys.Receipts, string(rec.code), rec.submittedAt.Add(h.Config.Requests.Deadline)),
	}, nil
}

// startWorkflow starts the request's workflow (one running or run already
// counts as started) and clears the submission's start_pending.
func (h *Handlers) startWorkflow(ctx context.Context, rec record) error {
	policy := request.Policy{Deadline: h.Config.Requests.Deadline, Reminders: h.Config.Requests.Reminders, Retention: h.Config.Requests.Retention,
		MaxReschedules: h.Config.Booking.MaxReschedules, ChangeCutoff: h.Config.Booking.ChangeCutoff}
	if svc, ok := consular.ServiceByCode(rec.service); ok {
		policy.FourEyes = svc.FourEyes
	}
	if err := request.Start(ctx, h.Temporal, h.Config.Temporal.TaskQueue, request.Input{
		TrackingCode: string(rec.code), ServiceCode: rec.service, MissionCode: rec.mission,
		SubmittedAt: rec.submittedAt, Documents: rec.documents, Policy: policy,
	}); err != nil {
		return err
	}
	// If this write fails the request still runs: StartPending starts it
	// again later, which finds it running.
	if _, err := h.DB.Exec(ctx, "UPDATE submissions SET start_pending = false WHERE tracking_code = $1 AND start_pending", string(rec.code)); err != nil {
		h.Logger.WarnContext(ctx, "mark request started", "tracking_code", rec.code, "err", err)
	}
	return nil
}

// StartPending starts the workflows of submissions saved more than
// olderThan ago whose start failed (Temporal unreachable) and that nobody
// retried since: the applicant was asked to try again and may not have, but
// their request and documents are kept, so it starts here and its receipt
// email tells them it arrived. It works in batches of 100, oldest first,
// until none is left; it stops when Temporal is unreachable, and passes
// over (logging) a submission whose start fails otherwise, which stays
// pending for the next round. It returns how many it started.
func (h *Handlers) StartPending(ctx context.Context, olderThan time.Duration) (int, error) {
	const batch = 100
	n, failed := 0, 0
	for {
		rows, err := h.DB.Query(ctx, `SELECT tracking_code FROM submissions
			WHERE start_pending AND submitted_at < now() - $1::interval ORDER BY submitted_at OFFSET $2 LIMIT $3`, olderThan, failed, batch)
		if err != nil {
			return n, err
		}
		codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return n, err
		}
		for _, code := range codes {
			rec, err := h.loadSubmission(ctx, "tracking_code = $1", code)
			if err != nil {
				return n, err
			}
			if rec == nil {
				continue
			}
			if err := h.startWorkflow(ctx, *rec); err != nil {
				if unreachable(ctx, err) {
					return n, fmt.Errorf("Temporal unreachable: %w", err)
				}
				h.Logger.ErrorContext(ctx, "start a pending request", "tracking_code", rec.code, "err", err)
				failed++ // still pending: the next query passes over it
				continue
			}
			h.Logger.WarnContext(ctx, "started a request saved while Temporal was unreachable", "tracking_code", rec.code, "submitted_at", rec.submittedAt)
			n++
		}
		if len(codes) < batch {
			return n, nil
		}
	}
}

// unreachable says whether a start failed because Temporal could not be
// reached (or did not answer in time), as opposed to refusing this request.
func unreachable(ctx context.Context, err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &unavailable) || errors.As(err, &deadline)
}

// KeepStartingPending runs StartPending every interval until ctx ends, for
// submissions saved at least a minute before (a start in progress is left
// to finish).
func (h *Handlers) KeepStartingPending(ctx context.Context, interval time.Duration) {
	for {
		if _, err := h.StartPending(ctx, time.Minute); err != nil && ctx.Err() == nil {
			h.Logger.WarnContext(ctx, "start pending requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// ReceiptURL is where the submitter downloads the receipt, until expires.
func ReceiptURL(key []byte, code string, expires time.Time) string {
	return "/api/v1/requests/" + code + "/receipt?token=" + ReceiptToken(key, code, expires)
}

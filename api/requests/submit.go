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
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/workflows"
)

// Handlers serve /api/v1/requests.
type Handlers struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Temporal client.Client
	Objects  *minio.Client
	Logger   *slog.Logger
}

// MaxDocuments bounds one submission; services ask for three or four.
const MaxDocuments = 8

// Register mounts the routes.
func (h *Handlers) Register(r fiber.Router) {
	v1 := r.Group("/api/v1/requests")
	v1.Post("/", h.submit)
	v1.Get("/:code/receipt", h.receipt)
	staff := v1.Group("/:code", h.staffOnly)
	staff.Get("/", h.status)
	staff.Post("/appointment", h.update(workflows.UpdateBookAppointment, appointmentArgs))
	staff.Put("/appointment", h.update(workflows.UpdateRescheduleAppointment, appointmentArgs))
	staff.Delete("/appointment", h.update(workflows.UpdateCancelAppointment, staffArgs))
	staff.Post("/attendance", h.update(workflows.UpdateRecordAttendance, staffArgs))
	staff.Post("/no-show", h.update(workflows.UpdateMarkNoShow, staffArgs))
	staff.Post("/decision", h.update(workflows.UpdateDecide, decisionArgs))
	staff.Post("/deadline-extension", h.update(workflows.UpdateExtendDeadline, extensionArgs))
	staff.Post("/withdrawal", h.update(workflows.UpdateWithdraw, func(*fiber.Ctx) (any, error) { return workflows.WithdrawInput{}, nil }))
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
	key        string
	code       consular.TrackingCode
	service    consular.Service
	mission    string
	name       string
	email      string
	nationalID string
	language   string
	documents  []stored
	problems   []FieldError
}

type stored struct {
	kind string
	doc  documents.Document
	key  string
}

// submit reads the multipart form part by part: each document is checked
// with the same validator the workflow uses and streamed to MinIO as it
// arrives, so memory holds one document at a time. On any problem the stored
// documents are deleted and the answer is 422 naming every field. A retry with
// the same Idempotency-Key answers with the same tracking code, and the
// request has exactly one workflow.
func (h *Handlers) submit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	if key == "" || len(key) > 200 {
		return fiber.NewError(fiber.StatusBadRequest, "the Idempotency-Key header is required (at most 200 characters): send the same key when you retry")
	}
	key = strings.Clone(key)
	if done, err := h.findSubmission(ctx, key); err != nil {
		return err
	} else if done != nil {
		out, err := h.start(ctx, *done)
		if err != nil {
			return err
		}
		return c.JSON(out)
	}

	code, err := consular.NewTrackingCode()
	if err != nil {
		return err
	}
	s := &submission{key: key, code: code}
	if err := h.read(c, s); err != nil {
		h.discard(s)
		return err
	}
	s.checkFields(func(code string) (bool, error) { return h.mission(ctx, code) })
	if len(s.problems) > 0 {
		h.discard(s)
		return c.Status(fiber.StatusUnprocessableEntity).JSON(Invalid{Error: "the submission has problems; nothing was stored", Fields: s.problems})
	}

	app := Application{Key: key, Code: code, Service: s.service.Code, Mission: s.mission,
		Applicant: Applicant{NationalID: s.nationalID, Email: s.email, FullName: s.name, Language: s.language}}
	for _, d := range s.documents {
		app.Documents = append(app.Documents, StoredDocument{Kind: d.kind, ObjectKey: d.key, FileName: d.doc.Name,
			Format: d.doc.Format, Size: d.doc.Size, SHA256: d.doc.SHA256})
	}
	out, saved, err := h.Submit(ctx, app)
	if !saved {
		h.discard(s) // not saved, or a concurrent retry with the same key got there first
	}
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if saved {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(out)
}

// read walks the multipart body; problems with single fields or documents
// are collected, while a body that is not multipart at all is a 400.
func (h *Handlers) read(c *fiber.Ctx, s *submission) error {
	_, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || params["boundary"] == "" {
		return fiber.NewError(fiber.StatusBadRequest, "send the request as multipart/form-data")
	}
	body := c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	mr := multipart.NewReader(body, params["boundary"])
	fields := map[string]string{}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "the multipart body is malformed: "+err.Error())
		}
		name := part.FormName()
		kind, isDocument := strings.CutPrefix(name, "document.")
		if !isDocument {
			value, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				return fiber.NewError(fiber.StatusBadRequest, "the multipart body is malformed: "+err.Error())
			}
			fields[name] = strings.TrimSpace(string(value))
			continue
		}
		if seen[kind] || len(seen) >= MaxDocuments {
			s.problems = append(s.problems, FieldError{Field: name, Reason: "duplicate",
				Message: "Send each document once, at most 8 in all.", Fa: "هر مدرک را یک بار بفرستید، حداکثر ۸ مدرک."})
			continue
		}
		seen[kind] = true
		if err := h.store(c.UserContext(), s, kind, part); err != nil {
			return err
		}
	}
	s.name, s.email, s.mission, s.language = fields["full_name"], fields["email"], fields["mission"], fields["language"]
	s.nationalID = fields["national_id"]
	if svc, ok := consular.ServiceByCode(fields["service"]); ok {
		s.service = svc
	} else {
		s.problems = append(s.problems, FieldError{Field: "service", Reason: "unknown",
			Message: "Choose one of the services offered.", Fa: "یکی از خدمات موجود را انتخاب کنید."})
	}
	return nil
}

// store checks one document and, if it passes, puts it in MinIO.
func (h *Handlers) store(ctx context.Context, s *submission, kind string, part *multipart.Part) error {
	// The name as the client sent it: part.FileName() would quietly strip a
	// path such as ../../x.jpg, and the applicant deserves to hear it is refused.
	_, disposition, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	doc, content, err := documents.CheckContext(ctx, disposition["filename"], part, documents.DefaultRule)
	var problem *documents.Problem
	if errors.As(err, &problem) {
		s.problems = append(s.problems, FieldError{Field: "document." + kind, Reason: problem.Reason,
			Message: problem.Message("en"), Fa: problem.Message("fa")})
		_, _ = io.Copy(io.Discard, part) // go on to the next part
		return nil
	}
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "could not read document "+kind+": "+err.Error())
	}
	ext := map[string]string{documents.FormatJPEG: ".jpg", documents.FormatBMP: ".bmp"}[doc.Format]
	objectKey := string(s.code) + "/" + kind + ext
	if _, err := h.Objects.PutObject(ctx, h.Config.Storage.DocumentsBucket, objectKey, bytes.NewReader(content), int64(len(content)),
		minio.PutObjectOptions{ContentType: "image/" + doc.Format}); err != nil {
		return fmt.Errorf("store document: %w", err)
	}
	s.documents = append(s.documents, stored{kind: kind, doc: doc, key: objectKey})
	return nil
}

// checkFields validates the applicant's fields and the documents against the service.
func (s *submission) checkFields(missionActive func(string) (bool, error)) {
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
	if active, err := missionActive(s.mission); err != nil || !active {
		add("mission", "unknown", "Choose one of the open embassies or consulates.", "یکی از سفارتخانه‌ها یا کنسولگری‌های فعال را انتخاب کنید.")
	}
	if s.service.Code == "" {
		return
	}
	have := map[string]bool{}
	for _, d := range s.documents {
		have[d.kind] = true
		if _, ok := s.service.Document(d.kind); !ok {
			add("document."+d.kind, "unexpected", "This service does not take this document.", "این خدمت چنین مدرکی نمی‌خواهد.")
		}
	}
	for _, p := range s.problems {
		if kind, ok := strings.CutPrefix(p.Field, "document."); ok {
			have[kind] = true // refused already, with its own reason
		}
	}
	for _, spec := range s.service.Documents {
		if spec.Required && !have[spec.Kind] {
			add("document."+spec.Kind, "required", spec.Name.En+" is required.", spec.Name.Fa+" لازم است.")
		}
	}
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
	Key       string // idempotency key: the same key gives the same request
	Code      consular.TrackingCode
	Service   string
	Mission   string
	Applicant Applicant
	Documents []StoredDocument
}

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

// Submit saves the application and starts its workflow. saved is true when
// this application is the one kept, even if its workflow could not be
// started (a retry with the same key starts it): its documents are then in
// use and must stay. saved is false when saving failed or the key was
// submitted before: then the earlier request is returned and the caller
// deletes what it stored for this attempt.
func (h *Handlers) Submit(ctx context.Context, a Application) (out Submitted, saved bool, err error) {
	rec := record{key: a.Key, code: a.Code, service: a.Service, mission: a.Mission, submittedAt: time.Now().UTC().Truncate(time.Second)}
	winner, err := h.save(ctx, a, rec)
	if err != nil {
		return out, false, err
	}
	out, err = h.start(ctx, winner)
	return out, winner.code == a.Code, err
}

// record is a saved submission: enough to start (or restart) its workflow.
type record struct {
	key, service, mission string
	code                  consular.TrackingCode
	submittedAt           time.Time
	documents             []activities.DocumentRef
}

// save writes the submission, the applicant and the documents in one
// transaction. If another call with the same key saved first, it returns that one.
func (h *Handlers) save(ctx context.Context, a Application, rec record) (record, error) {
	tx, err := h.DB.Begin(ctx)
	if err != nil {
		return rec, err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at, start_pending)
		VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (idempotency_key) DO NOTHING`,
		rec.key, string(rec.code), rec.service, rec.mission, rec.submittedAt)
	if err != nil {
		return rec, fmt.Errorf("save submission: %w", err)
	}
	if tag.RowsAffected() == 0 {
		tx.Rollback(ctx)
		other, err := h.findSubmission(ctx, rec.key)
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
	for _, d := range a.Documents {
		if _, err := tx.Exec(ctx, `INSERT INTO request_documents (tracking_code, kind, object_key, file_name, format, size_bytes, sha256)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, string(rec.code), d.Kind, d.ObjectKey, d.FileName, d.Format, d.Size, d.SHA256); err != nil {
			return rec, fmt.Errorf("save document: %w", err)
		}
		rec.documents = append(rec.documents, activities.DocumentRef{Kind: d.Kind, ObjectKey: d.ObjectKey, SHA256: d.SHA256})
	}
	return rec, tx.Commit(ctx)
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// findSubmission loads a saved submission by its idempotency key, or nil.
func (h *Handlers) findSubmission(ctx context.Context, key string) (*record, error) {
	rec := record{key: key}
	var code string
	err := h.DB.QueryRow(ctx, `SELECT tracking_code, service_code, mission_code, submitted_at FROM submissions WHERE idempotency_key = $1`, key).
		Scan(&code, &rec.service, &rec.mission, &rec.submittedAt)
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
	rec.documents, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (activities.DocumentRef, error) {
		var d activities.DocumentRef
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
		ReceiptURL:   ReceiptURL(h.Config.Keys.Links, string(rec.code)),
	}, nil
}

// startWorkflow starts the request's workflow (one running or run already
// counts as started) and clears the submission's start_pending.
func (h *Handlers) startWorkflow(ctx context.Context, rec record) error {
	policy := workflows.Policy{Deadline: h.Config.Requests.Deadline, Reminders: h.Config.Requests.Reminders, Retention: h.Config.Requests.Retention}
	if svc, ok := consular.ServiceByCode(rec.service); ok {
		policy.FourEyes = svc.FourEyes
	}
	_, err := h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       string(rec.code),
		TaskQueue:                h.Config.Temporal.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.Request, workflows.RequestInput{
		TrackingCode: string(rec.code), ServiceCode: rec.service, MissionCode: rec.mission,
		SubmittedAt: rec.submittedAt, Documents: rec.documents, Policy: policy,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
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
		rows, err := h.DB.Query(ctx, `SELECT idempotency_key FROM submissions
			WHERE start_pending AND submitted_at < now() - $1::interval ORDER BY submitted_at OFFSET $2 LIMIT $3`, olderThan, failed, batch)
		if err != nil {
			return n, err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return n, err
		}
		for _, key := range keys {
			rec, err := h.findSubmission(ctx, key)
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
		if len(keys) < batch {
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

// ReceiptURL is where the submitter downloads the receipt.
func ReceiptURL(linkKey []byte, code string) string {
	return "/api/v1/requests/" + code + "/receipt?token=" + ReceiptToken(linkKey, code)
}

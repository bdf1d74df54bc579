// Package submission is the applicant's submission, apart from HTTP: the one
// path by which a request enters the system, whether the portal or an API
// client sends it. An application is checked against its service (Validate),
// saved with its applicant and documents in one transaction, keyed by its
// caller's idempotency key so a retry gives the same request, and its
// workflow started (request.Start); a start that failed is started later by
// StartPending. Its documents are checked and stored under the tracking code
// (StoreDocument) before the application is submitted.
package submission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/workflows/request"
)

// Submitter takes applications in: it saves them and starts their workflows.
type Submitter struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Temporal client.Client
	Objects  *minio.Client
	Logger   *slog.Logger
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

// Submitted is the answer to a submission, the same for its retries.
type Submitted struct {
	TrackingCode string
	Mission      string
	Deadline     time.Time
	ReceiptURL   string
}

// Refused is an application its service's check refused: nothing was saved.
// It is the domain's "invalid": the problems name each field.
type Refused struct{ Problems []consular.Problem }

func (r *Refused) Error() string {
	var names []string
	for _, p := range r.Problems {
		names = append(names, p.Field+": "+p.Reason)
	}
	return "the application does not meet its service's definition: " + strings.Join(names, ", ")
}

// ErrNotStarted says the request was saved but its workflow could not be
// started (Temporal unreachable): retrying with the same key finishes it,
// and StartPending starts it if nobody retries.
var ErrNotStarted = errors.New("the request was saved but could not be started; retry with the same idempotency key")

// Validate checks an application against its service (the service's
// fields, its documents, an open mission): the one check every submission
// passes, the portal's and the API's. It returns the fields normalised as
// they are stored. The document kinds in refused count as supplied: their
// own check has named them already. Callers check first to show the
// problems in their own words; Submit checks again, so no path can skip it.
func (s *Submitter) Validate(ctx context.Context, a Application, refused ...string) (map[string]string, []consular.Problem, error) {
	svc, ok := consular.ServiceByCode(a.Service)
	if !ok {
		return nil, []consular.Problem{{Field: "service", Reason: "unknown"}}, nil
	}
	open, err := s.MissionOpen(ctx, a.Mission)
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

// MissionOpen reports whether a mission exists and takes submissions.
func (s *Submitter) MissionOpen(ctx context.Context, code string) (bool, error) {
	var active bool
	err := s.DB.QueryRow(ctx, "SELECT active FROM missions WHERE code = $1", code).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return active, err
}

// Submit checks the application against its service (Validate: a *Refused
// error names what is wrong), saves it and starts its workflow. saved is
// true when this application is the one kept, even if its workflow could not
// be started (ErrNotStarted; a retry with the same key starts it): its
// documents are then in use and must stay. saved is false when saving failed
// or the key was submitted before: then the earlier request is returned and
// the caller deletes what it stored for this attempt (Discard).
func (s *Submitter) Submit(ctx context.Context, a Application) (out Submitted, saved bool, err error) {
	if a.Caller == "" || a.Key == "" {
		return out, false, errors.New("submit: an application needs its caller and idempotency key")
	}
	if _, problems, err := s.Validate(ctx, a); err != nil {
		return out, false, err
	} else if len(problems) > 0 {
		return out, false, &Refused{Problems: problems}
	}
	rec := record{caller: a.Caller, key: a.Key, code: a.Code, service: a.Service, mission: a.Mission, submittedAt: time.Now().UTC().Truncate(time.Second)}
	winner, err := s.save(ctx, a, rec)
	if err != nil {
		return out, false, err
	}
	out, err = s.start(ctx, winner)
	return out, winner.code == a.Code, err
}

// Repeat answers a retry before anything is read or stored: the request the
// caller submitted before with this key (its workflow started now if it had
// not been), and found false if there is none.
func (s *Submitter) Repeat(ctx context.Context, caller, key string) (out Submitted, found bool, err error) {
	done, err := s.find(ctx, caller, key)
	if err != nil || done == nil {
		return out, false, err
	}
	out, err = s.start(ctx, *done)
	return out, true, err
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
func (s *Submitter) save(ctx context.Context, a Application, rec record) (record, error) {
	tx, err := s.DB.Begin(ctx)
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
		other, err := s.find(ctx, rec.caller, rec.key)
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

// find loads the caller's saved submission by its idempotency key, or nil:
// another caller's key is not found.
func (s *Submitter) find(ctx context.Context, caller, key string) (*record, error) {
	return s.load(ctx, "caller = $1 AND idempotency_key = $2", caller, key)
}

// load loads the saved submission where says, or nil.
func (s *Submitter) load(ctx context.Context, where string, args ...any) (*record, error) {
	var rec record
	var code string
	err := s.DB.QueryRow(ctx, `SELECT caller, idempotency_key, tracking_code, service_code, mission_code, submitted_at FROM submissions WHERE `+where, args...).
		Scan(&rec.caller, &rec.key, &code, &rec.service, &rec.mission, &rec.submittedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up submission: %w", err)
	}
	rec.code = consular.TrackingCode(code)
	rows, err := s.DB.Query(ctx, `SELECT kind, object_key, sha256 FROM request_documents WHERE tracking_code = $1 ORDER BY kind`, code)
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
func (s *Submitter) start(ctx context.Context, rec record) (Submitted, error) {
	if err := s.startWorkflow(ctx, rec); err != nil {
		s.Logger.ErrorContext(ctx, "start request workflow", "tracking_code", rec.code, "err", err)
		return Submitted{}, ErrNotStarted
	}
	return s.answer(rec), nil
}

// answer is the submission's answer: its deadline and receipt link.
func (s *Submitter) answer(rec record) Submitted {
	deadline := rec.submittedAt.Add(s.Config.Requests.Deadline).UTC() // the same in every answer, first or repeated
	return Submitted{TrackingCode: string(rec.code), Mission: rec.mission, Deadline: deadline,
		ReceiptURL: ReceiptURL(s.Config.Keys.Receipts, string(rec.code), deadline)}
}

// Find is the answer of the request submitted under code (the portal's
// success page shows it again), or consular.ErrNotFound.
func (s *Submitter) Find(ctx context.Context, code string) (Submitted, error) {
	rec, err := s.load(ctx, "tracking_code = $1", code)
	if err != nil {
		return Submitted{}, err
	}
	if rec == nil {
		return Submitted{}, consular.ErrNotFound
	}
	return s.answer(*rec), nil
}

// startWorkflow starts the request's workflow (one running or run already
// counts as started) and clears the submission's start_pending.
func (s *Submitter) startWorkflow(ctx context.Context, rec record) error {
	cfg := s.Config
	policy := request.Policy{Deadline: cfg.Requests.Deadline, Reminders: cfg.Requests.Reminders, Retention: cfg.Requests.Retention,
		MaxReschedules: cfg.Booking.MaxReschedules, ChangeCutoff: cfg.Booking.ChangeCutoff}
	if svc, ok := consular.ServiceByCode(rec.service); ok {
		policy.FourEyes = svc.FourEyes
	}
	if err := request.Start(ctx, s.Temporal, cfg.Temporal.TaskQueue, request.Input{
		TrackingCode: string(rec.code), ServiceCode: rec.service, MissionCode: rec.mission,
		SubmittedAt: rec.submittedAt, Documents: rec.documents, Policy: policy,
	}); err != nil {
		return err
	}
	// If this write fails the request still runs: StartPending starts it
	// again later, which finds it running.
	if _, err := s.DB.Exec(ctx, "UPDATE submissions SET start_pending = false WHERE tracking_code = $1 AND start_pending", string(rec.code)); err != nil {
		s.Logger.WarnContext(ctx, "mark request started", "tracking_code", rec.code, "err", err)
	}
	return nil
}

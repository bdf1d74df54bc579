package requests

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/api/serviceerror"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/audit"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/submission"
	"github.com/openconsular/consular/internal/totpsecret"
	"github.com/openconsular/consular/workflows/request"
)

// trackingCode reads the :code parameter; a mistyped code is refused by its
// check digit before any lookup.
func trackingCode(c *fiber.Ctx) (string, error) {
	code, err := consular.ParseTrackingCode(c.Params("code"))
	if err != nil {
		return "", fiber.NewError(fiber.StatusBadRequest, "the tracking code is not valid: check it for a mistyped digit")
	}
	return string(code), nil
}

// receiptWait is how long a download waits for the workflow to issue a
// receipt just submitted.
const receiptWait = 15 * time.Second

// receipt serves the receipt PDF to the holder of the submission's token.
func (h *Handlers) receipt(c *fiber.Ctx) error {
	code, err := trackingCode(c)
	if err != nil {
		return err
	}
	if !submission.TokenNames(h.Config.Keys.Receipts, c.Query("token"), code, time.Now()) {
		return fiber.NewError(fiber.StatusNotFound, "no receipt here")
	}
	ctx := c.UserContext()
	bucket, key := h.Config.Storage.ReceiptsBucket, storage.ReceiptKey(code)
	for waited := time.Duration(0); ; waited += 250 * time.Millisecond {
		_, err := h.Objects.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		if err == nil {
			break
		}
		if minio.ToErrorResponse(err).Code != minio.NoSuchKey {
			return err
		}
		var status string
		_ = h.DB.QueryRow(ctx, "SELECT status FROM requests WHERE tracking_code = $1", code).Scan(&status)
		if status == string(consular.StatusRejectedDocuments) {
			return fiber.NewError(fiber.StatusNotFound, "no receipt: the documents were refused; the email you received says why")
		}
		if waited >= receiptWait {
			c.Set(fiber.HeaderRetryAfter, "5")
			return fiber.NewError(fiber.StatusServiceUnavailable, "the receipt is still being prepared; try again in a few seconds")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	obj, err := h.Objects.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer obj.Close()
	pdf, err := io.ReadAll(obj)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="receipt-`+code+`.pdf"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(pdf)
}

// Actor is the staff member a JSON staff call acts as: always the owner of
// the token, never anything the body says.
type Actor struct {
	ID      int64
	Email   string
	Role    string
	Mission string // "" for admins
}

const actorLocal = "staff_actor"

// DevelopmentMember is who the shared development key
// (CONSULAR_STAFF_API_KEY, never in production) acts as: an admin account
// created on first use, without a password, so it cannot sign in, but its
// actions are as much someone's as any member's.
const DevelopmentMember = "development@consular.invalid"

// staffOnly admits a staff member's API token (api staff token), for the
// requests of their mission only (admins: every mission); another mission's
// request is a 404. The token's owner is handed to the handler as the
// actor. Outside production the shared development key acts as
// DevelopmentMember.
func (h *Handlers) staffOnly(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	unauthorised := func() error {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="consular staff"`)
		return h.staffAnswer(c, consular.ErrUnauthenticated)
	}
	if !ok || token == "" {
		return unauthorised()
	}
	ctx := c.UserContext()
	var a Actor
	var mission *string
	var err error
	if h.Config.Env != config.Production && h.Config.Keys.StaffAPI != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.Config.Keys.StaffAPI)) == 1 {
		a, err = h.developmentMember(ctx)
	} else {
		sum := sha256.Sum256([]byte(token))
		err = h.DB.QueryRow(ctx, "SELECT id, email, role, mission_code FROM staff WHERE api_token_hash = $1 AND disabled_at IS NULL", sum[:]).
			Scan(&a.ID, &a.Email, &a.Role, &mission)
		if mission != nil {
			a.Mission = *mission
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return unauthorised()
	}
	if err != nil {
		return fmt.Errorf("find the token's staff member: %w", err)
	}
	if a.Role != staffpolicy.Admin {
		code, err := trackingCode(c)
		if err != nil {
			return err
		}
		var requestMission string
		if err := h.DB.QueryRow(ctx, "SELECT mission_code FROM requests WHERE tracking_code = $1", code).Scan(&requestMission); err != nil ||
			a.Mission == "" || requestMission != a.Mission {
			return h.staffAnswer(c, consular.ErrNotFound) // another mission's request is not found either
		}
	}
	c.Locals(actorLocal, a)
	return c.Next()
}

// developmentMember finds, or creates, the account the development key
// acts as. A disabled one stops the key.
func (h *Handlers) developmentMember(ctx context.Context) (Actor, error) {
	a := Actor{Email: DevelopmentMember}
	find := func() error {
		var mission *string
		err := h.DB.QueryRow(ctx, "SELECT id, role, mission_code FROM staff WHERE email = $1 AND disabled_at IS NULL", DevelopmentMember).
			Scan(&a.ID, &a.Role, &mission)
		if mission != nil {
			a.Mission = *mission
		}
		return err
	}
	err := find()
	if !errors.Is(err, pgx.ErrNoRows) {
		return a, err
	}
	box, err := totpsecret.New(h.Config.Keys.TOTP)
	if err != nil {
		return a, err
	}
	raw := make([]byte, 20)
	_, _ = rand.Read(raw)
	sealed, err := box.Seal(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	if err != nil {
		return a, err
	}
	if _, err := h.DB.Exec(ctx, `INSERT INTO staff (email, role, totp_secret, totp_key_id) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING`,
		DevelopmentMember, staffpolicy.Admin, sealed.Value, sealed.KeyID); err != nil {
		return a, fmt.Errorf("create the development member: %w", err)
	}
	return a, find()
}

// record writes a JSON staff call to the audit log, the same line the
// dashboard writes for the same action; a failure to write it is logged
// loudly, never hidden.
func (h *Handlers) record(c *fiber.Ctx, a Actor, action staffpolicy.Action, code, outcome, detail string) {
	if err := audit.Write(c.UserContext(), h.DB, audit.Entry{StaffID: a.ID, Actor: a.Email, Role: a.Role, Mission: a.Mission,
		Action: string(action), Code: code, IP: c.IP(), Outcome: outcome, Detail: detail}); err != nil {
		h.Logger.ErrorContext(c.UserContext(), "audit log write failed", "action", string(action), "err", err)
	}
}

// status answers the workflow's status query.
func (h *Handlers) status(c *fiber.Ctx) error {
	code, err := trackingCode(c)
	if err != nil {
		return err
	}
	view, err := request.Status(c.UserContext(), h.Temporal, code)
	if err != nil {
		return h.staffAnswer(c, h.ended(c.UserContext(), code, err))
	}
	return c.JSON(view)
}

// actionArgs reads an action's input from the call; the actor and the
// role's permission are given, never read from the body. detail is the
// audit line's (nothing personal).
type actionArgs func(c *fiber.Ctx, a Actor, may staffpolicy.Permission) (in any, detail string, err error)

// update sends one of the workflow's updates (the one named like the
// action) and answers with the request's new status, after asking the
// policy table whether the actor's role may; every call, allowed or not,
// is audited. The Idempotency-Key header becomes the update ID, per actor:
// Temporal answers a repeated call with the first call's result and applies
// it once.
func (h *Handlers) update(action staffpolicy.Action, args actionArgs) fiber.Handler {
	return func(c *fiber.Ctx) error {
		code, err := trackingCode(c)
		if err != nil {
			return err
		}
		a := c.Locals(actorLocal).(Actor)
		may := staffpolicy.May(a.Role, action)
		if !may.Permitted() {
			h.record(c, a, action, code, audit.Refused, "not allowed for the role "+a.Role)
			return h.staffAnswer(c, &consular.RoleError{Role: a.Role, Action: string(action)})
		}
		in, detail, err := args(c, a, may)
		if err != nil {
			var fe *fiber.Error
			if errors.As(err, &fe) {
				h.record(c, a, action, code, audit.Refused, fe.Message)
			}
			return err
		}
		id := strings.Clone(c.Get("Idempotency-Key"))
		if id == "" {
			id = randomID()
		}
		name := string(action) // the workflow's update of the same name
		var view request.StatusView
		if appointment, ok := in.(appointmentChange); ok {
			view, err = h.changeAppointment(c, a, code, action, appointment)
		} else {
			view, err = request.Act(c.UserContext(), h.Temporal, code, name, fmt.Sprintf("%s:%d:%s", name, a.ID, id), in)
		}
		err = h.ended(c.UserContext(), code, err)
		if answer, ok := web.AnswerFor(err, true); ok {
			outcome := audit.OK
			if answer.Status >= 400 {
				outcome = audit.Refused
			}
			h.record(c, a, action, code, outcome, h.Messages.T("en", answer.Key, answer.Args...))
			return answer.JSON(c, h.Messages)
		}
		if err != nil {
			h.record(c, a, action, code, audit.Failed, err.Error())
			return err
		}
		h.record(c, a, action, code, audit.OK, detail)
		return c.JSON(view)
	}
}

// staffAnswer sends a domain outcome to staff as the table says.
func (h *Handlers) staffAnswer(c *fiber.Ctx, err error) error {
	if answer, ok := web.AnswerFor(err, true); ok {
		return answer.JSON(c, h.Messages)
	}
	return err
}

// ended tells staff why the request's workflow no longer answers: it has
// ended in the status the projection keeps (*consular.ClosedError), or
// there is no such request (consular.ErrNotFound). Other errors pass.
func (h *Handlers) ended(ctx context.Context, code string, err error) error {
	var refused *request.RefusedError
	var notFound *serviceerror.NotFound
	if !(errors.As(err, &refused) && refused.Closed) && !errors.As(err, &notFound) {
		return err
	}
	var status string
	if h.DB.QueryRow(ctx, "SELECT status FROM requests WHERE tracking_code = $1", code).Scan(&status) == nil {
		return &consular.ClosedError{Status: consular.Status(status)}
	}
	return consular.ErrNotFound
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func badRequest(msg string) error { return fiber.NewError(fiber.StatusBadRequest, msg) }

// The bodies' staff_id, which older clients send, is not read: the actor
// is the token's owner.

// appointmentChange is a booking, a move or a cancellation by staff: it
// goes through the appointment system (a seat in the slot, the workflow's
// rules), not straight to the workflow.
type appointmentChange struct{ At time.Time }

func appointmentArgs(c *fiber.Ctx, _ Actor, _ staffpolicy.Permission) (any, string, error) {
	var body struct {
		At time.Time `json:"at"`
	}
	if err := c.BodyParser(&body); err != nil || body.At.IsZero() {
		return nil, "", badRequest(`send {"at": "2026-12-01T09:30:00+01:00"}, one of the mission's slots`)
	}
	at := body.At.UTC()
	return appointmentChange{At: at}, at.Format(time.RFC3339), nil
}

func cancelArgs(*fiber.Ctx, Actor, staffpolicy.Permission) (any, string, error) {
	return appointmentChange{}, "", nil
}

// changeAppointment books, moves or cancels the request's appointment on
// the mission's behalf, at the member's mission only, and answers with the
// request's status after it.
func (h *Handlers) changeAppointment(c *fiber.Ctx, a Actor, code string, action staffpolicy.Action, in appointmentChange) (request.StatusView, error) {
	ctx := c.UserContext()
	r, err := h.Appointments.ForStaff(ctx, code, a.Mission, strconv.FormatInt(a.ID, 10))
	if err != nil {
		return request.StatusView{}, err
	}
	switch action {
	case staffpolicy.Book:
		_, err = h.Appointments.Book(ctx, r, in.At)
	case staffpolicy.Reschedule:
		_, err = h.Appointments.Reschedule(ctx, r, in.At)
	default:
		err = h.Appointments.Cancel(ctx, r)
	}
	if err != nil {
		return request.StatusView{}, err
	}
	return request.Status(ctx, h.Temporal, code)
}

// staffArgs is the input of an action that needs nothing but who acts.
func staffArgs(_ *fiber.Ctx, a Actor, _ staffpolicy.Permission) (any, string, error) {
	return request.StaffInput{StaffID: strconv.FormatInt(a.ID, 10)}, "", nil
}

// decisionArgs: a supervisor's or an admin's decision is final; an
// officer's is a proposal the workflow holds for a supervisor where the
// service's four-eyes rule says so, as on the dashboard.
func decisionArgs(c *fiber.Ctx, a Actor, may staffpolicy.Permission) (any, string, error) {
	var body struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	if err := c.BodyParser(&body); err != nil {
		return nil, "", badRequest(`send {"decision": "approved|rejected|completed", "reason": "..."}`)
	}
	d := request.Decision{Decision: consular.Status(strings.Clone(body.Decision)), Reason: strings.TrimSpace(body.Reason),
		StaffID: strconv.FormatInt(a.ID, 10), Confirmed: may == staffpolicy.Allowed}
	return d, string(d.Decision), nil
}

func extensionArgs(c *fiber.Ctx, a Actor, _ staffpolicy.Permission) (any, string, error) {
	var body struct {
		Until  time.Time `json:"until"`
		Days   int       `json:"days"`
		Reason string    `json:"reason"`
	}
	if err := c.BodyParser(&body); err != nil || (body.Until.IsZero() && body.Days <= 0) {
		return nil, "", badRequest(`send {"until": "2027-03-01T00:00:00Z"} or {"days": 30}, with "reason"`)
	}
	in := request.ExtendInput{Until: body.Until.UTC(), Reason: strings.TrimSpace(body.Reason), StaffID: strconv.FormatInt(a.ID, 10)}
	detail := "until " + in.Until.Format(time.RFC3339)
	if body.Days > 0 {
		in.Until = time.Time{}
		in.Days = body.Days
		detail = strconv.Itoa(body.Days) + " days"
	}
	return in, detail, nil
}

func withdrawalArgs(*fiber.Ctx, Actor, staffpolicy.Permission) (any, string, error) {
	return request.WithdrawInput{}, "", nil
}

package requests

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/workflows"
)

// ReceiptToken lets the submitter, and only them, download the receipt
// until expires (the request's deadline, after which a visit is no longer
// possible): the tracking code alone must not be enough.
func ReceiptToken(key []byte, code string, expires time.Time) string {
	return consular.SignLink(key, code, expires)
}

// TokenNames says whether token was signed with key for this tracking code
// and has not expired.
func TokenNames(key []byte, token, code string, now time.Time) bool {
	signed, ok := consular.VerifyLink(key, token, now)
	return ok && subtle.ConstantTimeCompare([]byte(signed), []byte(code)) == 1
}

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
	if !TokenNames(h.Config.Keys.Receipts, c.Query("token"), code, time.Now()) {
		return fiber.NewError(fiber.StatusNotFound, "no receipt here")
	}
	ctx := c.UserContext()
	bucket, key := h.Config.Storage.ReceiptsBucket, activities.ReceiptKey(code)
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

// staffOnly admits a staff member's API token (api staff token), for the
// requests of their mission only (admins: every mission); another mission's
// request is a 404. Outside production the shared development key
// (CONSULAR_STAFF_API_KEY) is accepted too, for every mission.
func (h *Handlers) staffOnly(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	unauthorised := func() error {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="consular staff"`)
		return fiber.NewError(fiber.StatusUnauthorized, "a valid staff API token is required")
	}
	if !ok || token == "" {
		return unauthorised()
	}
	if h.Config.Env != config.Production && subtle.ConstantTimeCompare([]byte(token), []byte(h.Config.Keys.StaffAPI)) == 1 {
		return c.Next()
	}
	sum := sha256.Sum256([]byte(token))
	var role string
	var mission *string
	err := h.DB.QueryRow(c.UserContext(), "SELECT role, mission_code FROM staff WHERE api_token_hash = $1 AND disabled_at IS NULL", sum[:]).Scan(&role, &mission)
	if err != nil {
		return unauthorised()
	}
	if role != "admin" {
		code, err := trackingCode(c)
		if err != nil {
			return err
		}
		var requestMission string
		if err := h.DB.QueryRow(c.UserContext(), "SELECT mission_code FROM requests WHERE tracking_code = $1", code).Scan(&requestMission); err != nil ||
			mission == nil || requestMission != *mission {
			return fiber.NewError(fiber.StatusNotFound, "no request with this tracking code")
		}
	}
	return c.Next()
}

// status answers the workflow's status query.
func (h *Handlers) status(c *fiber.Ctx) error {
	code, err := trackingCode(c)
	if err != nil {
		return err
	}
	value, err := h.Temporal.QueryWorkflow(c.UserContext(), code, "", workflows.QueryStatus)
	if err != nil {
		return h.workflowError(c, code, err)
	}
	var view workflows.StatusView
	if err := value.Get(&view); err != nil {
		return err
	}
	return c.JSON(view)
}

// update sends one of the workflow's updates and answers with the request's
// new status. The Idempotency-Key header becomes the update ID: Temporal
// answers a repeated call with the first call's result and applies it once.
func (h *Handlers) update(name string, args func(*fiber.Ctx) (any, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		code, err := trackingCode(c)
		if err != nil {
			return err
		}
		in, err := args(c)
		if err != nil {
			return err
		}
		id := strings.Clone(c.Get("Idempotency-Key"))
		if id == "" {
			id = randomID()
		}
		handle, err := h.Temporal.UpdateWorkflow(c.UserContext(), client.UpdateWorkflowOptions{
			WorkflowID: code, UpdateID: name + ":" + id, UpdateName: name, Args: []any{in},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return h.workflowError(c, code, err)
		}
		var view workflows.StatusView
		if err := handle.Get(c.UserContext(), &view); err != nil {
			return h.workflowError(c, code, err)
		}
		return c.JSON(view)
	}
}

// workflowError turns Temporal's answers into HTTP ones: a refusal by the
// workflow's validator is a 409 with its reason, and so is an action on a
// request whose workflow has ended.
func (h *Handlers) workflowError(c *fiber.Ctx, code string, err error) error {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &appErr) && appErr.Type() == workflows.Refusal:
		return fiber.NewError(fiber.StatusConflict, appErr.Message())
	case errors.As(err, &notFound):
		var status string
		if h.DB.QueryRow(c.UserContext(), "SELECT status FROM requests WHERE tracking_code = $1", code).Scan(&status) == nil {
			return fiber.NewError(fiber.StatusConflict, "the request is "+status+"; nothing more can be done with it")
		}
		return fiber.NewError(fiber.StatusNotFound, "no request with this tracking code")
	}
	return err
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func badRequest(msg string) error { return fiber.NewError(fiber.StatusBadRequest, msg) }

func appointmentArgs(c *fiber.Ctx) (any, error) {
	var body struct {
		At time.Time `json:"at"`
	}
	if err := c.BodyParser(&body); err != nil || body.At.IsZero() {
		return nil, badRequest(`send {"at": "2026-12-01T09:30:00+01:00"}`)
	}
	return workflows.AppointmentInput{At: body.At.UTC()}, nil
}

func staffArgs(c *fiber.Ctx) (any, error) {
	var body struct {
		StaffID string `json:"staff_id"`
	}
	if len(c.Body()) > 0 {
		if err := c.BodyParser(&body); err != nil {
			return nil, badRequest(`send {"staff_id": "..."} or nothing`)
		}
	}
	return workflows.StaffInput{StaffID: strings.Clone(body.StaffID)}, nil
}

func decisionArgs(c *fiber.Ctx) (any, error) {
	var body struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
		StaffID  string `json:"staff_id"`
	}
	if err := c.BodyParser(&body); err != nil {
		return nil, badRequest(`send {"decision": "approved|rejected|completed", "reason": "...", "staff_id": "..."}`)
	}
	return workflows.Decision{Decision: consular.Status(body.Decision), Reason: strings.TrimSpace(body.Reason), StaffID: body.StaffID}, nil
}

func extensionArgs(c *fiber.Ctx) (any, error) {
	var body struct {
		Until   time.Time `json:"until"`
		Days    int       `json:"days"`
		Reason  string    `json:"reason"`
		StaffID string    `json:"staff_id"`
	}
	if err := c.BodyParser(&body); err != nil || (body.Until.IsZero() && body.Days <= 0) {
		return nil, badRequest(`send {"until": "2027-03-01T00:00:00Z"} or {"days": 30}, with "reason"`)
	}
	in := workflows.ExtendInput{Until: body.Until.UTC(), Reason: strings.TrimSpace(body.Reason), StaffID: body.StaffID}
	if body.Days > 0 {
		in.Until = time.Time{}
		in.Days = body.Days
	}
	return in, nil
}

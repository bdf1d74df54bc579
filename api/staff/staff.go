// Package staff is the consular staff's dashboard: sign-in with password and
// a TOTP code, the mission's queue of requests, a request's detail with its
// documents and timeline, and the actions that become Updates of the
// request's workflow. Every query is scoped in SQL to the staff member's
// mission (admins see all), and every sign-in and action is written to the
// append-only audit log.
package staff

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/pquerna/otp/totp"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/mail"
)

// Roles.
const (
	Officer    = "officer"    // one mission
	Supervisor = "supervisor" // one mission, with its audit log
	Admin      = "admin"      // every mission
)

// Lockout after repeated failed sign-ins.
const (
	maxFailures = 5
	lockFor     = 15 * time.Minute
)

// Dashboard serves /staff.
type Dashboard struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Temporal client.Client
	Objects  *minio.Client
	Render   *web.Renderer
	Sessions *web.Sessions // its own cookie and table, apart from applicants'
	SMTP     *mail.Server  // invitations to new staff
	Logger   *slog.Logger
}

// Member is the signed-in staff member.
type Member struct {
	ID      int64
	Email   string
	Role    string
	Mission string // "" for admins
}

// Register mounts the dashboard. Register it before the applicants' pages,
// so their session middleware never runs for /staff.
func (d *Dashboard) Register(app fiber.Router) {
	g := app.Group("/staff", web.SecurityHeaders, d.Sessions.Middleware)
	g.Get("/signin", d.signinForm)
	g.Post("/signin", d.signin)
	g.Post("/signout", d.signout)
	in := func(method, path string, h func(*fiber.Ctx, Member) error) {
		g.Add(method, path, func(c *fiber.Ctx) error {
			m, ok, err := d.member(c)
			if err != nil {
				return err
			}
			if !ok {
				return c.Redirect("/staff/signin", fiber.StatusSeeOther)
			}
			c.Locals(roleLocal, m.Role)
			return h(c, m)
		})
	}
	in(fiber.MethodGet, "/", d.queue)
	in(fiber.MethodGet, "/today", d.today)
	in(fiber.MethodGet, "/requests/:code", d.detail)
	in(fiber.MethodPost, "/requests/:code/:action", d.act)
	in(fiber.MethodGet, "/audit", d.audit)
	in(fiber.MethodGet, "/members", d.members)
	in(fiber.MethodPost, "/members", d.addMember)
	in(fiber.MethodPost, "/members/:id/:change", d.changeMember)
	in(fiber.MethodGet, "/clients", d.clients)
	in(fiber.MethodPost, "/clients", d.addClient)
	in(fiber.MethodPost, "/clients/:id/revoke", d.revokeClient)
	in(fiber.MethodGet, "/schedule", d.schedulePage)
	in(fiber.MethodPost, "/schedule", d.saveTemplates)
	in(fiber.MethodPost, "/schedule/closures", d.addClosure)
	in(fiber.MethodPost, "/schedule/closures/:id/delete", d.removeClosure)
	g.Get("/enrol/:token", d.enrolForm)
	g.Post("/enrol/:token", d.enrol)
}

// member is the staff member of this session, read afresh (a role or
// mission change applies at once).
func (d *Dashboard) member(c *fiber.Ctx) (Member, bool, error) {
	s := web.Current(c)
	if s == nil || s.AccountID == 0 {
		return Member{}, false, nil
	}
	var m Member
	var mission *string
	err := d.DB.QueryRow(c.UserContext(), "SELECT id, email, role, mission_code FROM staff WHERE id = $1 AND disabled_at IS NULL", s.AccountID).
		Scan(&m.ID, &m.Email, &m.Role, &mission)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if mission != nil {
		m.Mission = *mission
	}
	return m, err == nil, err
}

// scope is the mission a member's queries are limited to; nil for admins.
func (m Member) scope() *string {
	if m.Role == Admin {
		return nil
	}
	return &m.Mission
}

const roleLocal = "staff_role"

func (d *Dashboard) page(c *fiber.Ctx, title string, data any) *web.Page {
	pg := d.Render.PageFor(c, title, data, d.Sessions.Idle)
	pg.Staff = true
	pg.StaffRole, _ = c.Locals(roleLocal).(string)
	return pg
}

type signinData struct{}

func (d *Dashboard) signinForm(c *fiber.Ctx) error {
	pg := d.page(c, "staff.signin.title", signinData{})
	pg.Form = web.NewForm()
	if c.Query("notice") == "enrolled" {
		pg.Notice = "staff.enrol.done"
	}
	return d.Render.Render(c, fiber.StatusOK, "staff_signin", pg)
}

// signin checks password and TOTP code; five failures lock the account
// for a quarter of an hour. Every attempt is audited.
func (d *Dashboard) signin(c *fiber.Ctx) error {
	ctx := c.UserContext()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	form := web.NewForm()
	form.Values["email"] = email
	var m Member
	var mission *string
	var hash *string // none until the invitation is accepted
	var secret string
	var failures int
	var locked *time.Time
	var disabled bool
	err := d.DB.QueryRow(ctx, `SELECT id, role, mission_code, password_hash, totp_secret, failed_attempts, locked_until, disabled_at IS NOT NULL
		FROM staff WHERE email = $1`, email).
		Scan(&m.ID, &m.Role, &mission, &hash, &secret, &failures, &locked, &disabled)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	m.Email = email
	if mission != nil {
		m.Mission = *mission
	}
	outcome := "failed"
	switch {
	case m.ID != 0 && locked != nil && locked.After(time.Now()):
		form.Fail("email", "staff.locked")
		outcome = "locked"
	case m.ID == 0 || hash == nil:
		form.Fail("password", "staff.signin_failed")
	case disabled: // said no differently from a wrong password
		form.Fail("password", "staff.signin_failed")
		outcome = "disabled"
	default:
		ok, _ := argon2id.ComparePasswordAndHash(c.FormValue("password"), *hash)
		step, valid := totpStep(c.FormValue("totp"), secret, time.Now())
		if ok && valid {
			// A code works once: one seen on the way (over a shoulder, by a
			// proxy) does not open a second session.
			tag, err := d.DB.Exec(ctx, "UPDATE staff SET totp_step = $2 WHERE id = $1 AND (totp_step IS NULL OR totp_step < $2)", m.ID, step)
			if err != nil {
				return err
			}
			ok = tag.RowsAffected() == 1
		}
		if ok && valid {
			outcome = "ok"
		} else {
			form.Fail("password", "staff.signin_failed")
		}
	}
	if m.ID != 0 && outcome != "locked" && outcome != "disabled" {
		if outcome == "ok" {
			_, err = d.DB.Exec(ctx, "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = $1", m.ID)
		} else {
			_, err = d.DB.Exec(ctx, `UPDATE staff SET failed_attempts = failed_attempts + 1,
				locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN now() + make_interval(secs => $3) END WHERE id = $1`,
				m.ID, maxFailures, lockFor.Seconds())
		}
		if err != nil {
			return err
		}
	}
	d.record(ctx, c, m, "sign_in", "", outcome, "")
	if outcome != "ok" {
		pg := d.page(c, "staff.signin.title", signinData{})
		pg.Form = form
		return d.Render.Render(c, fiber.StatusUnprocessableEntity, "staff_signin", pg)
	}
	if err := d.Sessions.Rotate(c, m.ID); err != nil {
		return err
	}
	return c.Redirect("/staff/", fiber.StatusSeeOther)
}

func (d *Dashboard) signout(c *fiber.Ctx) error {
	if err := d.Sessions.End(c); err != nil {
		return err
	}
	return c.Redirect("/staff/signin", fiber.StatusSeeOther)
}

// totpStep finds the 30-second step whose code was typed, allowing one
// step of clock drift either way.
func totpStep(code, secret string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(consular.NormalizeDigits(code))
	if len(code) != 6 {
		return 0, false
	}
	for _, drift := range []int64{0, -1, 1} {
		step := now.Unix()/30 + drift
		want, err := totp.GenerateCode(secret, time.Unix(step*30, 0))
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// record appends to the audit log; a failure to write it is logged loudly,
// never hidden.
func (d *Dashboard) record(ctx context.Context, c *fiber.Ctx, m Member, action, trackingCode, outcome, detail string) {
	var mission, code *string
	if m.Mission != "" {
		mission = &m.Mission
	}
	if trackingCode != "" {
		code = &trackingCode
	}
	var staffID *int64
	if m.ID != 0 {
		staffID = &m.ID
	}
	role := m.Role
	if role == "" {
		role = "unknown"
	}
	if _, err := d.DB.Exec(ctx, `INSERT INTO audit_log (staff_id, staff_email, role, mission_code, action, tracking_code, source_ip, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, staffID, m.Email, role, mission, action, code, c.IP(), outcome, detail); err != nil {
		d.Logger.ErrorContext(ctx, "audit log write failed", "action", action, "err", err)
	}
}

// IsAdmin reports whether the request carries a live staff admin session.
func (d *Dashboard) IsAdmin(c *fiber.Ctx) bool {
	s, err := d.Sessions.Lookup(c)
	if err != nil || s == nil || s.AccountID == 0 {
		return false
	}
	var role string
	err = d.DB.QueryRow(c.UserContext(), "SELECT role FROM staff WHERE id = $1", s.AccountID).Scan(&role)
	return err == nil && role == Admin
}

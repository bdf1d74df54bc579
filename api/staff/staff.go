// Package staff is the consular staff's dashboard: sign-in with password and
// a TOTP code, the mission's queue of requests, a request's detail with its
// documents and timeline, and the actions that become Updates of the
// request's workflow. Every query is scoped in SQL to the staff member's
// mission (admins see all), and every action, sign-in and lockout is written
// to the append-only audit log (failed sign-ins are counted per hour apart).
package staff

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/pquerna/otp/totp"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/audit"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/passwords"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/internal/totpsecret"
)

// Roles, as the policy table names them (package staffpolicy).
const (
	Officer    = staffpolicy.Officer    // one mission
	Supervisor = staffpolicy.Supervisor // one mission, with its audit log
	Admin      = staffpolicy.Admin      // every mission
)

// Lockout after repeated failed sign-ins: every fifth failure locks the
// account, for a minute the first time and twice as long each time after,
// up to a quarter of an hour; a success resets. Locks end by themselves, so
// nobody can lock a member out for good, and keeping one locked takes five
// guesses per lock from addresses that are each limited too.
const (
	maxFailures  = 5
	firstLock    = time.Minute
	longestLock  = 15 * time.Minute
	signinPerIP  = 50 // attempts per address per window: a mission's staff share one address
	signinWindow = 15 * time.Minute
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
	in(fiber.MethodGet, "/requests/:code/documents/:kind", d.document)
	in(fiber.MethodPost, "/requests/:code/corrections", d.correct) // before :action, which it would match
	in(fiber.MethodPost, "/requests/:code/:action", d.act)
	in(fiber.MethodGet, "/audit", d.audit)
	in(fiber.MethodGet, "/members", d.members)
	in(fiber.MethodPost, "/members", d.addMember)
	in(fiber.MethodPost, "/members/:id/:change", d.changeMember)
	in(fiber.MethodGet, "/clients", d.clients)
	in(fiber.MethodPost, "/clients", d.addClient)
	in(fiber.MethodPost, "/clients/:id/revoke", d.revokeClient)
	in(fiber.MethodGet, "/identity", d.identityForm)
	in(fiber.MethodPost, "/identity", d.moveIdentity)
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

// signin checks password and TOTP code. Whatever is wrong (the email, the
// password, the code, a lock, a disabled account) the answer is the same
// page, after the same argon2 work, so it tells nobody which.
func (d *Dashboard) signin(c *fiber.Ctx) error {
	ctx := c.UserContext()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	form := web.NewForm()
	form.Values["email"] = email
	// Per address first: locks can then be kept on only at this pace.
	if ok, until, err := (&web.Limiter{DB: d.DB}).Allow(ctx, "staff-signin:ip:"+c.IP(), signinPerIP, signinWindow); err != nil {
		return err
	} else if !ok {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(time.Until(until).Seconds())+1))
		form.Fail("email", "error.rate_limited", until.UTC().Format("15:04")+" UTC")
		return d.signinAgain(c, fiber.StatusTooManyRequests, form)
	}
	var a attempt
	ok, err := passwords.VerifyWith(ctx, c.FormValue("password"), func(ctx context.Context) (string, error) {
		var err error
		a, err = d.countAttempt(ctx, email)
		if err != nil || !a.checked() {
			return "", err // the dummy: same work as a real check
		}
		return *a.hash, nil
	})
	if errors.Is(err, passwords.ErrBusy) { // not counted: nothing was checked
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(passwords.RetryAfter))
		form.Fail("password", "error.busy", passwords.RetryAfter)
		return d.signinAgain(c, fiber.StatusTooManyRequests, form)
	}
	if err != nil {
		return err
	}
	if ok {
		secret, err := d.openSecret(a.secret)
		if err != nil {
			return err
		}
		step, valid := totpStep(c.FormValue("totp"), secret, time.Now())
		ok = valid
		if valid {
			// A code works once: one seen on the way (over a shoulder, by a
			// proxy) does not open a second session.
			tag, err := d.DB.Exec(ctx, "UPDATE staff SET totp_step = $2 WHERE id = $1 AND (totp_step IS NULL OR totp_step < $2)", a.member.ID, step)
			if err != nil {
				return err
			}
			ok = tag.RowsAffected() == 1
		}
	}
	if !ok {
		if a.startedLock() { // the audit log hears of a lock, not of each attempt
			d.record(ctx, c, a.member, "sign_in", "", "locked", fmt.Sprintf("%d failed attempts since the last sign-in; locked until %s",
				a.failures+a.refused, a.until.UTC().Format(time.RFC3339)))
		}
		form.Fail("password", "staff.signin_failed")
		return d.signinAgain(c, fiber.StatusUnprocessableEntity, form)
	}
	if err := d.signedIn(ctx, a); err != nil {
		return err
	}
	if err := d.sealOnFirstUse(ctx, a); err != nil {
		return err
	}
	detail := ""
	if n := a.failures - 1 + a.refused; n > 0 { // this attempt was counted too
		detail = fmt.Sprintf("%d failed attempts since the last sign-in", n)
	}
	d.record(ctx, c, a.member, "sign_in", "", "ok", detail)
	if err := d.Sessions.Rotate(c, a.member.ID); err != nil {
		return err
	}
	return c.Redirect("/staff/", fiber.StatusSeeOther)
}

func (d *Dashboard) signinAgain(c *fiber.Ctx, status int, form *web.Form) error {
	pg := d.page(c, "staff.signin.title", signinData{})
	pg.Form = form
	return d.Render.Render(c, status, "staff_signin", pg)
}

// attempt is one sign-in attempt as counted.
type attempt struct {
	member   Member
	hash     *string // none until the invitation is accepted
	secret   totpsecret.Stored
	disabled bool
	locked   bool      // the account was locked: turned away unchecked
	failures int       // checked attempts since the last sign-in, this one included
	refused  int       // attempts turned away while locked since the last sign-in
	until    time.Time // the lock's end, if any
	hour     time.Time // of staff_signin_failures where it was counted
}

// checked says whether the password of this attempt is compared with the
// member's: not while locked, not for a disabled or unenrolled account.
func (a attempt) checked() bool {
	return a.member.ID != 0 && !a.locked && !a.disabled && a.hash != nil
}

// startedLock says whether this attempt, failing, locked the account.
func (a attempt) startedLock() bool {
	return a.member.ID != 0 && !a.locked && a.failures%maxFailures == 0 && a.until.After(time.Now())
}

// countAttemptSQL counts an attempt before its password is checked, in one
// statement, so parallel attempts are counted one by one: an attempt that
// finds the account locked is refused unchecked; any other is counted as a
// failure (a success gives it back) and every maxFailures-th locks the
// account, for firstLock doubling each time up to longestLock. The
// subquery reads the row as it was (locked or not) under the same row lock.
// The attempt is also added to the member's failures of this hour here, so
// a failure costs no statement more than an unknown email does.
const countAttemptSQL = `
WITH a AS (
    UPDATE staff s SET
        failed_attempts  = s.failed_attempts + CASE WHEN o.locked THEN 0 ELSE 1 END,
        refused_attempts = s.refused_attempts + CASE WHEN o.locked THEN 1 ELSE 0 END,
        locked_until = CASE
            WHEN o.locked THEN s.locked_until
            WHEN (s.failed_attempts + 1) % $2 = 0 THEN now() + make_interval(secs =>
                least($3 * power(2, least((s.failed_attempts + 1) / $2 - 1, 16)), $4))
            ELSE s.locked_until END
    FROM (SELECT id, COALESCE(locked_until > now(), false) AS locked FROM staff WHERE email = $1 FOR UPDATE) o
    WHERE s.id = o.id
    RETURNING s.id, s.role, s.mission_code, s.password_hash, s.totp_secret, s.totp_key_id, s.disabled_at IS NOT NULL AS disabled,
        o.locked, s.failed_attempts, s.refused_attempts, s.locked_until
), hour AS (
    INSERT INTO staff_signin_failures AS f (staff_id, hour, wrong, refused)
    SELECT id, date_trunc('hour', now()), CASE WHEN locked THEN 0 ELSE 1 END, CASE WHEN locked THEN 1 ELSE 0 END FROM a
    ON CONFLICT (staff_id, hour) DO UPDATE SET wrong = f.wrong + EXCLUDED.wrong, refused = f.refused + EXCLUDED.refused
    RETURNING hour
)
SELECT a.*, hour.hour FROM a, hour`

// countAttempt counts an attempt on email; an unknown email counts nothing.
func (d *Dashboard) countAttempt(ctx context.Context, email string) (attempt, error) {
	a := attempt{member: Member{Email: email}}
	var mission *string
	var until *time.Time
	err := d.DB.QueryRow(ctx, countAttemptSQL, email, maxFailures, firstLock.Seconds(), longestLock.Seconds()).
		Scan(&a.member.ID, &a.member.Role, &mission, &a.hash, &a.secret.Value, &a.secret.KeyID, &a.disabled, &a.locked, &a.failures, &a.refused, &until, &a.hour)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("count sign-in attempt: %w", err)
	}
	if mission != nil {
		a.member.Mission = *mission
	}
	if until != nil {
		a.until = *until
	}
	return a, nil
}

// signedIn resets the lockout and gives back the failure this attempt was
// counted as.
func (d *Dashboard) signedIn(ctx context.Context, a attempt) error {
	if _, err := d.DB.Exec(ctx, "UPDATE staff SET failed_attempts = 0, refused_attempts = 0, locked_until = NULL WHERE id = $1", a.member.ID); err != nil {
		return fmt.Errorf("reset lockout: %w", err)
	}
	if _, err := d.DB.Exec(ctx, "UPDATE staff_signin_failures SET wrong = wrong - 1 WHERE staff_id = $1 AND hour = $2", a.member.ID, a.hour); err != nil {
		return fmt.Errorf("uncount sign-in: %w", err)
	}
	return nil
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

// record appends to the audit log (package audit, the writer every door
// shares); a failure to write it is logged loudly, never hidden.
func (d *Dashboard) record(ctx context.Context, c *fiber.Ctx, m Member, action, trackingCode, outcome, detail string) {
	if err := audit.Write(ctx, d.DB, audit.Entry{StaffID: m.ID, Actor: m.Email, Role: m.Role, Mission: m.Mission,
		Action: action, Code: trackingCode, IP: c.IP(), Outcome: outcome, Detail: detail}); err != nil {
		d.Logger.ErrorContext(ctx, "audit log write failed", "action", action, "err", err)
	}
}

// totp is the box of the staff's TOTP secrets, under CONSULAR_TOTP_KEY.
func (d *Dashboard) totp() (*totpsecret.Box, error) {
	return totpsecret.New(d.Config.Keys.TOTP)
}

// openSecret gives a stored TOTP secret in clear. An account that does not
// exist has none: its (empty) secret matches no code.
func (d *Dashboard) openSecret(s totpsecret.Stored) (string, error) {
	box, err := d.totp()
	if err != nil {
		return "", err
	}
	return box.Open(s)
}

// sealSecret encrypts a new TOTP secret for storing.
func (d *Dashboard) sealSecret(secret string) (totpsecret.Stored, error) {
	box, err := d.totp()
	if err != nil {
		return totpsecret.Stored{}, err
	}
	return box.Seal(secret)
}

// sealOnFirstUse encrypts a secret still in clear (from before migration
// 00020), or sealed under a key rotated out, once its member has signed in
// with it.
func (d *Dashboard) sealOnFirstUse(ctx context.Context, a attempt) error {
	box, err := d.totp()
	if err != nil {
		return err
	}
	if !box.Stale(a.secret) {
		return nil
	}
	if _, err := box.Reseal(ctx, d.DB, a.member.ID, a.secret); err != nil {
		return err
	}
	return nil
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

package staff

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/passwords"
	"github.com/openconsular/consular/internal/totpsecret"
)

// An invitation link works this long; a new one can be sent at any time.
const inviteValidity = 72 * time.Hour

// Staff passwords are longer than applicants'.
const minStaffPassword = 12

// Issuer is how authenticator apps name the account.
const Issuer = "Consular services"

// Account is a staff account as the members page lists it.
type Account struct {
	ID        int64
	Email     string
	Role      string
	Mission   string
	State     string // active, invited, invitation_expired, locked, disabled
	CreatedAt time.Time
}

// MissionChoice is a mission an admin may put a new member in.
type MissionChoice struct{ Code, NameFa, NameEn string }

type membersData struct {
	Member   Member
	Accounts []Account
	Roles    []string
	Missions []MissionChoice
	Changes  map[string][]string
}

// changes are what can be done to an account in each state.
var changes = map[string][]string{
	"active":             {"reinvite", "disable"},
	"locked":             {"unlock", "reinvite", "disable"},
	"invited":            {"reinvite", "disable"},
	"invitation_expired": {"reinvite", "disable"},
	"disabled":           {"enable"},
}

// roles a member may give: supervisors staff their own mission, admins any.
func (m Member) grantable() []string {
	switch m.Role {
	case Admin:
		return []string{Officer, Supervisor, Admin}
	case Supervisor:
		return []string{Officer, Supervisor}
	}
	return nil
}

const accountsSQL = `
SELECT id, email, role, COALESCE(mission_code, ''), created_at,
       CASE WHEN disabled_at IS NOT NULL THEN 'disabled'
            WHEN password_hash IS NULL AND invite_expires_at > now() THEN 'invited'
            WHEN password_hash IS NULL THEN 'invitation_expired'
            WHEN locked_until > now() THEN 'locked'
            ELSE 'active' END
FROM staff WHERE ($1::text IS NULL OR mission_code = $1)
ORDER BY COALESCE(mission_code, ''), role, email`

// members lists the accounts a supervisor (their mission's) or an admin
// (everyone's) manages, with the form to add one.
func (d *Dashboard) members(c *fiber.Ctx, m Member) error {
	notice := ""
	switch c.Query("notice") {
	case "":
	case "invited", "reinvite":
		notice = "staff.members.invited"
	default:
		notice = "staff.members.saved"
	}
	return d.renderMembers(c, m, fiber.StatusOK, web.NewForm(), notice)
}

func (d *Dashboard) renderMembers(c *fiber.Ctx, m Member, status int, form *web.Form, notice string) error {
	if m.Role == Officer {
		return fiber.ErrForbidden
	}
	ctx := c.UserContext()
	rows, err := d.DB.Query(ctx, accountsSQL, m.scope())
	if err != nil {
		return err
	}
	accounts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Account, error) {
		var a Account
		return a, row.Scan(&a.ID, &a.Email, &a.Role, &a.Mission, &a.CreatedAt, &a.State)
	})
	if err != nil {
		return err
	}
	data := &membersData{Member: m, Accounts: accounts, Roles: m.grantable(), Changes: changes}
	if m.Role == Admin {
		rows, err := d.DB.Query(ctx, "SELECT code, name_fa, name_en FROM missions WHERE active ORDER BY code")
		if err != nil {
			return err
		}
		if data.Missions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[MissionChoice]); err != nil {
			return err
		}
	}
	pg := d.page(c, "staff.members.title", data)
	pg.Form, pg.Notice = form, notice
	return d.Render.Render(c, status, "staff_members", pg)
}

// addMember creates an account without a password and emails the new
// member an invitation to set one and enrol an authenticator.
func (d *Dashboard) addMember(c *fiber.Ctx, m Member) error {
	if m.Role == Officer {
		return fiber.ErrForbidden
	}
	ctx := c.UserContext()
	form := web.NewForm()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	role, mission := c.FormValue("role"), c.FormValue("mission")
	form.Values["email"], form.Values["role"], form.Values["mission"] = email, role, mission
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		form.Fail("email", "error.email")
	}
	if !contains(m.grantable(), role) {
		form.Fail("role", "error.required")
	}
	switch {
	case m.Role != Admin:
		mission = m.Mission // a supervisor staffs their own mission only
	case role == Admin:
		mission = ""
	default:
		var active bool
		if err := d.DB.QueryRow(ctx, "SELECT active FROM missions WHERE code = $1", mission).Scan(&active); err != nil || !active {
			form.Fail("mission", "error.required")
		}
	}
	if !form.OK() {
		return d.renderMembers(c, m, fiber.StatusUnprocessableEntity, form, "")
	}
	token, hash, secret, err := newInvitation()
	if err != nil {
		return err
	}
	sealed, err := d.sealSecret(secret)
	if err != nil {
		return err
	}
	var missionCode *string
	if mission != "" {
		missionCode = &mission
	}
	_, err = d.DB.Exec(ctx, `INSERT INTO staff (email, role, mission_code, totp_secret, totp_key_id, invite_hash, invite_expires_at, added_by)
		VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8)`,
		email, role, missionCode, sealed.Value, sealed.KeyID, hash, inviteValidity.Seconds(), m.ID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		form.Fail("email", "staff.members.exists")
		return d.renderMembers(c, m, fiber.StatusUnprocessableEntity, form, "")
	}
	if err != nil {
		return err
	}
	d.record(ctx, c, m, "staff_add", "", "ok", fmt.Sprintf("%s %s %s", email, role, mission))
	if err := d.invite(ctx, email, token); err != nil {
		d.record(ctx, c, m, "staff_invite", "", "failed", email+": "+err.Error())
		return d.renderMembers(c, m, fiber.StatusServiceUnavailable, web.NewForm(), "staff.members.mail_failed")
	}
	return c.Redirect("/staff/members?notice=invited", fiber.StatusSeeOther)
}

// changeMember disables, enables, unlocks or re-invites an account the
// member manages (a re-invitation clears password and authenticator: for a
// lost phone). Nobody changes their own account here.
func (d *Dashboard) changeMember(c *fiber.Ctx, m Member) error {
	if m.Role == Officer {
		return fiber.ErrForbidden
	}
	ctx := c.UserContext()
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	var email, role string
	// Scoped: another mission's account is not found; a supervisor cannot touch an admin.
	err = d.DB.QueryRow(ctx, "SELECT email, role FROM staff WHERE id = $1 AND ($2::text IS NULL OR mission_code = $2)", id, m.scope()).Scan(&email, &role)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !contains(m.grantable(), role)) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	if id == m.ID {
		return fiber.ErrForbidden
	}
	change := c.Params("change")
	var token string
	tx, err := d.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	switch change {
	case "disable":
		_, err = tx.Exec(ctx, "UPDATE staff SET disabled_at = now(), api_token_hash = NULL WHERE id = $1", id)
	case "enable":
		_, err = tx.Exec(ctx, "UPDATE staff SET disabled_at = NULL WHERE id = $1", id)
	case "unlock":
		_, err = tx.Exec(ctx, "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = $1", id)
	case "reinvite":
		var hash []byte
		var secret string
		if token, hash, secret, err = newInvitation(); err != nil {
			return err
		}
		sealed, err := d.sealSecret(secret)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE staff SET password_hash = NULL, totp_secret = $2, totp_key_id = $3, invite_hash = $4, api_token_hash = NULL,
			invite_expires_at = now() + make_interval(secs => $5), failed_attempts = 0, locked_until = NULL WHERE id = $1`,
			id, sealed.Value, sealed.KeyID, hash, inviteValidity.Seconds())
		if err != nil {
			return err
		}
	default:
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	if change == "disable" || change == "reinvite" {
		if _, err := tx.Exec(ctx, "DELETE FROM staff_sessions WHERE staff_id = $1", id); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	d.record(ctx, c, m, "staff_"+change, "", "ok", email)
	if token != "" {
		if err := d.invite(ctx, email, token); err != nil {
			d.record(ctx, c, m, "staff_invite", "", "failed", email+": "+err.Error())
			return d.renderMembers(c, m, fiber.StatusServiceUnavailable, web.NewForm(), "staff.members.mail_failed")
		}
	}
	return c.Redirect("/staff/members?notice="+change, fiber.StatusSeeOther)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// newInvitation is a link token (kept only as its SHA-256) and a fresh
// TOTP secret for the authenticator the member will enrol.
func newInvitation() (token string, hash []byte, secret string, err error) {
	raw := make([]byte, 32)
	if _, err = rand.Read(raw); err != nil {
		return
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	key := make([]byte, 20)
	if _, err = rand.Read(key); err != nil {
		return
	}
	return token, sum[:], base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key), nil
}

func (d *Dashboard) invite(ctx context.Context, email, token string) error {
	link := d.Config.HTTP.PublicURL + "/staff/enrol/" + token
	return web.Email(ctx, d.SMTP, d.Render.Messages, email, "fa", "mail.staff_invite.subject", "mail.staff_invite.body",
		web.Literal(link), int(inviteValidity.Hours()))
}

type enrolData struct {
	Email  string
	Secret string       // for typing into an authenticator without a camera
	QR     template.URL // data: URI of the otpauth QR code
}

// invitation finds the account a live invitation link belongs to.
func (d *Dashboard) invitation(c *fiber.Ctx) (id int64, email, secret string, err error) {
	sum := sha256.Sum256([]byte(c.Params("token")))
	var stored totpsecret.Stored
	err = d.DB.QueryRow(c.UserContext(), `SELECT id, email, totp_secret, totp_key_id FROM staff
		WHERE invite_hash = $1 AND invite_expires_at > now() AND disabled_at IS NULL`, sum[:]).Scan(&id, &email, &stored.Value, &stored.KeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fiber.NewError(fiber.StatusNotFound, "staff.enrol.expired") // a message key: the page says so
	}
	if err != nil {
		return
	}
	secret, err = d.openSecret(stored)
	return
}

func (d *Dashboard) enrolForm(c *fiber.Ctx) error {
	_, email, secret, err := d.invitation(c)
	if err != nil {
		return d.enrolGone(c, err)
	}
	return d.renderEnrol(c, fiber.StatusOK, email, secret, web.NewForm())
}

func (d *Dashboard) renderEnrol(c *fiber.Ctx, status int, email, secret string, form *web.Form) error {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: email, Secret: raw})
	if err != nil {
		return err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	pg := d.page(c, "staff.enrol.title", &enrolData{Email: email, Secret: secret,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))})
	pg.Form = form
	return d.Render.Render(c, status, "staff_enrol", pg)
}

// enrol accepts an invitation: a password and a first code from the
// authenticator, which proves it holds the secret.
func (d *Dashboard) enrol(c *fiber.Ctx) error {
	id, email, secret, err := d.invitation(c)
	if err != nil {
		return d.enrolGone(c, err)
	}
	form := web.NewForm()
	password := c.FormValue("staff_password")
	switch {
	case len([]rune(password)) < minStaffPassword:
		form.Fail("staff_password", "error.password_staff", minStaffPassword)
	case len(password) > 128:
		form.Fail("staff_password", "error.password_long")
	case password != c.FormValue("staff_password_confirm"):
		form.Fail("staff_password_confirm", "error.password_mismatch")
	}
	step, valid := totpStep(c.FormValue("totp"), secret, time.Now())
	if !valid {
		form.Fail("totp", "staff.enrol.code_wrong")
	}
	if !form.OK() {
		return d.renderEnrol(c, fiber.StatusUnprocessableEntity, email, secret, form)
	}
	hash, err := passwords.Hash(c.UserContext(), password)
	if errors.Is(err, passwords.ErrBusy) {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(passwords.RetryAfter))
		form.Fail("staff_password", "error.busy", passwords.RetryAfter)
		return d.renderEnrol(c, fiber.StatusTooManyRequests, email, secret, form)
	}
	if err != nil {
		return err
	}
	var role string
	var mission *string
	if err := d.DB.QueryRow(c.UserContext(), `UPDATE staff SET password_hash = $2, invite_hash = NULL, invite_expires_at = NULL, totp_step = $3
		WHERE id = $1 RETURNING role, mission_code`, id, hash, step).Scan(&role, &mission); err != nil {
		return err
	}
	m := Member{ID: id, Email: email, Role: role}
	if mission != nil {
		m.Mission = *mission
	}
	d.record(c.UserContext(), c, m, "enrol", "", "ok", "")
	return c.Redirect("/staff/signin?notice=enrolled", fiber.StatusSeeOther)
}

func (d *Dashboard) enrolGone(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if !errors.As(err, &fe) {
		return err
	}
	pg := d.page(c, fe.Message, nil)
	return d.Render.Render(c, fe.Code, "message", pg)
}

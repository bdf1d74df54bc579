package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/passwords"
)

// The rules of signing in.
const (
	otpValidity     = 10 * time.Minute
	otpMaxAttempts  = 5
	otpResendAfter  = time.Minute
	otpPerEmailHour = 5  // codes sent to one address in an hour
	otpPerIPHour    = 20 // codes requested from one address in an hour
	signinPerEmail  = 10 // password attempts per address in 15 minutes
	signinPerIP     = 30
)

// captchaData is the data of a page with a captcha.
type captchaData struct {
	CaptchaID string
	Email     string
	Next      string
}

func (p *Portal) captchaPage(c *fiber.Ctx, title string, form *web.Form, data *captchaData) (*web.Page, error) {
	id, err := p.Captchas.New(c.UserContext())
	if err != nil {
		return nil, err
	}
	data.CaptchaID = id
	pg := p.page(c, title, data)
	pg.Form = form
	return pg, nil
}

func (p *Portal) startForm(c *fiber.Ctx) error {
	form := web.NewForm()
	pg, err := p.captchaPage(c, "start.title", form, &captchaData{Next: localPath(c.Query("next"))})
	if err != nil {
		return err
	}
	if s := web.Current(c); s.Get("notice") != "" {
		pg.Notice = s.Get("notice")
		s.Set("notice", "")
	}
	return p.Render.Render(c, fiber.StatusOK, "start", pg)
}

// start checks email, national ID and captcha and emails a one-time
// password. The answer is the same whether or not the address has an
// account, so it tells nobody who is registered.
func (p *Portal) start(c *fiber.Ctx) error {
	ctx := c.UserContext()
	form := web.NewForm()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	nationalID := strings.TrimSpace(c.FormValue("national_id"))
	form.Values["email"], form.Values["national_id"] = email, nationalID
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		form.Fail("email", "error.email")
	}
	id, idErr := consular.ParseNationalID(nationalID)
	if idErr != nil {
		form.Fail("national_id", "error.national_id")
	}
	if !p.Captchas.Verify(ctx, c.FormValue("captcha_id"), c.FormValue("captcha")) {
		form.Fail("captcha", "error.captcha")
	}
	if form.OK() {
		if until, ok, err := p.allowOTP(ctx, email, c.IP()); err != nil {
			return err
		} else if !ok {
			form.Fail("email", "error.rate_limited", p.clock(c, until))
		}
	}
	if !form.OK() {
		pg, err := p.captchaPage(c, "start.title", form, &captchaData{Next: localPath(c.FormValue("next"))})
		if err != nil {
			return err
		}
		return p.Render.Render(c, fiber.StatusUnprocessableEntity, "start", pg)
	}
	if err := p.sendOTP(ctx, email, id, language(c)); err != nil {
		return err
	}
	s := web.Current(c)
	s.Set("signin_email", email)
	s.Set("signin_national_id", id)
	s.Set("next", localPath(c.FormValue("next")))
	return c.Redirect("/start/code", fiber.StatusSeeOther)
}

// allowOTP applies the per-address and per-IP limits on sending codes.
func (p *Portal) allowOTP(ctx context.Context, email, ip string) (time.Time, bool, error) {
	for _, limit := range []struct {
		key string
		max int
	}{{"otp:email:" + email, otpPerEmailHour}, {"otp:ip:" + ip, otpPerIPHour}} {
		ok, until, err := p.Limits.Allow(ctx, limit.key, limit.max, time.Hour)
		if err != nil || !ok {
			return until, ok, err
		}
	}
	return time.Time{}, true, nil
}

// clock writes a time of day for "try again after ...".
func (p *Portal) clock(c *fiber.Ctx, t time.Time) string {
	return t.UTC().Format("15:04") + " UTC"
}

// otpHash keeps codes out of the database: only an HMAC of code and address.
func (p *Portal) otpHash(email, code string) []byte {
	mac := hmac.New(sha256.New, p.Config.Keys.OTP)
	mac.Write([]byte("otp\x00" + email + "\x00" + code))
	return mac.Sum(nil)
}

// sendOTP emails a fresh code, unless the address belongs to an account
// bound to another national ID: then the owner is warned instead.
func (p *Portal) sendOTP(ctx context.Context, email, nationalID, lang string) error {
	var boundID string
	err := p.DB.QueryRow(ctx, "SELECT national_id FROM accounts WHERE email = $1", email).Scan(&boundID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var otherEmail bool
	if err := p.DB.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM accounts WHERE national_id = $1 AND email <> $2)", nationalID, email).Scan(&otherEmail); err != nil {
		return err
	}
	if (boundID != "" && boundID != nationalID) || otherEmail {
		return p.email(ctx, email, lang, "mail.mismatch.subject", "mail.mismatch.body")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	if _, err := p.DB.Exec(ctx, `INSERT INTO one_time_passwords (email, code_hash, sent_at, expires_at, attempts)
		VALUES ($1, $2, now(), now() + make_interval(secs => $3), 0)
		ON CONFLICT (email) DO UPDATE SET code_hash = EXCLUDED.code_hash, sent_at = now(), expires_at = EXCLUDED.expires_at, attempts = 0`,
		email, p.otpHash(email, code), otpValidity.Seconds()); err != nil {
		return err
	}
	return p.email(ctx, email, lang, "mail.otp.subject", "mail.otp.body", code, int(otpValidity.Minutes()))
}

// email sends a short message in both languages, the applicant's first.
func (p *Portal) email(ctx context.Context, to, lang, subject, body string, args ...any) error {
	return web.Email(ctx, p.SMTP, p.Render.Messages, to, lang, subject, body, args...)
}

func (p *Portal) codeForm(c *fiber.Ctx) error {
	s := web.Current(c)
	if s.Get("signin_email") == "" {
		return c.Redirect("/start", fiber.StatusSeeOther)
	}
	pg := p.page(c, "code.title", &captchaData{Email: s.Get("signin_email")})
	pg.Form = web.NewForm()
	if c.Query("resent") != "" {
		pg.Notice = "code.resent"
	}
	return p.Render.Render(c, fiber.StatusOK, "code", pg)
}

// code checks the one-time password: at most five tries, ten minutes. The
// first success creates the account, binding the email to the national ID.
func (p *Portal) code(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s := web.Current(c)
	email, nationalID := s.Get("signin_email"), s.Get("signin_national_id")
	if email == "" {
		return c.Redirect("/start", fiber.StatusSeeOther)
	}
	form := web.NewForm()
	code := strings.TrimSpace(consular.NormalizeDigits(c.FormValue("code")))
	var hash []byte
	var expires time.Time
	var attempts int
	err := p.DB.QueryRow(ctx, `UPDATE one_time_passwords SET attempts = attempts + 1 WHERE email = $1
		RETURNING code_hash, expires_at, attempts`, email).Scan(&hash, &expires, &attempts)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		form.Fail("code", "error.code_expired")
	case err != nil:
		return err
	case time.Now().After(expires):
		form.Fail("code", "error.code_expired")
	case attempts > otpMaxAttempts:
		form.Fail("code", "error.code_attempts")
	case !hmac.Equal(hash, p.otpHash(email, code)):
		form.Fail("code", "error.code_wrong", otpMaxAttempts-attempts)
	}
	if !form.OK() {
		pg := p.page(c, "code.title", &captchaData{Email: email})
		pg.Form = form
		return p.Render.Render(c, fiber.StatusUnprocessableEntity, "code", pg)
	}
	if _, err := p.DB.Exec(ctx, "DELETE FROM one_time_passwords WHERE email = $1", email); err != nil {
		return err
	}
	var accountID int64
	err = p.DB.QueryRow(ctx, `INSERT INTO accounts (email, national_id, language) VALUES ($1, $2, $3)
		ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id`, email, nationalID, language(c)).Scan(&accountID)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return p.signedInAs(c, accountID, s.Get("next"))
}

// signedInAs rotates the session to the account and goes on: to the
// profile while it is incomplete, else where the applicant was going.
func (p *Portal) signedInAs(c *fiber.Ctx, accountID int64, next string) error {
	if err := p.Sessions.Rotate(c, accountID); err != nil {
		return err
	}
	var complete bool
	_ = p.DB.QueryRow(c.UserContext(), "SELECT completed_at IS NOT NULL FROM profiles WHERE account_id = $1", accountID).Scan(&complete)
	switch {
	case !complete:
		return c.Redirect("/profile/identity", fiber.StatusSeeOther)
	case next != "" && next != "/":
		return c.Redirect(localPath(next), fiber.StatusSeeOther)
	}
	return c.Redirect("/services", fiber.StatusSeeOther)
}

// resend sends a new code, no sooner than a minute after the last.
func (p *Portal) resend(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s := web.Current(c)
	email, nationalID := s.Get("signin_email"), s.Get("signin_national_id")
	if email == "" {
		return c.Redirect("/start", fiber.StatusSeeOther)
	}
	var sent time.Time
	err := p.DB.QueryRow(ctx, "SELECT sent_at FROM one_time_passwords WHERE email = $1", email).Scan(&sent)
	if err == nil && time.Since(sent) < otpResendAfter {
		form := web.NewForm()
		form.Fail("code", "error.resend_wait", int((otpResendAfter-time.Since(sent)).Seconds())+1)
		pg := p.page(c, "code.title", &captchaData{Email: email})
		pg.Form = form
		return p.Render.Render(c, fiber.StatusTooManyRequests, "code", pg)
	}
	if until, ok, err := p.allowOTP(ctx, email, c.IP()); err != nil {
		return err
	} else if !ok {
		form := web.NewForm()
		form.Fail("code", "error.rate_limited", p.clock(c, until))
		pg := p.page(c, "code.title", &captchaData{Email: email})
		pg.Form = form
		return p.Render.Render(c, fiber.StatusTooManyRequests, "code", pg)
	}
	if err := p.sendOTP(ctx, email, nationalID, language(c)); err != nil {
		return err
	}
	return c.Redirect("/start/code?resent=1", fiber.StatusSeeOther)
}

func (p *Portal) signinForm(c *fiber.Ctx) error {
	pg, err := p.captchaPage(c, "signin.title", web.NewForm(), &captchaData{Next: localPath(c.Query("next"))})
	if err != nil {
		return err
	}
	return p.Render.Render(c, fiber.StatusOK, "signin", pg)
}

// signin checks email, fixed password and captcha. Whatever is wrong, the
// answer is one message, so it tells nobody which part was.
func (p *Portal) signin(c *fiber.Ctx) error {
	ctx := c.UserContext()
	form := web.NewForm()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	form.Values["email"] = email
	next := localPath(c.FormValue("next"))
	captchaOK := p.Captchas.Verify(ctx, c.FormValue("captcha_id"), c.FormValue("captcha"))
	for _, limit := range []struct {
		key string
		max int
	}{{"signin:email:" + email, signinPerEmail}, {"signin:ip:" + c.IP(), signinPerIP}} {
		ok, until, err := p.Limits.Allow(ctx, limit.key, limit.max, 15*time.Minute)
		if err != nil {
			return err
		}
		if !ok {
			form.Fail("email", "error.rate_limited", p.clock(c, until))
		}
	}
	if form.OK() && !captchaOK {
		form.Fail("captcha", "error.captcha")
	}
	status := fiber.StatusUnprocessableEntity
	if form.OK() {
		var id int64
		var hash *string
		err := p.DB.QueryRow(ctx, "SELECT id, password_hash FROM accounts WHERE email = $1", email).Scan(&id, &hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// No account and no password cost the same check as a wrong
		// password: the time taken tells nobody which it was.
		stored := ""
		if hash != nil {
			stored = *hash
		}
		match, err := passwords.Verify(ctx, c.FormValue("password"), stored)
		switch {
		case errors.Is(err, passwords.ErrBusy):
			status = busy(c, form)
		case err != nil:
			return err
		case match:
			return p.signedInAs(c, id, next)
		default:
			form.Fail("password", "error.signin")
		}
	}
	pg, err := p.captchaPage(c, "signin.title", form, &captchaData{Next: next})
	if err != nil {
		return err
	}
	return p.Render.Render(c, status, "signin", pg)
}

// busy marks the form as turned away because too many passwords are being
// checked at once, and says when to try again.
func busy(c *fiber.Ctx, form *web.Form) int {
	c.Set(fiber.HeaderRetryAfter, fmt.Sprint(passwords.RetryAfter))
	form.Fail("password", "error.busy", passwords.RetryAfter)
	return fiber.StatusTooManyRequests
}

func (p *Portal) signout(c *fiber.Ctx) error {
	if err := p.Sessions.End(c); err != nil {
		return err
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

func (p *Portal) signoutEverywhere(c *fiber.Ctx) error {
	if err := p.Sessions.EndAll(c, web.Current(c).AccountID); err != nil {
		return err
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

func (p *Portal) passwordForm(c *fiber.Ctx) error {
	pg := p.page(c, "password.title", nil)
	pg.Form = web.NewForm()
	return p.Render.Render(c, fiber.StatusOK, "password", pg)
}

// setPassword sets the fixed password (at least 8 characters, argon2id).
func (p *Portal) setPassword(c *fiber.Ctx) error {
	form := web.NewForm()
	password, confirm := c.FormValue("password"), c.FormValue("password_confirm")
	switch {
	case len([]rune(password)) < 8:
		form.Fail("password", "error.password_short")
	case len(password) > 256:
		form.Fail("password", "error.password_long")
	case password != confirm:
		form.Fail("password_confirm", "error.password_mismatch")
	}
	if !form.OK() {
		pg := p.page(c, "password.title", nil)
		pg.Form = form
		return p.Render.Render(c, fiber.StatusUnprocessableEntity, "password", pg)
	}
	hash, err := passwords.Hash(c.UserContext(), password)
	if errors.Is(err, passwords.ErrBusy) {
		pg := p.page(c, "password.title", nil)
		pg.Form = form
		return p.Render.Render(c, busy(c, form), "password", pg)
	}
	if err != nil {
		return err
	}
	if _, err := p.DB.Exec(c.UserContext(), "UPDATE accounts SET password_hash = $2 WHERE id = $1", web.Current(c).AccountID, hash); err != nil {
		return err
	}
	pg := p.page(c, "password.title", nil)
	pg.Notice = "password.saved"
	return p.Render.Render(c, fiber.StatusOK, "message", pg)
}

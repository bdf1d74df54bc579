package portal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/passwords"
)

// Changing the fixed password takes the current one or a fresh code sent to
// the account's email: a session left open on a shared computer, or stolen,
// must not be enough to take the account for good. A change is emailed to
// the account and ends every other session.

// passwordChallengeKey is where the session keeps its password code's
// challenge row ID.
const passwordChallengeKey = "password_challenge"

// passwordChangesPerWindow bounds guesses at the current password from one
// signed-in session (the code has its own five tries).
const passwordChangesPerWindow = 10

// passwordData is the password page.
type passwordData struct {
	HasPassword bool   // the current password can prove it is the owner
	Username    string // the email, which is the username
}

// account is what the password pages need of the signed-in account.
type account struct {
	id                int64
	email, nationalID string
	lang              string
	hash              *string
}

func (p *Portal) account(ctx context.Context, id int64) (account, error) {
	a := account{id: id}
	err := p.DB.QueryRow(ctx, "SELECT email, national_id, language, password_hash FROM accounts WHERE id = $1", id).
		Scan(&a.email, &a.nationalID, &a.lang, &a.hash)
	if err != nil {
		return a, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

func (p *Portal) renderPassword(c *fiber.Ctx, status int, a account, form *web.Form, notice string) error {
	pg := p.page(c, "password.title", &passwordData{HasPassword: a.hash != nil, Username: a.email})
	pg.Form, pg.Notice = form, notice
	return p.Render.Render(c, status, "password", pg)
}

func (p *Portal) passwordForm(c *fiber.Ctx) error {
	a, err := p.account(c.UserContext(), web.Current(c).AccountID)
	if err != nil {
		return err
	}
	notice := ""
	if c.Query("sent") != "" {
		notice = "password.code_sent"
	}
	return p.renderPassword(c, fiber.StatusOK, a, web.NewForm(), notice)
}

// passwordCode emails a code that proves, for ten minutes, that whoever
// holds the session also reads the account's mail. The same limits as
// sign-in codes apply, and a new one no sooner than a minute after the last.
func (p *Portal) passwordCode(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s := web.Current(c)
	a, err := p.account(ctx, s.AccountID)
	if err != nil {
		return err
	}
	refuse := func(key string, args ...any) error {
		form := web.NewForm()
		form.Fail("code", key, args...)
		return p.renderPassword(c, fiber.StatusTooManyRequests, a, form, "")
	}
	var sent time.Time
	if id := challengeOf(c, passwordChallengeKey); id != 0 &&
		p.DB.QueryRow(ctx, "SELECT sent_at FROM signin_challenges WHERE id = $1", id).Scan(&sent) == nil && time.Since(sent) < otpResendAfter {
		return refuse("error.resend_wait", int((otpResendAfter-time.Since(sent)).Seconds())+1)
	}
	if until, ok, err := p.allowOTP(ctx, a.email, c.IP()); err != nil {
		return err
	} else if !ok {
		return refuse("error.rate_limited", p.clock(c, until))
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	id, err := p.storeChallenge(ctx, forPassword, a.email, a.nationalID, p.otpHash(a.email, code))
	if err != nil {
		return err
	}
	s.Set(passwordChallengeKey, strconv.FormatInt(id, 10))
	web.Mail.Send(ctx, "password code", func(ctx context.Context) error {
		return p.email(ctx, a.email, a.lang, "mail.password_code.subject", "mail.password_code.body", code, int(otpValidity.Minutes()))
	})
	return c.Redirect("/account/password?sent=1", fiber.StatusSeeOther)
}

// setPassword sets the fixed password (at least 8 characters, argon2id),
// once the applicant has proved it is theirs: the current password or a
// code from /account/password/code. Every other session of the account
// ends; this browser gets a new session ID; the account is told by email.
// checkPasswordProof checks that whoever sets the password holds the
// account: the emailed code, or the current password where there is one.
// A failure goes on form; status is the page's answer then.
func (p *Portal) checkPasswordProof(c *fiber.Ctx, a account, form *web.Form, status int) (int, error) {
	ctx := c.UserContext()
	code, current := strings.TrimSpace(c.FormValue("code")), c.FormValue("current_password")
	switch {
	case code != "":
		proved, failure, args, err := p.tryCode(ctx, challengeOf(c, passwordChallengeKey), forPassword, code)
		if err != nil {
			return status, err
		}
		if failure == "" && proved.email != a.email { // a code sent before the account's email was moved
			failure = "error.code_expired"
		}
		if failure != "" {
			form.Fail("code", failure, args...)
		}
	case current != "" && a.hash != nil:
		match, err := passwords.Verify(ctx, current, *a.hash)
		switch {
		case errors.Is(err, passwords.ErrBusy):
			return busy(c, form), nil
		case err != nil:
			return status, err
		case !match:
			form.Fail("current_password", "error.current_password")
		}
	case a.hash != nil:
		form.Fail("current_password", "error.password_proof")
	default:
		form.Fail("code", "error.password_code_needed")
	}
	return status, nil
}

func (p *Portal) setPassword(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s := web.Current(c)
	a, err := p.account(ctx, s.AccountID)
	if err != nil {
		return err
	}
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
	status := fiber.StatusUnprocessableEntity
	if form.OK() {
		if ok, until, err := p.Limits.Allow(ctx, "password-change:"+strconv.FormatInt(a.id, 10), passwordChangesPerWindow, 15*time.Minute); err != nil {
			return err
		} else if !ok {
			form.Fail("current_password", "error.rate_limited", p.clock(c, until))
			status = fiber.StatusTooManyRequests
		}
	}
	if form.OK() {
		if status, err = p.checkPasswordProof(c, a, form, status); err != nil {
			return err
		}
	}
	if !form.OK() {
		return p.renderPassword(c, status, a, form, "")
	}
	hash, err := passwords.Hash(ctx, password)
	if errors.Is(err, passwords.ErrBusy) {
		return p.renderPassword(c, busy(c, form), a, form, "")
	}
	if err != nil {
		return err
	}
	if _, err := p.DB.Exec(ctx, "UPDATE accounts SET password_hash = $2 WHERE id = $1", a.id, hash); err != nil {
		return fmt.Errorf("save password: %w", err)
	}
	// Every session of the account ends, this one too; this browser then
	// gets a new one, so whoever else held a session (or its ID) is out.
	if _, err := p.DB.Exec(ctx, "DELETE FROM sessions WHERE account_id = $1", a.id); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	s.Set(passwordChallengeKey, "")
	if err := p.Sessions.Rotate(c, a.id); err != nil {
		return err
	}
	when := time.Now().UTC().Format("2006-01-02 15:04") + " UTC"
	web.Mail.Send(ctx, "password changed", func(ctx context.Context) error {
		return p.email(ctx, a.email, a.lang, "mail.password_changed.subject", "mail.password_changed.body", when)
	})
	pg := p.page(c, "password.title", nil)
	pg.Notice = "password.saved"
	return p.Render.Render(c, fiber.StatusOK, "message", pg)
}

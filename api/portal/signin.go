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
	"strconv"
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
	Email     web.Literal // written as typed (ASCII digits), an isolated left-to-right run in Persian
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

// start checks email, national ID and captcha and starts a challenge: a
// one-time code is emailed if the pair can be used, a refusal saying where
// to turn if it cannot. The answer is the same either way, after the same
// work, and the mail goes out after it, so the page tells nobody whether
// the address has an account or the national ID is bound to another.
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
	challengeID, err := p.challenge(ctx, 0, email, id, language(c))
	if err != nil {
		return err
	}
	s := web.Current(c)
	s.Set(challengeKey, strconv.FormatInt(challengeID, 10))
	s.Set("next", localPath(c.FormValue("next")))
	return c.Redirect("/start/code", fiber.StatusSeeOther)
}

// challengeKey is where the session keeps its sign-in challenge: the row's
// ID only, never the email or national ID.
const challengeKey = "signin_challenge"

// Purposes of a challenge.
const (
	forSignin   = "signin"
	forPassword = "password"
)

// allowOTP applies the per-address and per-IP limits on sending codes.
func (p *Portal) allowOTP(ctx context.Context, email, ip string) (time.Time, bool, error) {
	for _, limit := range []struct {
		key string
		max int
	}{{p.Limits.Personal("otp:email:", email), otpPerEmailHour}, {"otp:ip:" + ip, otpPerIPHour}} {
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

// newCode draws a 6-digit code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("draw a code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// verdict is what a sign-in with an email and a national ID may do.
type verdict struct {
	usable    bool   // a code is sent: the pair is an account's, or both are free
	boundTo   string // the national ID is bound to this other email
	boundLang string // and its owner reads this language
}

// judge reads, in one query whatever the outcome, whether email and
// national ID can sign in together.
func (p *Portal) judge(ctx context.Context, email, nationalID string) (verdict, error) {
	rows, err := p.DB.Query(ctx, "SELECT email, national_id, language FROM accounts WHERE email = $1 OR national_id = $2", email, nationalID)
	if err != nil {
		return verdict{}, fmt.Errorf("read accounts: %w", err)
	}
	defer rows.Close()
	v := verdict{usable: true}
	for rows.Next() {
		var e, id, lang string
		if err := rows.Scan(&e, &id, &lang); err != nil {
			return verdict{}, fmt.Errorf("read accounts: %w", err)
		}
		if e != email || id != nationalID {
			v.usable = false
		}
		if id == nationalID && e != email {
			v.boundTo, v.boundLang = e, lang
		}
	}
	return v, rows.Err()
}

// challenge starts a sign-in challenge (id 0) or renews one (a resend):
// the same statements, the same HMAC and one message queued whatever the
// verdict. An unusable pair gets the hash of a code that is never sent, so
// its code page counts tries and expires like any other; the email typed
// gets a refusal that says where to turn, and the owner of a national ID
// typed with another address hears of it.
func (p *Portal) challenge(ctx context.Context, id int64, email, nationalID, lang string) (int64, error) {
	// Form values point into a buffer Fiber reuses: the mail, sent after the
	// answer, needs copies.
	email, nationalID, lang = strings.Clone(email), strings.Clone(nationalID), strings.Clone(lang)
	v, err := p.judge(ctx, email, nationalID)
	if err != nil {
		return 0, err
	}
	code, err := newCode()
	if err != nil {
		return 0, err
	}
	hash := p.otpHash(email, code)
	if id == 0 {
		id, err = p.storeChallenge(ctx, forSignin, email, nationalID, hash)
	} else {
		if _, err = p.DB.Exec(ctx, `UPDATE signin_challenges SET code_hash = $2, sent_at = now(),
			expires_at = now() + make_interval(secs => $3), attempts = 0 WHERE id = $1`, id, hash, otpValidity.Seconds()); err != nil {
			err = fmt.Errorf("renew sign-in challenge: %w", err)
		}
	}
	if err != nil {
		return 0, err
	}
	if id%50 == 0 { // now and then, forget challenges long expired
		_, _ = p.DB.Exec(ctx, "DELETE FROM signin_challenges WHERE expires_at < now() - interval '1 hour'")
	}
	if v.usable {
		web.Mail.Send(ctx, "otp", func(ctx context.Context) error {
			return p.email(ctx, email, lang, "mail.otp.subject", "mail.otp.body", code, int(otpValidity.Minutes()))
		})
		return id, nil
	}
	web.Mail.Send(ctx, "signin refused", func(ctx context.Context) error {
		if err := p.email(ctx, email, lang, "mail.refused.subject", "mail.refused.body"); err != nil {
			return err
		}
		if v.boundTo == "" {
			return nil
		}
		// The owner is told, a few times a day at most: someone typing the
		// national ID again and again must not flood their inbox.
		if ok, _, err := p.Limits.Allow(ctx, p.Limits.Personal("id-claimed:", v.boundTo), 3, 24*time.Hour); err != nil || !ok {
			return err
		}
		return p.email(ctx, v.boundTo, v.boundLang, "mail.id_claimed.subject", "mail.id_claimed.body")
	})
	return id, nil
}

// storeChallenge keeps a new challenge, its code only as a hash, valid for
// otpValidity: for a sign-in or to prove a password change.
func (p *Portal) storeChallenge(ctx context.Context, purpose, email, nationalID string, hash []byte) (int64, error) {
	var id int64
	if err := p.DB.QueryRow(ctx, `INSERT INTO signin_challenges (purpose, email, national_id, code_hash, sent_at, expires_at)
		VALUES ($1, $2, $3, $4, now(), now() + make_interval(secs => $5)) RETURNING id`,
		purpose, email, nationalID, hash, otpValidity.Seconds()).Scan(&id); err != nil {
		return 0, fmt.Errorf("store %s challenge: %w", purpose, err)
	}
	return id, nil
}

// email sends a short message in both languages, the applicant's first.
func (p *Portal) email(ctx context.Context, to, lang, subject, body string, args ...any) error {
	return web.Email(ctx, p.SMTP, p.Render.Messages, to, lang, subject, body, args...)
}

// challengeOf is the session's challenge row ID (0: none).
func challengeOf(c *fiber.Ctx, key string) int64 {
	id, _ := strconv.ParseInt(web.Current(c).Get(key), 10, 64)
	return id
}

func (p *Portal) codeForm(c *fiber.Ctx) error {
	id := challengeOf(c, challengeKey)
	var email string
	if id == 0 || p.DB.QueryRow(c.UserContext(), "SELECT email FROM signin_challenges WHERE id = $1", id).Scan(&email) != nil {
		return c.Redirect("/start", fiber.StatusSeeOther)
	}
	pg := p.page(c, "code.title", &captchaData{Email: web.LTR(email)})
	pg.Form = web.NewForm()
	if c.Query("resent") != "" {
		pg.Notice = "code.resent"
	}
	return p.Render.Render(c, fiber.StatusOK, "code", pg)
}

// attempt is a challenge as read when a code was tried on it.
type attempt struct {
	email, nationalID string
}

// tryCode counts a try on a challenge and compares the code: at most five
// tries, ten minutes. It answers the error's catalogue key ("" when the code
// is right) the same way for every challenge, usable or not.
func (p *Portal) tryCode(ctx context.Context, id int64, purpose, code string) (attempt, string, []any, error) {
	var a attempt
	var hash []byte
	var expires time.Time
	var attempts int
	err := p.DB.QueryRow(ctx, `UPDATE signin_challenges SET attempts = attempts + 1 WHERE id = $1 AND purpose = $2
		RETURNING email, national_id, code_hash, expires_at, attempts`, id, purpose).Scan(&a.email, &a.nationalID, &hash, &expires, &attempts)
	code = strings.TrimSpace(consular.NormalizeDigits(code))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return a, "error.code_expired", nil, nil
	case err != nil:
		return a, "", nil, fmt.Errorf("count a code's try: %w", err)
	case time.Now().After(expires):
		return a, "error.code_expired", nil, nil
	case attempts > otpMaxAttempts:
		return a, "error.code_attempts", nil, nil
	case !hmac.Equal(hash, p.otpHash(a.email, code)):
		return a, "error.code_wrong", []any{otpMaxAttempts - attempts}, nil
	}
	if _, err := p.DB.Exec(ctx, "DELETE FROM signin_challenges WHERE id = $1", id); err != nil {
		return a, "", nil, fmt.Errorf("use up a code: %w", err)
	}
	return a, "", nil, nil
}

// code checks the one-time password. The first success creates the
// account, binding the email to the national ID.
func (p *Portal) code(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s := web.Current(c)
	id := challengeOf(c, challengeKey)
	if id == 0 {
		return c.Redirect("/start", fiber.StatusSeeOther)
	}
	form := web.NewForm()
	a, failure, args, err := p.tryCode(ctx, id, forSignin, c.FormValue("code"))
	if err != nil {
		return err
	}
	var accountID int64
	if failure == "" {
		// Only a usable pair was sent a code, but the national ID may have
		// been bound meanwhile: the account must hold exactly this pair.
		if _, err := p.DB.Exec(ctx, `INSERT INTO accounts (email, national_id, language) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			a.email, a.nationalID, language(c)); err != nil {
			return fmt.Errorf("create account: %w", err)
		}
		err := p.DB.QueryRow(ctx, "SELECT id FROM accounts WHERE email = $1 AND national_id = $2", a.email, a.nationalID).Scan(&accountID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			failure = "error.signin_refused"
		case err != nil:
			return fmt.Errorf("find account: %w", err)
		}
	}
	if failure != "" {
		form.Fail("code", failure, args...)
		pg := p.page(c, "code.title", &captchaData{Email: web.LTR(a.email)})
		pg.Form = form
		return p.Render.Render(c, fiber.StatusUnprocessableEntity, "code", pg)
	}
	s.Set(challengeKey, "")
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

// resend renews the challenge with a new code, no sooner than a minute
// after the last, within the same limits as the first.
func (p *Portal) resend(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id := challengeOf(c, challengeKey)
	var email, nationalID string
	var sent time.Time
	if id == 0 || p.DB.QueryRow(ctx, "SELECT email, national_id, sent_at FROM signin_challenges WHERE id = $1 AND purpose = $2",
		id, forSignin).Scan(&email, &nationalID, &sent) != nil {
		return c.Redirect("/start", fiber.StatusSeeOther)
	}
	refuse := func(key string, args ...any) error {
		form := web.NewForm()
		form.Fail("code", key, args...)
		pg := p.page(c, "code.title", &captchaData{Email: web.LTR(email)})
		pg.Form = form
		return p.Render.Render(c, fiber.StatusTooManyRequests, "code", pg)
	}
	if time.Since(sent) < otpResendAfter {
		return refuse("error.resend_wait", int((otpResendAfter-time.Since(sent)).Seconds())+1)
	}
	if until, ok, err := p.allowOTP(ctx, email, c.IP()); err != nil {
		return err
	} else if !ok {
		return refuse("error.rate_limited", p.clock(c, until))
	}
	if _, err := p.challenge(ctx, id, email, nationalID, language(c)); err != nil {
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
	}{{p.Limits.Personal("signin:email:", email), signinPerEmail}, {"signin:ip:" + c.IP(), signinPerIP}} {
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

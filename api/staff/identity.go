package staff

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
)

// Moving a national ID. The first person to sign up with a national ID binds
// it to their email; if that was not its holder, the holder is refused (by
// email, so only the address's owner learns of it) and told to come to the
// mission. There an officer checks their identity documents and moves the
// national ID to their address: any officer, for any account (people go to
// the nearest mission), always audited. The account keeps its profile, marked
// incomplete so its new owner reviews every step; its password is removed
// and its sessions end, so whoever held it before is out.

const maxReasonLength = 500

func (d *Dashboard) identityForm(c *fiber.Ctx, m Member) error {
	notice := ""
	if c.Query("notice") == "moved" {
		notice = "staff.identity.done"
	}
	return d.renderIdentity(c, fiber.StatusOK, web.NewForm(), notice)
}

// identityData is the page: the form, or the move shown back for
// confirmation with the address the national ID leaves.
type identityData struct {
	Confirm                      bool
	NationalID, From, To, Reason string
}

func (d *Dashboard) renderIdentity(c *fiber.Ctx, status int, form *web.Form, notice string) error {
	return d.renderIdentityWith(c, status, form, notice, &identityData{})
}

func (d *Dashboard) renderIdentityWith(c *fiber.Ctx, status int, form *web.Form, notice string, data *identityData) error {
	pg := d.page(c, "staff.identity.title", data)
	pg.Form, pg.Notice = form, notice
	return d.Render.Render(c, status, "staff_identity", pg)
}

// moveIdentity moves a national ID to the email of the person who proved,
// in person, that it is theirs.
func (d *Dashboard) moveIdentity(c *fiber.Ctx, m Member) error {
	ctx := c.UserContext()
	form := web.NewForm()
	nationalID := strings.TrimSpace(c.FormValue("national_id"))
	email := strings.ToLower(strings.TrimSpace(c.FormValue("new_email")))
	reason := strings.TrimSpace(c.FormValue("identity_reason"))
	form.Values["national_id"], form.Values["new_email"], form.Values["identity_reason"] = nationalID, email, reason
	id, err := consular.ParseNationalID(nationalID)
	if err != nil {
		form.Fail("national_id", "error.national_id")
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		form.Fail("new_email", "error.email")
	}
	switch {
	case reason == "":
		form.Fail("identity_reason", "error.required")
	case len([]rune(reason)) > maxReasonLength:
		form.Fail("identity_reason", "error.too_long", maxReasonLength)
	}
	if !form.OK() {
		return d.renderIdentity(c, fiber.StatusUnprocessableEntity, form, "")
	}
	// Shown back first, with the address it leaves, as every consequential
	// action is: a typo in a national ID would move someone else's account.
	confirming := c.FormValue("confirmed") != "yes"
	var moved moved
	if confirming {
		moved, err = d.boundTo(ctx, id, email)
	} else {
		moved, err = d.moveNationalID(ctx, id, email)
	}
	switch {
	case errors.Is(err, errNoAccount):
		form.Fail("national_id", "staff.identity.not_found")
	case errors.Is(err, errEmailTaken):
		form.Fail("new_email", "staff.identity.email_taken")
	case errors.Is(err, errSameEmail):
		form.Fail("new_email", "staff.identity.same")
	case err != nil:
		return err
	}
	if !form.OK() {
		return d.renderIdentity(c, fiber.StatusUnprocessableEntity, form, "")
	}
	if confirming {
		return d.renderIdentityWith(c, fiber.StatusOK, form, "", &identityData{Confirm: true, NationalID: id, From: moved.from, To: email, Reason: reason})
	}
	d.record(ctx, c, m, "move_national_id", "", "ok", fmt.Sprintf("account #%d bound to another email; identity checked: %s", moved.account, reason))
	messages, email := d.Render.Messages, strings.Clone(email) // out of Fiber's reused buffer: used after the answer
	web.Mail.Send(ctx, "national ID moved", func(ctx context.Context) error {
		if err := web.Email(ctx, d.SMTP, messages, moved.from, moved.lang, "mail.id_moved_from.subject", "mail.id_moved_from.body"); err != nil {
			return err
		}
		return web.Email(ctx, d.SMTP, messages, email, moved.lang, "mail.id_moved_to.subject", "mail.id_moved_to.body")
	})
	return c.Redirect("/staff/identity?notice=moved", fiber.StatusSeeOther)
}

var (
	errNoAccount  = errors.New("no account has this national ID")
	errEmailTaken = errors.New("another account has this email")
	errSameEmail  = errors.New("the national ID is bound to this email already")
)

// moved is an account whose national ID was moved.
type moved struct {
	account int64
	from    string // the email it was bound to
	lang    string
}

// boundTo reads, without changing anything, the account a move would
// change, with the refusals the move itself would give.
func (d *Dashboard) boundTo(ctx context.Context, nationalID, email string) (moved, error) {
	var mv moved
	err := d.DB.QueryRow(ctx, "SELECT id, email, language FROM accounts WHERE national_id = $1", nationalID).Scan(&mv.account, &mv.from, &mv.lang)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return mv, errNoAccount
	case err != nil:
		return mv, fmt.Errorf("find account: %w", err)
	case mv.from == email:
		return mv, errSameEmail
	}
	var taken bool
	if err := d.DB.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM accounts WHERE email = $1)", email).Scan(&taken); err != nil {
		return mv, fmt.Errorf("find account: %w", err)
	}
	if taken {
		return mv, errEmailTaken
	}
	return mv, nil
}

// moveNationalID binds the account of nationalID to email, in one
// transaction with the end of its password, sessions and codes.
func (d *Dashboard) moveNationalID(ctx context.Context, nationalID, email string) (moved, error) {
	var mv moved
	err := pgx.BeginFunc(ctx, d.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT id, email, language FROM accounts WHERE national_id = $1 FOR UPDATE", nationalID).Scan(&mv.account, &mv.from, &mv.lang)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoAccount
		}
		if err != nil {
			return fmt.Errorf("find account: %w", err)
		}
		if mv.from == email {
			return errSameEmail
		}
		_, err = tx.Exec(ctx, "UPDATE accounts SET email = $2, password_hash = NULL WHERE id = $1", mv.account, email)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: the email has an account
			return errEmailTaken
		}
		if err != nil {
			return fmt.Errorf("move national ID: %w", err)
		}
		for _, stmt := range []string{
			"UPDATE profiles SET completed_at = NULL WHERE account_id = $1",
			"DELETE FROM sessions WHERE account_id = $1",
		} {
			if _, err := tx.Exec(ctx, stmt, mv.account); err != nil {
				return fmt.Errorf("move national ID: %w", err)
			}
		}
		// Codes on their way to the old address open nothing any more.
		if _, err := tx.Exec(ctx, "DELETE FROM signin_challenges WHERE national_id = $1", nationalID); err != nil {
			return fmt.Errorf("move national ID: %w", err)
		}
		return nil
	})
	return mv, err
}

package booking

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/consular"
)

// lostData is the lost-receipt page.
type lostData struct {
	CaptchaID string
}

func (p *Pages) lostForm(c *fiber.Ctx) error {
	return p.renderLost(c, fiber.StatusOK, web.NewForm(), "")
}

func (p *Pages) renderLost(c *fiber.Ctx, status int, form *web.Form, notice string) error {
	id, err := p.Captchas.New(c.UserContext())
	if err != nil {
		return err
	}
	pg := p.page(c, "booking.lost.title", &lostData{CaptchaID: id})
	pg.Form, pg.Notice = form, notice
	return p.Render.Render(c, status, "lost", pg)
}

// lost emails the receipts of the open requests that match national ID and
// email, to the address on the request. It answers the same whether or not
// anything matched, so it tells nobody who has applied.
func (p *Pages) lost(c *fiber.Ctx) error {
	ctx := c.UserContext()
	form := web.NewForm()
	nationalID := strings.TrimSpace(c.FormValue("national_id"))
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	form.Values["national_id"], form.Values["email"] = nationalID, email
	if !p.Captchas.Verify(ctx, c.FormValue("captcha_id"), c.FormValue("captcha")) {
		form.Fail("captcha", "error.captcha")
		return p.renderLost(c, fiber.StatusUnprocessableEntity, form, "")
	}
	for _, limit := range []struct {
		key string
		max int
	}{{p.Limits.Personal("lost:email:", email), 3}, {"lost:ip:" + c.IP(), 10}} {
		ok, until, err := p.Limits.Allow(ctx, limit.key, limit.max, time.Hour)
		if err != nil {
			return err
		}
		if !ok {
			form.Fail("email", "error.rate_limited", until.UTC().Format("15:04 UTC"))
			return p.renderLost(c, fiber.StatusTooManyRequests, form, "")
		}
	}
	if err := p.resend(ctx, nationalID, email); err != nil {
		return err
	}
	return p.renderLost(c, fiber.StatusOK, web.NewForm(), "booking.lost.sent")
}

// resend looks the open requests up (the same query whatever is typed, a
// malformed national ID included) and emails their receipts after the
// answer, so neither the page nor its timing tells whether any matched.
func (p *Pages) resend(ctx context.Context, nationalID, email string) error {
	if id, err := consular.ParseNationalID(nationalID); err == nil {
		nationalID = id
	}
	rows, err := p.Booker.DB.Query(ctx, `SELECT a.tracking_code FROM request_applicants a JOIN requests r USING (tracking_code)
		WHERE a.national_id = $1 AND lower(a.email) = $2 AND r.status IN ('awaiting_appointment', 'appointment_booked')`, nationalID, email)
	if err != nil {
		return fmt.Errorf("find open requests: %w", err)
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find open requests: %w", err)
	}
	if p.Receipts == nil {
		return nil
	}
	email = strings.Clone(email) // out of Fiber's reused buffer: used after the answer
	// Queued even when nothing matched, so both answers take the same path.
	web.Mail.Send(ctx, "receipt again", func(ctx context.Context) error {
		for _, code := range codes {
			if err := p.Receipts(ctx, code, email); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}

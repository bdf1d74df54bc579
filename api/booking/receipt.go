package booking

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

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
	}{{"lost:email:" + email, 3}, {"lost:ip:" + c.IP(), 10}} {
		ok, until, err := p.Booker.Limits.Allow(ctx, limit.key, limit.max, time.Hour)
		if err != nil {
			return err
		}
		if !ok {
			form.Fail("email", "error.rate_limited", until.UTC().Format("15:04 UTC"))
			return p.renderLost(c, fiber.StatusTooManyRequests, form, "")
		}
	}
	if id, err := consular.ParseNationalID(nationalID); err == nil && p.Receipts != nil {
		if err := p.resend(ctx, id, email); err != nil {
			return err
		}
	}
	return p.renderLost(c, fiber.StatusOK, web.NewForm(), "booking.lost.sent")
}

func (p *Pages) resend(ctx context.Context, nationalID, email string) error {
	rows, err := p.Booker.DB.Query(ctx, `SELECT a.tracking_code FROM request_applicants a JOIN requests r USING (tracking_code)
		WHERE a.national_id = $1 AND lower(a.email) = $2 AND r.status IN ('awaiting_appointment', 'appointment_booked')`, nationalID, email)
	if err != nil {
		return err
	}
	var codes []string
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			rows.Close()
			return err
		}
		codes = append(codes, code)
	}
	rows.Close()
	for _, code := range codes {
		if err := p.Receipts(ctx, code, email); err != nil {
			return err
		}
	}
	return nil
}

// Package receipts lets anyone check a printed receipt: the public keys that
// sign receipts' QR links, and the page the QR code opens. The page shows the
// signed fields and whether the request is still open, nothing personal.
package receipts

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/receipt"
)

// KeysPath is where the receipt-signing public keys are published; a mission
// keeps a copy to verify receipts offline.
const KeysPath = "/.well-known/receipt-keys.json"

// Handlers serve the key set and the verification page.
type Handlers struct {
	Keys receipt.KeySet
	DB   *pgxpool.Pool
}

func (h *Handlers) Register(r fiber.Router) {
	r.Get(KeysPath, h.keys)
	r.Get("/receipts/verify", h.verify)
}

func (h *Handlers) keys(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.JSON(h.Keys)
}

// Verification is what the page shows.
type Verification struct {
	Genuine   bool
	Problem   string
	Fields    receipt.Fields
	ServiceFa string
	ServiceEn string
	MissionFa string
	MissionEn string
	Submitted [2]string // Persian, English
	Deadline  [2]string
	Open      bool
	Known     bool // the request is on record here
}

func (h *Handlers) verify(c *fiber.Ctx) error {
	v := h.check(c.UserContext(), string(c.Request().URI().QueryString()))
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Type("html", "utf-8")
	c.Set("Content-Security-Policy", pagePolicy)
	if !v.Genuine {
		c.Status(fiber.StatusUnprocessableEntity)
	}
	return page.Execute(c.Response().BodyWriter(), v)
}

func (h *Handlers) check(ctx context.Context, query string) Verification {
	f, err := receipt.Verify(query, h.Keys)
	switch {
	case errors.Is(err, receipt.ErrBadSignature):
		return Verification{Problem: "bad_signature"}
	case errors.Is(err, receipt.ErrUnknownKey):
		return Verification{Problem: "unknown_key"}
	case err != nil:
		return Verification{Problem: "malformed"}
	}
	v := Verification{Genuine: true, Fields: f}
	if s, ok := consular.ServiceByCode(f.ServiceCode); ok {
		v.ServiceFa, v.ServiceEn = s.Name.Fa, s.Name.En
	}
	zone := "UTC"
	_ = h.DB.QueryRow(ctx, "SELECT name_fa, name_en, time_zone FROM missions WHERE code = $1", f.MissionCode).Scan(&v.MissionFa, &v.MissionEn, &zone)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	v.Submitted = [2]string{i18n.Date(f.SubmittedAt.In(loc), i18n.Persian), i18n.Date(f.SubmittedAt.In(loc), i18n.English)}
	v.Deadline = [2]string{i18n.Date(f.DeadlineAt.In(loc), i18n.Persian), i18n.Date(f.DeadlineAt.In(loc), i18n.English)}
	var status string
	err = h.DB.QueryRow(ctx, "SELECT status FROM requests WHERE tracking_code = $1", f.TrackingCode).Scan(&status)
	if err == nil {
		v.Known = true
		v.Open = !consular.Status(status).Final()
	} else if !errors.Is(err, pgx.ErrNoRows) {
		v.Known = false
	}
	return v
}

// pageStyle is the page's only style, allowed by its hash: the page loads
// nothing and runs nothing.
const pageStyle = `body{font-family:Vazirmatn,Tahoma,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.7;color:#1a1a1a}
.ok{color:#0a6b2d}.bad{color:#a3111f}[lang=en]{direction:ltr;text-align:left}dt{font-weight:bold}`

var pagePolicy = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}()

var page = template.Must(template.New("verify").Parse(`<!DOCTYPE html>
<html lang="fa" dir="rtl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>بررسی رسید | Receipt check</title>
<style>` + pageStyle + `</style></head><body>
{{if .Genuine}}
<h1 class="ok">این رسید معتبر است</h1>
<p lang="en" class="ok"><strong>This receipt is genuine.</strong></p>
<dl>
<dt>کد پیگیری / Tracking code</dt><dd dir="ltr">{{.Fields.TrackingCode}}</dd>
<dt>خدمت / Service</dt><dd>{{.ServiceFa}}<br><span lang="en">{{.ServiceEn}}</span></dd>
<dt>نمایندگی / Mission</dt><dd>{{.MissionFa}}<br><span lang="en">{{.MissionEn}}</span></dd>
<dt>تاریخ ثبت / Submitted</dt><dd>{{index .Submitted 0}} — <span lang="en">{{index .Submitted 1}}</span></dd>
<dt>مهلت حضور / Deadline to attend</dt><dd>{{index .Deadline 0}} — <span lang="en">{{index .Deadline 1}}</span></dd>
<dt>وضعیت / State</dt><dd>{{if not .Known}}در این سامانه یافت نشد <span lang="en">(not on record here)</span>{{else if .Open}}باز <span lang="en">(open)</span>{{else}}بسته <span lang="en">(closed)</span>{{end}}</dd>
</dl>
{{else}}
<h1 class="bad">این رسید معتبر نیست</h1>
<p lang="en" class="bad"><strong>This receipt could not be verified.</strong>
{{if eq .Problem "bad_signature"}}Its contents do not match its signature: it may have been altered.{{else if eq .Problem "unknown_key"}}It was signed with a key this system does not know.{{else}}The link is incomplete.{{end}}</p>
{{end}}
</body></html>
`))

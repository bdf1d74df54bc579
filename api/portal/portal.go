// Package portal is the applicant's side in the browser: sign-up and sign-in
// with an emailed one-time password (or a fixed password), the profile
// wizard, the service catalogue, the request forms with their uploads, and
// the success page with the receipt. Pages are server-rendered and work
// without JavaScript; Persian (right to left) is the default, English the
// alternative.
package portal

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/submission"
)

// Portal serves the applicant's pages.
type Portal struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Objects  *minio.Client
	SMTP     *mail.Server
	Render   *web.Renderer
	Sessions *web.Sessions
	Captchas *web.Captchas
	Limits   *web.Limiter
	// Submissions takes the application in: the same path as the JSON API.
	Submissions *submission.Submitter
	Logger      *slog.Logger
}

// Register mounts the pages on site, which carries the security headers and sessions.
func (p *Portal) Register(site fiber.Router) {
	p.Captchas.Register(site)
	site.Get("/", p.home)
	site.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	site.Get("/lang/:lang", p.switchLanguage)
	site.Get("/session/keepalive", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })

	site.Get("/start", p.startForm)
	site.Post("/start", p.start)
	site.Get("/start/code", p.codeForm)
	site.Post("/start/code", p.code)
	site.Post("/start/resend", p.resend)
	site.Get("/signin", p.signinForm)
	site.Post("/signin", p.signin)
	site.Post("/signout", p.signout)
	site.Get("/missions", p.missions)
	site.Get("/missions/:code", p.mission)

	// Pages for signed-in applicants only. (Not a Group with a prefix of "":
	// in Fiber that middleware would run before every later route too.)
	me := func(method, path string, h fiber.Handler) { site.Add(method, path, p.signedIn, h) }
	me(fiber.MethodPost, "/signout/everywhere", p.signoutEverywhere)
	me(fiber.MethodGet, "/profile/:step", p.profileStep)
	me(fiber.MethodPost, "/profile/:step", p.saveProfileStep)
	me(fiber.MethodGet, "/account/continue", p.afterProfile)
	me(fiber.MethodGet, "/account/password", p.passwordForm)
	me(fiber.MethodPost, "/account/password", p.setPassword)
	me(fiber.MethodPost, "/account/password/code", p.passwordCode)
	me(fiber.MethodGet, "/services", p.catalogue)
	me(fiber.MethodGet, "/services/:service/apply", p.applyForm)
	me(fiber.MethodPost, "/services/:service/apply", p.apply)
	me(fiber.MethodGet, "/submitted/:code", p.submitted)
}

var language = web.Language

// page starts a page for this request.
func (p *Portal) page(c *fiber.Ctx, title string, data any) *web.Page {
	return p.Render.PageFor(c, title, data, p.Sessions.Idle)
}

func (p *Portal) home(c *fiber.Ctx) error {
	return p.Render.Render(c, fiber.StatusOK, "home", p.page(c, "home.title", nil))
}

// switchLanguage remembers the choice and goes back to the page it came from.
func (p *Portal) switchLanguage(c *fiber.Ctx) error {
	lang := c.Params("lang")
	if lang != i18n.English {
		lang = i18n.Persian
	}
	c.Cookie(&fiber.Cookie{Name: "lang", Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: "Lax", Secure: p.Sessions.Secure})
	return c.Redirect(localPath(c.Query("next")), fiber.StatusSeeOther)
}

// localPath keeps redirects on this site: next if it is one of our own
// paths, else "/". It is judged as a browser would read it, after every
// layer of percent-decoding (a browser treats "\\" as "/", drops tabs and
// newlines, and "//host" is another site), so only plain path characters
// pass: letters, digits and "/_.-", no "//" and no "..". A query after
// the path is kept, parsed and written again (a filtered list stays
// filtered across the language switch); it cannot change where one lands.
func localPath(next string) string {
	if path, query, found := strings.Cut(next, "?"); found {
		values, err := url.ParseQuery(query)
		if path = localPath(path); err != nil || path == "/" || len(values) == 0 {
			return path
		}
		return path + "?" + values.Encode()
	}
	decoded := next
	for range 4 {
		d, err := url.PathUnescape(decoded)
		if err != nil {
			return "/"
		}
		if d == decoded {
			break
		}
		decoded = d
	}
	if decoded != next && strings.Contains(decoded, "%") {
		return "/" // still encoded after four layers: nobody links like that
	}
	if !strings.HasPrefix(decoded, "/") || strings.Contains(decoded, "//") || strings.Contains(decoded, "..") {
		return "/"
	}
	for _, r := range decoded {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_.-", r)) {
			return "/"
		}
	}
	return decoded
}

// signedIn lets only signed-in applicants through; others go to sign in.
// A form posted after the session timed out is not lost: its fields are
// kept in the new session and filled in again once the applicant is back.
func (p *Portal) signedIn(c *fiber.Ctx) error {
	if web.Current(c).AccountID != 0 {
		return c.Next()
	}
	return p.SignInAgain(c)
}

// SignInAgain sends the applicant to sign in, keeping a posted form's fields
// for the page it was posted from.
func (p *Portal) SignInAgain(c *fiber.Ctx) error {
	s := web.Current(c)
	path := strings.Clone(c.Path())
	if c.Method() != fiber.MethodGet {
		if kept := postedFields(c); len(kept) > 0 {
			// Sealed: what was typed may be an email or a national ID,
			// which no session holds in clear.
			b, _ := json.Marshal(kept)
			sealed, err := web.Seal(p.Config.Keys.Kept, string(b))
			if err != nil {
				return err
			}
			s.Set(resumeKey(path), sealed)
		}
		s.Set("notice", "session.expired")
	}
	return c.Redirect("/start?next="+url.QueryEscape(path), fiber.StatusSeeOther)
}

func resumeKey(path string) string { return "resume:" + path }

// postedFields reads a posted form's text fields, whatever its encoding.
func postedFields(c *fiber.Ctx) map[string]string {
	kept := map[string]string{}
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		// Text fields only, within the form limits; files are skipped unread
		// (c.MultipartForm would read the whole body and write it to disk).
		isFile := func(name string) bool { return strings.HasPrefix(name, "document.") }
		if fr, err := web.NewFormReader(c, isFile, web.DefaultFormLimits); err == nil {
			for part, err := fr.Next(); err == nil; part, err = fr.Next() {
				if !part.IsFile {
					kept[part.Name] = part.Value
				}
			}
		}
	} else {
		c.Request().PostArgs().VisitAll(func(k, v []byte) { kept[string(k)] = string(v) })
	}
	for _, skip := range []string{"_csrf", "captcha", "captcha_id", "password", "password_confirm"} {
		delete(kept, skip)
	}
	return kept
}

// resume fills a form with what was posted when the session had timed out.
func (p *Portal) resume(c *fiber.Ctx, form *web.Form) bool {
	s := web.Current(c)
	kept, ok := web.Open(p.Config.Keys.Kept, s.Get(resumeKey(c.Path())))
	if !ok {
		return false
	}
	var values map[string]string
	if json.Unmarshal([]byte(kept), &values) != nil {
		return false
	}
	for k, v := range values {
		form.Values[k] = v
	}
	s.Set(resumeKey(c.Path()), "")
	return true
}

func (p *Portal) withNotice(c *fiber.Ctx, title, notice string) *web.Page {
	pg := p.page(c, title, nil)
	pg.Notice = notice
	return pg
}

// ErrorPage renders errors of the portal's pages as pages, not JSON.
func (p *Portal) ErrorPage(c *fiber.Ctx, code int) error {
	key := "error.generic"
	switch code {
	case fiber.StatusForbidden:
		key = "error.csrf"
	case fiber.StatusNotFound:
		key = "error.not_found"
	case fiber.StatusRequestEntityTooLarge:
		key = "error.too_large"
	case fiber.StatusServiceUnavailable:
		key = "error.unavailable"
	}
	return p.Render.Render(c, code, "message", p.withNotice(c, "error.title", key))
}

// Package web is what every HTML page shares: the layout, partials and page
// templates, the message catalogues (Persian by default, English), static
// files (CSS, the Vazirmatn font, a small script for progressive
// enhancement), security headers, server-side sessions with CSRF tokens,
// the captcha and rate limits.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/fonts"
	"github.com/openconsular/consular/internal/i18n"
)

//go:embed templates messages static
var files embed.FS

// Catalogue holds every visible string in each language.
type Catalogue map[string]map[string]string

// LoadCatalogue reads messages/<lang>.json and checks both languages have
// the same keys, so a page never shows a key instead of words.
func LoadCatalogue() (Catalogue, error) {
	c := Catalogue{}
	for _, lang := range []string{i18n.Persian, i18n.English} {
		b, err := files.ReadFile("messages/" + lang + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("messages/%s.json: %w", lang, err)
		}
		c[lang] = m
	}
	for key := range c[i18n.Persian] {
		if _, ok := c[i18n.English][key]; !ok {
			return nil, fmt.Errorf("message %q has no English text", key)
		}
	}
	for key := range c[i18n.English] {
		if _, ok := c[i18n.Persian][key]; !ok {
			return nil, fmt.Errorf("message %q has no Persian text", key)
		}
	}
	return c, nil
}

// Literal is a message argument written as it is in every language, such as
// a link, whose digits must stay ASCII.
type Literal string

// LTR is a Literal shown as a left-to-right run of its own (between LRI and
// PDI marks), so an email address inside a Persian sentence keeps its digits
// and its order.
func LTR(s string) Literal { return Literal("\u2066" + s + "\u2069") }

// T returns the message in lang with {0}, {1}... replaced by args; numbers in
// Persian text are written with Persian digits, except in a Literal and in
// an argument that is an email address or a file name (ali123@example.com,
// scan2024.jpg): those are written as they are, as one left-to-right run,
// whichever call site forgot to mark them, since with Persian digits the
// address or the name is no longer the applicant's.
func (c Catalogue) T(lang, key string, args ...any) string {
	s, ok := c[lang][key]
	if !ok {
		return key // LoadCatalogue and the tests keep this from reaching a page
	}
	for i, a := range args {
		v := fmt.Sprint(a)
		_, literal := a.(Literal)
		switch {
		case literal && lang != i18n.Persian:
			// Left-to-right text needs no isolation marks.
			v = strings.TrimSuffix(strings.TrimPrefix(v, "\u2066"), "\u2069")
		case lang == i18n.Persian && !literal:
			if str, isString := a.(string); isString && latinName(str) {
				v = string(LTR(str))
			} else {
				v = i18n.PersianDigits(v)
			}
		}
		s = strings.ReplaceAll(s, fmt.Sprintf("{%d}", i), v)
	}
	return s
}

// latinName reports whether s is written in Latin script as a name that must
// keep its characters: an email address (one "@", no spaces) or a file name
// (an extension of up to five ASCII letters and digits, one a letter).
func latinName(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n\u2066\u2069") {
		return false
	}
	if at := strings.IndexByte(s, '@'); at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t") {
		return true
	}
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || len(s)-dot-1 > 5 || len(s)-dot-1 == 0 {
		return false
	}
	letter := false
	for _, r := range s[dot+1:] {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return letter
}

// Renderer renders pages: the layout around one page template.
type Renderer struct {
	Messages Catalogue
	pages    map[string]*template.Template
}

// NewRenderer parses every page with the layout and partials.
func NewRenderer(messages Catalogue) (*Renderer, error) {
	r := &Renderer{Messages: messages, pages: map[string]*template.Template{}}
	base, err := template.New("layout").ParseFS(files, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	pages, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		t, err := template.Must(base.Clone()).ParseFS(files, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		r.pages[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return r, nil
}

// Language is the visitor's: the lang cookie, else Persian.
func Language(c *fiber.Ctx) string {
	if c.Cookies("lang") == i18n.English {
		return i18n.English
	}
	return i18n.Persian
}

// PageFor starts a page for this request: its language, path, CSRF token and
// whether someone is signed in (who then gets the session-timeout warning).
func (r *Renderer) PageFor(c *fiber.Ctx, title string, data any, idle time.Duration) *Page {
	pg := r.NewPage(Language(c))
	pg.Path, pg.Title, pg.Data = strings.Clone(c.Path()), title, data
	pg.Here = pg.Path
	if q := c.Context().QueryArgs().QueryString(); len(q) > 0 && c.Method() == fiber.MethodGet {
		pg.Here += "?" + string(q) // the language switch keeps a filtered list filtered
	}
	if s := Current(c); s != nil {
		pg.CSRF = s.CSRF()
		pg.SignedIn = s.AccountID != 0
		if pg.SignedIn {
			// The warning comes before the idle timeout, or before the
			// absolute end if that is sooner.
			pg.SessionSeconds = int(min(idle, s.Remaining()) / time.Second)
		}
	}
	return pg
}

// NewPage starts a page in lang.
func (r *Renderer) NewPage(lang string) *Page {
	return &Page{Lang: lang, messages: r.Messages}
}

// Render writes the page with the given status.
func (r *Renderer) Render(c *fiber.Ctx, status int, name string, p *Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	p.messages = r.Messages
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).Send(b.Bytes())
}

// Static serves the CSS, the script and the fonts, embedded in the binary.
func Static(app fiber.Router) {
	serve := func(prefix string, fsys fs.FS) {
		app.Get(prefix+"/*", func(c *fiber.Ctx) error {
			name := c.Params("*")
			b, err := fs.ReadFile(fsys, name)
			if err != nil || strings.Contains(name, "..") {
				return fiber.ErrNotFound
			}
			c.Type(path.Ext(name))
			c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
			return c.Send(b)
		})
	}
	static, _ := fs.Sub(files, "static")
	serve("/static", static)
	serve("/fonts", fonts.Web)
}

// SecurityHeaders are sent with every page: no inline script, no framing.
func SecurityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"font-src 'self'; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	return c.Next()
}

// Page is what every template gets: the language, the form being shown with
// its values and errors, the CSRF token, and the page's own data.
type Page struct {
	Lang     string
	Path     string // the current path, for the menu's current entry
	Here     string // the current path and query, for the language switch
	CSRF     string
	SignedIn bool
	Staff    bool // the staff dashboard: its own navigation
	// StaffRole is the signed-in staff member's role, for the navigation.
	StaffRole string
	Title     string // message key
	Form      *Form
	Notice    string // message key of a notice shown at the top
	Data      any
	// SessionSeconds is the idle timeout, for the warning before it ends.
	SessionSeconds int
	messages       Catalogue
}

// T is the catalogue in the page's language.
func (p *Page) T(key string, args ...any) string { return p.messages.T(p.Lang, key, args...) }

// LTR marks an argument for T as written in Latin script: an address, a
// code or a name keeps its ASCII digits and reads as one left-to-right run.
func (p *Page) LTR(s string) Literal { return LTR(s) }

// MissionCard is a mission's details for the card partial: the page (for
// its words) and what missions.json holds.
type MissionCard struct {
	*Page
	consular.MissionInfo
	Name string
}

// Mission returns the card of a mission by its code, named as given.
func (p *Page) Mission(code string, name consular.Text) MissionCard {
	m, _ := consular.Missions.Mission(code)
	return MissionCard{Page: p, MissionInfo: m, Name: name.In(p.Lang)}
}

// MissionDetails is a mission's card without its name (its own page has it
// as the heading).
func (p *Page) MissionDetails(code string) MissionCard { return p.Mission(code, consular.Text{}) }

// ServiceName is a service's name in the page's language, by its code (the
// code itself if the catalogue no longer has it).
func (p *Page) ServiceName(code string) string {
	if s, ok := consular.ServiceByCode(code); ok {
		return s.Name.In(p.Lang)
	}
	return code
}

// CountryName is a country's name in the page's language, by its ISO code.
func (p *Page) CountryName(code string) string {
	c, ok := consular.Missions.Countries[code]
	if !ok {
		return code
	}
	return consular.Text{Fa: c.Fa, En: c.En}.In(p.Lang)
}

// Dir is the page's writing direction.
func (p *Page) Dir() string {
	if p.Lang == i18n.Persian {
		return "rtl"
	}
	return "ltr"
}

// OtherLang is the language the switch offers.
func (p *Page) OtherLang() string {
	if p.Lang == i18n.Persian {
		return i18n.English
	}
	return i18n.Persian
}

// Num writes a number in the page's digits.
func (p *Page) Num(v any) string {
	s := fmt.Sprint(v)
	if p.Lang == i18n.Persian {
		return i18n.PersianDigits(s)
	}
	return s
}

// Clock writes a time of day in the page's digits.
func (p *Page) Clock(t time.Time) string { return p.Num(t.Format("15:04")) }

// DateTime writes a day and time in the page's calendar and digits.
func (p *Page) DateTime(t time.Time) string { return i18n.DateTime(t, p.Lang) }

// Date writes a day in the page's calendar: Solar Hijri in Persian.
func (p *Page) Date(t time.Time) string { return i18n.Date(t, p.Lang) }

// DualDate writes a day for staff: on Persian pages the Solar Hijri date
// with the Gregorian one beside it (officers abroad read both: the
// applicant's papers and the host country's), on English pages the
// Gregorian date only. t should already be in the mission's zone.
func (p *Page) DualDate(t time.Time) template.HTML {
	return p.dual(t, i18n.Date(t, p.Lang), "2 Jan 2006")
}

// DualDateTime is DualDate with the time of day on the 24-hour clock.
func (p *Page) DualDateTime(t time.Time) template.HTML {
	return p.dual(t, i18n.Date(t, p.Lang)+"، "+p.Clock(t), "2 Jan 2006, 15:04")
}

// dual writes local (the page's calendar) and, on Persian pages, the
// Gregorian day as a left-to-right run; english is the English form.
func (p *Page) dual(t time.Time, local, english string) template.HTML {
	iso := t.Format(time.RFC3339)
	if p.Lang != i18n.Persian {
		return template.HTML(`<time datetime="` + iso + `">` + template.HTMLEscapeString(t.Format(english)) + `</time>`)
	}
	return template.HTML(`<time datetime="` + iso + `">` + template.HTMLEscapeString(local) +
		` <bdi dir="ltr" class="greg">` + t.Format("2 Jan 2006") + `</bdi></time>`)
}

// Form is a form's values as the person typed them and its errors by field.
type Form struct {
	Values map[string]string
	Errors map[string]string // field -> message key
	Args   map[string][]any  // arguments of the error messages
	Labels map[string]string // labels not in the catalogue (a service's own fields)
	order  []string
}

// NewForm returns an empty form.
func NewForm() *Form {
	return &Form{Values: map[string]string{}, Errors: map[string]string{}, Args: map[string][]any{}, Labels: map[string]string{}}
}

// Fail records an error on a field, in the order fields are checked.
func (f *Form) Fail(field, key string, args ...any) {
	if _, ok := f.Errors[field]; !ok {
		f.order = append(f.order, field)
	}
	f.Errors[field] = key
	f.Args[field] = args
}

// OK reports whether the form has no errors.
func (f *Form) OK() bool { return len(f.Errors) == 0 }

// FieldError is one line of the error summary.
type FieldError struct {
	Field   string
	Message string
}

// Summary lists the errors in the order they were found, each led by its
// field's label, so the list makes sense read aloud.
func (p *Page) Summary() []FieldError {
	if p.Form == nil {
		return nil
	}
	var out []FieldError
	for _, f := range p.Form.order {
		label := p.Form.Labels[f]
		if label == "" {
			label = p.T("field." + f)
		}
		out = append(out, FieldError{Field: f, Message: label + ": " + p.T(p.Form.Errors[f], p.Form.Args[f]...)})
	}
	return out
}

// Field describes one input for the field partial.
type Field struct {
	Name     string
	Label    string
	Hint     string
	Type     string // text, email, password, date, select, checkbox, textarea, file
	Value    string
	Error    string
	Required bool
	Options  []Option
	Attrs    template.HTMLAttr
}

// Option is one choice of a select.
type Option struct {
	Value, Label string
	Selected     bool
}

// Input builds a field of the page's form: label and hint from the
// catalogue ("field.<name>" and "hint.<name>"), value and error from the form.
func (p *Page) Input(name, kind string, required bool) Field {
	f := Field{Name: name, Type: kind, Required: required, Label: p.T("field." + name)}
	switch {
	case kind == "email" || kind == "tel" || kind == "password":
		f.Attrs = `dir="ltr"`
	case name == "national_id" || name == "code" || name == "tracking_code":
		f.Attrs = `dir="ltr" inputmode="numeric" autocomplete="off"`
	}
	if hint, ok := p.messages[p.Lang]["hint."+name]; ok {
		f.Hint = hint
	}
	if p.Form != nil {
		f.Value = p.Form.Values[name]
		if key, ok := p.Form.Errors[name]; ok {
			f.Error = p.T(key, p.Form.Args[name]...)
		}
	}
	return f
}

// Choice is Input for a select whose options are "option.<name>.<value>" messages.
func (p *Page) Choice(name string, required bool, values ...string) Field {
	f := p.Input(name, "select", required)
	for _, v := range values {
		f.Options = append(f.Options, Option{Value: v, Label: p.T("option." + name + "." + v), Selected: f.Value == v})
	}
	return f
}

// Spec declares a form field: the profile's fields in Go, a service's in
// services.json. Labels and hints come from the catalogue ("field.<name>",
// "hint.<name>", "option.<name>.<value>") unless the declaration has its own.
type Spec struct {
	Name         string
	Type         string // text, email, tel, number, date, select, checkbox, textarea
	Required     bool
	Options      []string
	MaxLength    int
	Label        *consular.Text
	Hint         *consular.Text
	OptionLabels map[string]consular.Text
}

// Build turns a spec into the field the partial draws, with the form's value
// and error. Dates are typed as Solar Hijri text on Persian pages and with
// the browser's date picker on English ones.
func (p *Page) Build(s Spec) Field {
	kind := s.Type
	if kind == "date" && p.Lang == i18n.Persian {
		kind = "text"
	}
	f := p.Input(s.Name, kind, s.Required)
	if s.Label != nil {
		f.Label = s.Label.In(p.Lang)
	}
	if s.Hint != nil {
		f.Hint = s.Hint.In(p.Lang)
	} else if s.Type == "date" && f.Hint == "" {
		f.Hint = p.T("hint.date")
	}
	if s.Type == "date" && p.Lang == i18n.Persian {
		f.Attrs = `inputmode="numeric" dir="ltr"`
	}
	if s.Type == "select" {
		for _, v := range s.Options {
			label := p.T("option." + s.Name + "." + v)
			if l, ok := s.OptionLabels[v]; ok {
				label = l.In(p.Lang)
			}
			f.Options = append(f.Options, Option{Value: v, Label: label, Selected: f.Value == v})
		}
	}
	return f
}

// Upload is a document the applicant uploaded and we kept.
type Upload struct {
	Kind      string
	ObjectKey string
	FileName  string
	Format    string
	Size      int64
	SHA256    string
}

// Upload builds a file field for a document whose label is in the catalogue
// ("field.document.<kind>"); an upload already kept shows in its hint.
func (p *Page) Upload(kind string, required bool, kept Upload) Field {
	return p.UploadNamed(kind, p.T("field.document."+kind), required, kept)
}

// UploadNamed is Upload with the label given (a service's document).
func (p *Page) UploadNamed(kind, label string, required bool, kept Upload) Field {
	f := p.Input("document."+kind, "file", required)
	f.Label = label
	f.Hint = p.T("hint.document")
	if kept.ObjectKey != "" {
		f.Value = "kept"
		f.Hint = p.T("upload.kept", LTR(kept.FileName)) + " " + p.T("upload.replace")
	}
	return f
}

// Shown writes a stored answer for reading: a choice by its label, a date
// in the page's calendar.
func (p *Page) Shown(s Spec, value string) string {
	switch s.Type {
	case "select":
		if l, ok := s.OptionLabels[value]; ok {
			return l.In(p.Lang)
		}
		return p.T("option." + s.Name + "." + value)
	case "date":
		if t, err := time.Parse("2006-01-02", value); err == nil {
			return p.Date(t)
		}
	case "checkbox":
		return p.T("answer.yes")
	}
	return value
}

// JSONError is the JSON APIs' error body: the status, and the message in
// English and Persian.
func JSONError(c *fiber.Ctx, status int, en, fa string) error {
	return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": status, "message": en, "message_fa": fa}})
}

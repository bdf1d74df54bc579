package browser

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The pages below stand in for the portal's: same Content-Security-Policy,
// labelled fields, an error summary that takes the focus, a Persian page.
const csp = "default-src 'self'"

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><link rel="stylesheet" href="/style.css"><script src="/app.js" defer></script>
</head><body><main>{{end}}

{{define "apply"}}{{template "head" .}}
<h1>Apply for a consular service</h1>
{{if .Errors}}<div id="error-summary" role="alert" tabindex="-1"><h2>There is a problem</h2>
<ul>{{range .Errors}}<li><a href="#full_name">{{.}}</a></li>{{end}}</ul></div>{{end}}
<form method="post" action="/apply" enctype="multipart/form-data">
<label for="full_name">Full name</label><input id="full_name" name="full_name" value="{{.Name}}" required autocomplete="name">
<label for="email">Email</label><input id="email" name="email" type="email" value="{{.Email}}" autocomplete="email">
<label for="service">Service</label><select id="service" name="service">
<option value="passport">Passport</option><option value="poa">Power of attorney</option></select>
<label for="photo">Photo</label><input id="photo" name="photo" type="file" accept="image/jpeg">
<button type="submit" id="send">Send</button>
</form>
<script>document.title = 'the inline script ran';</script>
</main></body></html>{{end}}

{{define "done"}}{{template "head" .}}
<h1>Received</h1><p id="thanks">Thank you, {{.Name}}.</p><p id="file">{{.File}}</p>
<p><a id="again" href="/">Apply again</a></p>
</main></body></html>{{end}}

{{define "unlabelled"}}{{template "head" .}}
<h1>Nickname</h1><form method="post" action="/apply"><input type="text" name="nickname"><button>Save</button></form>
</main></body></html>{{end}}

{{define "persian"}}{{template "head" .}}
<h1>درخواست خدمات کنسولی</h1>
<p id="intro">برای درخواست گذرنامه، فرم زیر را پر کنید. کد رهگیری پس از ارسال به ایمیل شما فرستاده می‌شود.</p>
<form method="post" action="/apply">
<label for="full_name">نام و نام خانوادگی</label><input id="full_name" name="full_name" autocomplete="name">
<label for="national_id">کد ملی</label><input id="national_id" name="national_id" dir="ltr" inputmode="numeric">
<button type="submit" id="send">ارسال</button>
</form>
{{range .Paragraphs}}<p>بند شماره {{.}}: متن نمونه برای صفحهٔ بلند.</p>{{end}}
</main></body></html>{{end}}

{{define "me"}}{{template "head" .}}
<h1>Account</h1><p id="who">{{.Name}}</p><p><a id="receipt" href="/receipt.pdf">Receipt</a></p>
</main></body></html>{{end}}
`))

type pageData struct {
	Lang, Dir, Title string
	Errors           []string
	Name, Email      string
	File             string
	Paragraphs       []int
}

const styleCSS = `
body { font-family: "DejaVu Sans", sans-serif; margin: 0; color: #1b1b1b; background: #fff; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; }
label { display: block; margin-top: 1rem; font-weight: bold; }
input, select, button { display: block; width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; margin-top: .25rem; }
button { margin-top: 1.5rem; background: #005a30; color: #fff; border: 0; }
#error-summary { border: 4px solid #b10e1e; padding: 0 1rem; }
#error-summary a { color: #b10e1e; }
`

// The portal's script would do the same: move the focus to the error summary.
const appJS = `const summary = document.getElementById('error-summary'); if (summary) summary.focus();`

// server is the test site; sessions holds the session cookies it issued.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	sessions := map[string]bool{}
	signedIn := func(r *http.Request) bool {
		c, err := r.Cookie("session")
		mu.Lock()
		defer mu.Unlock()
		return err == nil && sessions[c.Value]
	}
	render := func(w http.ResponseWriter, status int, name string, p pageData) {
		if p.Lang == "" {
			p.Lang, p.Dir = "en", "ltr"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if err := pages.ExecuteTemplate(w, name, p); err != nil {
			t.Errorf("render %s: %v", name, err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "apply", pageData{Title: "Apply"})
	})
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name, email := r.FormValue("full_name"), r.FormValue("email")
		if strings.TrimSpace(name) == "" {
			render(w, http.StatusUnprocessableEntity, "apply", pageData{Title: "Error: Apply", Errors: []string{"Enter your full name"}, Email: email})
			return
		}
		file := "no file"
		if f, h, err := r.FormFile("photo"); err == nil {
			data, _ := io.ReadAll(f)
			file = fmt.Sprintf("%s %d bytes %s", h.Filename, len(data), r.FormValue("service"))
		}
		http.Redirect(w, r, "/done?"+url.Values{"name": {name}, "file": {file}}.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "done", pageData{Title: "Received", Name: r.URL.Query().Get("name"), File: r.URL.Query().Get("file")})
	})
	mux.HandleFunc("GET /unlabelled", func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "unlabelled", pageData{Title: "Nickname"})
	})
	mux.HandleFunc("GET /fa", func(w http.ResponseWriter, r *http.Request) {
		p := pageData{Lang: "fa", Dir: "rtl", Title: "درخواست"}
		if r.URL.Query().Has("long") {
			for i := range 60 {
				p.Paragraphs = append(p.Paragraphs, i+1)
			}
		}
		render(w, http.StatusOK, "persian", p)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		id := rand.Text()
		mu.Lock()
		sessions[id] = true
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "session", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			render(w, http.StatusUnauthorized, "me", pageData{Title: "Account", Name: "not signed in"})
			return
		}
		render(w, http.StatusOK, "me", pageData{Title: "Account", Name: "signed in"})
	})
	mux.HandleFunc("GET /receipt.pdf", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = io.WriteString(w, "%PDF-1.7 a receipt")
	})
	mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		_, _ = io.WriteString(w, styleCSS)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = io.WriteString(w, appJS)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFormIsFilledSubmittedAndShownAgainWithErrors(t *testing.T) {
	srv := server(t)
	b := New(t)

	if got := b.Visit(srv.URL); got != http.StatusOK {
		t.Fatalf("visit: status %d", got)
	}
	if got := b.Title(); got != "Apply" {
		t.Errorf("title %q: the inline script ran despite the Content-Security-Policy", got)
	}
	if errs := strings.Join(b.ConsoleErrors(), "\n"); !strings.Contains(errs, "Content Security Policy") {
		t.Errorf("no CSP refusal of the inline script among the page's errors:\n%s", errs)
	}

	// The browser's own validation (required) stops an empty name first.
	msgs := failures(t, b, func() { b.Submit("#send") })
	if len(msgs) != 1 || !strings.Contains(msgs[0], "full_name") {
		t.Errorf("Submit with an empty required field: failures %q, want one naming full_name", msgs)
	}

	b.Fill("#email", "ada@example.org")
	b.DisableClientValidation()
	if got := b.Submit("#send"); got != http.StatusUnprocessableEntity {
		t.Fatalf("submit without a name: status %d, want 422", got)
	}
	if got := b.FocusedID(); got != "error-summary" {
		t.Errorf("focus on %q after a failed submission, want error-summary", got)
	}
	if got := b.Text("#error-summary h2"); got != "There is a problem" {
		t.Errorf("error summary heading %q", got)
	}
	if got := b.Value("#email"); got != "ada@example.org" {
		t.Errorf("email shown again as %q", got)
	}
	if got := b.Attr("#full_name", "required"); got != "" {
		t.Errorf("required attribute %q, want present and empty", got)
	}

	b.Fill("#full_name", "Ada Lovelace")
	b.Select("#service", "Power of attorney")
	b.UploadBytes("#photo", "photo.jpg", bytes.Repeat([]byte{0xff}, 1234))
	if got := b.Submit("form"); got != http.StatusOK {
		t.Fatalf("submit: status %d, want 200 after the redirect", got)
	}
	if u := b.URL(); !strings.Contains(u, "/done?") {
		t.Errorf("after submitting: at %s, want /done", u)
	}
	if got := b.Text("#thanks"); got != "Thank you, Ada Lovelace." {
		t.Errorf("thanks %q", got)
	}
	if got := b.Text("#file"); got != "photo.jpg 1234 bytes poa" {
		t.Errorf("file %q", got)
	}
	if b.Exists("#error-summary") || b.Count("p") != 3 {
		t.Errorf("done page: error summary %v, %d paragraphs", b.Exists("#error-summary"), b.Count("p"))
	}
	if got := b.ClickAndWait("#again"); got != http.StatusOK || b.Value("#full_name") != "" {
		t.Errorf("link back: status %d, name %q", got, b.Value("#full_name"))
	}
	if !strings.Contains(b.HTML(), `<form method="post" action="/apply"`) {
		t.Errorf("HTML() lacks the form")
	}
}

func TestAxeRunsUnderContentSecurityPolicy(t *testing.T) {
	srv := server(t)
	b := New(t)
	b.Visit(srv.URL)
	r := b.CheckAccessibility(t)
	t.Log(r)
	if r.Version != "4.14.1" || r.Passes == 0 {
		t.Errorf("axe-core %q passed %d rules, want 4.14.1 and some", r.Version, r.Passes)
	}
	// A second check on the same page reuses the injected axe-core.
	if v := b.Violations(); len(v) != len(r.Violations) {
		t.Errorf("second run: %d violations, first %d", len(v), len(r.Violations))
	}
}

func TestAxeFailsAnUnlabelledInput(t *testing.T) {
	srv := server(t)
	b := New(t)
	b.Visit(srv.URL + "/unlabelled")

	var label *AxeViolation
	for _, v := range b.Violations() {
		if v.ID == "label" {
			label = &v
		}
	}
	if label == nil || !label.Blocking() || len(label.Nodes) != 1 || label.Nodes[0].Target[0] != "input" {
		t.Fatalf("violation of rule label: %+v, want one blocking on the nickname input", label)
	}

	rec := &recorder{TB: t}
	b.CheckAccessibility(rec)
	if msgs := rec.msgs; len(msgs) != 1 || !strings.Contains(msgs[0], "label (critical)") || !strings.Contains(msgs[0], "at input\n") {
		t.Errorf("CheckAccessibility reported %q, want the label violation and its selector", msgs)
	}
}

func TestPersianPageIsRightToLeftAtBothWidths(t *testing.T) {
	srv := server(t)
	b := New(t)
	b.Visit(srv.URL + "/fa")

	if b.Dir() != "rtl" || b.Lang() != "fa" {
		t.Errorf("dir %q lang %q, want rtl fa", b.Dir(), b.Lang())
	}
	if got := b.Text("h1"); got != "درخواست خدمات کنسولی" {
		t.Errorf("heading %q", got)
	}
	if b.Direction("#full_name") != "rtl" || b.Direction("#national_id") != "ltr" {
		t.Errorf("directions: name %s, national ID %s", b.Direction("#full_name"), b.Direction("#national_id"))
	}
	b.Fill("#full_name", "مریم محمدی")
	b.Fill("#national_id", "۰۰۱۳۵۴۲۴۱۹")
	if got := b.Value("#national_id"); got != "۰۰۱۳۵۴۲۴۱۹" {
		t.Errorf("national ID holds %q", got)
	}
	b.CheckAccessibility(t)

	checkScreenshots(t, b, "form")
	b.Visit("/fa?long=1")
	checkScreenshots(t, b, "long")
}

// checkScreenshots takes both widths' screenshots and checks that each is a
// PNG of its width, at least as tall as the page, with the green send button
// drawn where the page's layout at that width puts it.
func checkScreenshots(t *testing.T, b *Browser, name string) {
	t.Helper()
	type box struct{ Left, Top, Height, Page float64 }
	layout := map[int]box{}
	for _, w := range []int{390, 1280} {
		b.SetViewport(w, 800)
		var bx box
		raw := b.eval("layout", `() => { const r = document.querySelector('#send').getBoundingClientRect();
			return {Left: r.left + scrollX, Top: r.top + scrollY, Height: r.height, Page: document.documentElement.scrollHeight}; }`)
		if err := json.Unmarshal(raw, &bx); err != nil {
			t.Fatal(err)
		}
		layout[w] = bx
	}
	b.SetViewport(1280, 800)

	paths := b.ScreenshotBothWidths(name)
	for i, want := range []int{390, 1280} {
		if wantPath := filepath.Join(RepoRoot(t), ".artifacts", "browser", t.Name(), fmt.Sprintf("%s-%d.png", name, want)); paths[i] != wantPath {
			t.Errorf("screenshot at %s, want %s", paths[i], wantPath)
		}
		f, err := os.Open(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", paths[i], err)
		}
		l := layout[want]
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != want || float64(h) < l.Page {
			t.Errorf("%s is %dx%d, want %d wide and %v tall", paths[i], w, h, want, l.Page)
		}
		r, g, bl, _ := img.At(int(l.Left)+4, int(l.Top+l.Height/2)).RGBA()
		if r>>8 != 0x00 || g>>8 != 0x5a || bl>>8 != 0x30 {
			t.Errorf("%s: at the send button (%v, %v) the pixel is #%02x%02x%02x, want the button's #005a30", paths[i], l.Left+4, l.Top+l.Height/2, r>>8, g>>8, bl>>8)
		}
	}
}

func TestBrowsersKeepTheirOwnCookies(t *testing.T) {
	srv := server(t)
	alice, bob := New(t), New(t)
	t.Logf("Chromium started in %v and %v", alice.StartupTime, bob.StartupTime)

	if got := alice.Visit(srv.URL + "/login"); got != http.StatusOK || alice.Text("#who") != "signed in" {
		t.Fatalf("sign in: status %d, %q", got, alice.Text("#who"))
	}
	session := alice.Cookie("session")
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Lax", session)
	}
	if got := alice.Download("/receipt.pdf"); !bytes.HasPrefix(got, []byte("%PDF-")) {
		t.Errorf("receipt %q", got)
	}

	if got := bob.Visit(srv.URL + "/me"); got != http.StatusUnauthorized || bob.Text("#who") != "not signed in" {
		t.Errorf("the other browser: status %d, %q, want 401 not signed in", got, bob.Text("#who"))
	}
	if c := bob.Cookies(); len(c) != 0 {
		t.Errorf("the other browser has cookies %v", c)
	}
	if r := bob.Fetch("/receipt.pdf"); r.Status != http.StatusForbidden {
		t.Errorf("receipt without the session: %d, want 403", r.Status)
	}

	bob.SetCookie(srv.URL, session)
	if got := bob.Visit("/me"); got != http.StatusOK {
		t.Errorf("with the copied session cookie: status %d, want 200", got)
	}

	alice.ClearCookies()
	if got := alice.Visit("/me"); got != http.StatusUnauthorized {
		t.Errorf("after clearing cookies: status %d, want 401", got)
	}
}

func TestMissingAxeCoreNamesMakeTest(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "deploy", "browser-deps.sh"), []byte("AXE_VERSION=4.14.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		loadAxe(rec, root)
	}()
	<-done
	if len(rec.msgs) != 1 || !strings.Contains(rec.msgs[0], "make test") || !strings.Contains(rec.msgs[0], "4.14.1") {
		t.Errorf("failures %q, want one naming make test and the version", rec.msgs)
	}
}

// recorder is a testing.TB that records failures instead of failing; its
// Fatal ends the goroutine, as testing's does.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) Helper()                      {}
func (r *recorder) Error(args ...any)            { r.add(fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, args ...any) { r.add(fmt.Sprintf(f, args...)) }
func (r *recorder) Fatal(args ...any)            { r.add(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(f string, args ...any) { r.add(fmt.Sprintf(f, args...)); runtime.Goexit() }
func (r *recorder) Skip(args ...any)             { r.add("skip: " + fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Skipf(f string, args ...any) {
	r.add("skip: " + fmt.Sprintf(f, args...))
	runtime.Goexit()
}
func (r *recorder) Log(args ...any)                 {}
func (r *recorder) Logf(format string, args ...any) {}

// failures runs f with b failing into a recorder instead of t, and returns
// what it reported.
func failures(t *testing.T, b *Browser, f func()) []string {
	t.Helper()
	rec := &recorder{TB: t}
	real := b.t
	b.t = rec
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
	b.t, b.failing = real, false
	// The screenshot of an expected failure would only mislead.
	if dir, err := b.artifactDir(); err == nil {
		_ = os.Remove(filepath.Join(dir, fmt.Sprintf("failure-%d.png", b.width)))
	}
	return rec.msgs
}

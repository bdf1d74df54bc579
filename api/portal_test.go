package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/testenv"
)

// applicant is a browser without JavaScript: a cookie jar, forms posted as
// a browser posts them, pages read as HTML.
type applicant struct {
	t      *testing.T
	s      *system
	client *http.Client
	email  string
	page   string // the last page's HTML
	status int
}

const testCaptcha = "24680"

func newApplicant(t *testing.T, s *system) *applicant {
	jar, _ := cookiejar.New(nil)
	return &applicant{t: t, s: s, email: email(t),
		client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (a *applicant) do(req *http.Request) {
	a.t.Helper()
	req.Header.Set("Accept", "text/html")
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a.page, a.status = string(b), resp.StatusCode
}

func (a *applicant) get(path string) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.s.url+path, nil)
	a.do(req)
}

var hidden = regexp.MustCompile(`name="(_csrf|captcha_id)" value="([^"]*)"`)

// hiddenValue reads a hidden input of the last page.
func (a *applicant) hiddenValue(name string) string {
	for _, m := range hidden.FindAllStringSubmatch(a.page, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// post sends a form of the last page, with its CSRF token and captcha.
func (a *applicant) post(path string, fields map[string]string) {
	a.t.Helper()
	values := url.Values{"_csrf": {a.hiddenValue("_csrf")}, "captcha_id": {a.hiddenValue("captcha_id")}, "captcha": {testCaptcha}}
	for k, v := range fields {
		values.Set(k, v)
	}
	req, _ := http.NewRequest(http.MethodPost, a.s.url+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a.do(req)
}

// postMultipart sends a form with files, the CSRF token in the action URL
// as the page's form has it.
func (a *applicant) postMultipart(action string, fields map[string]string, files map[string][]byte) {
	a.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("captcha_id", a.hiddenValue("captcha_id"))
	_ = w.WriteField("captcha", testCaptcha)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	for kind, content := range files {
		part, _ := w.CreateFormFile("document."+kind, kind+".jpg")
		_, _ = part.Write(content)
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, a.s.url+action, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	a.do(req)
}

// otp reads the newest one-time password from the applicant's mail.
func (a *applicant) otp(n int) string {
	a.t.Helper()
	msgs := testenv.Mail(a.t).WaitFor(a.t, "to:"+a.email, n, 15*time.Second)
	m := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(msgs[len(msgs)-1].Subject)
	if m == nil {
		a.t.Fatalf("no code in %q", msgs[len(msgs)-1].Subject)
	}
	return m[1]
}

func (a *applicant) want(status int, contains ...string) {
	a.t.Helper()
	if a.status != status {
		a.t.Fatalf("status %d, want %d; page:\n%.3000s", a.status, status, a.page)
	}
	for _, c := range contains {
		if !strings.Contains(a.page, c) {
			a.t.Fatalf("page does not say %q:\n%.3000s", c, a.page)
		}
	}
}

// signUp walks start and code to a signed-in session.
func (a *applicant) signUp(nationalID string) {
	a.t.Helper()
	a.get("/lang/en?next=/start")
	a.post("/start", map[string]string{"email": a.email, "national_id": nationalID})
	a.want(200, "Enter your one-time password")
	a.post("/start/code", map[string]string{"code": a.otp(1)})
	a.want(200, "Identity")
}

func TestApplicantSignsUpCompletesProfileAndSubmitsADrivingLicenceInquiry(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	a := newApplicant(t, s)
	a.signUp(testenv.NationalID())

	// Identity: a missing field and a PNG instead of a JPEG are refused; what
	// was typed and the accepted upload are kept.
	png := append([]byte("\x89PNG\r\n\x1a\n"), testenv.JPEG(t)[8:]...)
	identity := map[string]string{"first_name_fa": "سارا", "last_name_fa": "احمدی", "first_name_en": "Sara", "last_name_en": "Ahmadi",
		"father_name": "Reza", "birth_certificate_number": "۱۲۳۴۵", "birth_date": "1991-08-03", "birth_place": "Tabriz", "gender": "female"}
	delete(identity, "birth_place")
	a.postMultipart("/profile/identity?_csrf="+a.hiddenValue("_csrf"), identity,
		map[string][]byte{"passport": testenv.JPEG(t), "birth_certificate": png})
	a.want(422, "Please correct the following", "Place of birth: This is required.", `value="Sara"`, "Uploaded: passport.jpg", `id="error-summary"`)
	if !strings.Contains(a.page, "Birth certificate, first page:") {
		t.Fatalf("the refused upload is not named:\n%.2000s", a.page)
	}
	identity["birth_place"] = "Tabriz"
	a.postMultipart("/profile/identity?_csrf="+a.hiddenValue("_csrf"), identity, map[string][]byte{"birth_certificate": testenv.JPEG(t)})
	a.want(200, "Residence") // followed the 303 to the next step
	a.post("/profile/residence", map[string]string{"country": "Austria", "city": "Vienna", "address": "Praterstraße 1",
		"residence_type": "permanent_resident", "residence_since": "2015-09-01", "phone": "+43 1 234 5678"})
	a.want(200, "Review and confirm", "Sara", "Permanent resident")
	a.post("/profile/review", nil)
	a.want(200, "Your profile is complete", "I want to set a fixed password")

	a.get("/services")
	a.want(200, "Driving-licence inquiry", "Consular and judicial support")
	a.get("/services/driving_licence_inquiry/apply")
	a.want(200, "Licence number", "Include the driving record and violations", "Proof of residence", "deleted, with its documents, 30 days after your last change")
	action := regexp.MustCompile(`action="(/services/driving_licence_inquiry/apply\?[^"]+)"`).FindStringSubmatch(a.page)[1]
	action = strings.ReplaceAll(action, "&amp;", "&")
	a.postMultipart(action, map[string]string{"mission": "AT-VIE", "licence_number": "12AB"},
		map[string][]byte{"licence": testenv.JPEG(t), "residence_proof": testenv.JPEG(t)})
	a.want(422, "Licence number: This is not in the right form", "Passport data page: Upload this document.", "Uploaded: licence.jpg")
	a.postMultipart(action, map[string]string{"mission": "AT-VIE", "licence_number": "۱۲۳۴۵۶۷۸", "include_driving_record": "yes"},
		map[string][]byte{"passport": testenv.JPEG(t)})
	a.want(200, "Your request has been submitted", "Download receipt (PDF)")
	code := regexp.MustCompile(`id="tracking-code">([0-9-]+)<`).FindStringSubmatch(a.page)[1]

	// The same form sent again (a double click) leads to the same request.
	a.postMultipart(action, map[string]string{"mission": "AT-VIE", "licence_number": "12345678"}, nil)
	a.want(200, code)
	var n int
	_ = s.db.QueryRow(context.Background(), "SELECT count(*) FROM submissions").Scan(&n)
	if n != 1 {
		t.Fatalf("%d submissions, want 1", n)
	}
	// The draft's key belongs to the applicant's account, nobody else's.
	var caller, owner string
	_ = s.db.QueryRow(context.Background(), "SELECT caller, 'account:' || (SELECT id FROM accounts WHERE email = $2) FROM submissions WHERE tracking_code = $1",
		code, a.email).Scan(&caller, &owner)
	if caller == "" || caller != owner {
		t.Fatalf("the submission's caller is %q, want the applicant's %q", caller, owner)
	}
	var form, identityCopy string
	_ = s.db.QueryRow(context.Background(), "SELECT form->>'licence_number', identity->>'first_name_en' FROM request_applicants WHERE tracking_code = $1", code).Scan(&form, &identityCopy)
	if form != "12345678" || identityCopy != "Sara" {
		t.Fatalf("the request keeps licence %q and name %q", form, identityCopy)
	}
	receipt := regexp.MustCompile(`id="receipt" href="([^"]+)"`).FindStringSubmatch(a.page)[1]
	a.get(strings.ReplaceAll(receipt, "&amp;", "&"))
	if a.status != 200 || !strings.HasPrefix(a.page, "%PDF") {
		t.Fatalf("receipt: %d %.20q", a.status, a.page)
	}
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)
	if docs := s.objectsOf(code); len(docs) != 5 { // 3 of the service, 2 of the profile
		t.Fatalf("the request holds %v, want 5 documents", docs)
	}
}

func TestOneTimePasswordRules(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	ctx := context.Background()

	t.Run("a wrong code five times locks the code", func(t *testing.T) {
		a := newApplicant(t, s)
		a.get("/lang/en?next=/start")
		a.post("/start", map[string]string{"email": a.email, "national_id": testenv.NationalID()})
		good := a.otp(1)
		wrong := fmt.Sprintf("%06d", (atoiOr0(good)+1)%1_000_000)
		for i := 4; i >= 0; i-- {
			a.post("/start/code", map[string]string{"code": wrong})
			a.want(422, fmt.Sprintf("You can try %d more times", i))
		}
		a.post("/start/code", map[string]string{"code": good}) // the sixth try, right but too late
		a.want(422, "more than 5 times")
	})
	t.Run("an expired code is refused", func(t *testing.T) {
		a := newApplicant(t, s)
		a.get("/lang/en?next=/start")
		a.post("/start", map[string]string{"email": a.email, "national_id": testenv.NationalID()})
		code := a.otp(1)
		if _, err := s.db.Exec(ctx, "UPDATE signin_challenges SET expires_at = now() - interval '1 second' WHERE email = $1", a.email); err != nil {
			t.Fatal(err)
		}
		a.post("/start/code", map[string]string{"code": code})
		a.want(422, "This code has expired")
	})
	t.Run("a resend must wait a minute", func(t *testing.T) {
		a := newApplicant(t, s)
		id := testenv.NationalID()
		a.get("/lang/en?next=/start")
		a.post("/start", map[string]string{"email": a.email, "national_id": id})
		a.otp(1)
		a.post("/start/resend", nil)
		a.want(429, "You can ask for a new code in")
	})
	t.Run("codes to one address are limited per hour", func(t *testing.T) {
		a := newApplicant(t, s)
		id := testenv.NationalID()
		a.get("/lang/en?next=/start")
		for i := 0; i < 5; i++ {
			a.get("/start")
			a.post("/start", map[string]string{"email": a.email, "national_id": id})
			a.want(200, "Enter your one-time password")
		}
		a.get("/start")
		a.post("/start", map[string]string{"email": a.email, "national_id": id})
		a.want(422, "Too many attempts", `value="`+a.email+`"`)
	})
	t.Run("a national ID with a wrong check digit is refused, the email kept", func(t *testing.T) {
		a := newApplicant(t, s)
		a.get("/lang/en?next=/start")
		a.post("/start", map[string]string{"email": a.email, "national_id": "0013542418"})
		a.want(422, "its check digit does not match", `value="`+a.email+`"`, `value="0013542418"`)
	})
}

func TestSessionsAreProtected(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})

	t.Run("a form without its CSRF token is refused", func(t *testing.T) {
		a := newApplicant(t, s)
		a.get("/lang/en?next=/start")
		req, _ := http.NewRequest(http.MethodPost, s.url+"/start", strings.NewReader("email=x%40example.org&national_id=0013542419"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a.do(req)
		a.want(403, "This form has expired or was sent from elsewhere")
	})
	t.Run("the session ID changes at sign-in and the old one is worthless", func(t *testing.T) {
		// A live session ID planted in the browser before sign-in (showing
		// a page stores no session, so it is put in the table directly).
		a := newApplicant(t, s)
		u, _ := url.Parse(s.url)
		planted := "planted-" + strings.Repeat("x", 32)
		sum := sha256.Sum256([]byte(planted))
		if _, err := s.db.Exec(context.Background(), "INSERT INTO sessions (id_hash, csrf_token) VALUES ($1, 'planted-token')", sum[:]); err != nil {
			t.Fatal(err)
		}
		a.client.Jar.SetCookies(u, []*http.Cookie{{Name: "consular_session", Value: planted}})
		a.get("/start")
		before := cookie(a, u)
		a.signUp(testenv.NationalID())
		after := cookie(a, u)
		if before == "" || after == "" || before == after {
			t.Fatalf("session cookie %q before sign-in, %q after", before, after)
		}
		other := newApplicant(t, s) // another browser with the pre-sign-in cookie
		other.client.Jar.SetCookies(u, []*http.Cookie{{Name: "consular_session", Value: before}})
		other.get("/services")
		if strings.Contains(other.page, "Choose a service") || strings.Contains(other.page, "انتخاب خدمت") {
			t.Fatal("the session ID from before sign-in opens the account")
		}
	})
	t.Run("signing out everywhere ends other sessions", func(t *testing.T) {
		a := newApplicant(t, s)
		a.signUp(testenv.NationalID())
		u, _ := url.Parse(s.url)
		phone := newApplicant(t, s) // the same session copied to a second device
		phone.client.Jar.SetCookies(u, []*http.Cookie{{Name: "consular_session", Value: cookie(a, u)}})
		phone.get("/profile/identity")
		phone.want(200, `name="first_name_fa"`)
		a.post("/signout/everywhere", nil)
		phone.get("/profile/identity")
		if strings.Contains(phone.page, "first_name_fa") {
			t.Fatal("a session survived signing out everywhere")
		}
	})
	t.Run("pages send the security headers", func(t *testing.T) {
		resp, err := http.Get(s.url + "/start")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("CSP %q", csp)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "consular_session" && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
				t.Fatalf("session cookie %+v", c)
			}
		}
	})
}

func cookie(a *applicant, u *url.URL) string {
	for _, c := range a.client.Jar.Cookies(u) {
		if c.Name == "consular_session" {
			return c.Value
		}
	}
	return ""
}

func atoiOr0(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/image/bmp"

	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/testenv/browser"
)

// pageBMP is a scanned page as an uncompressed BMP within the documents'
// rule (100-300 KB): white, with lines of "text".
func pageBMP(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 220, 300))
	for y := range 300 {
		for x := range 220 {
			c := color.RGBA{255, 255, 255, 255}
			if x > 20 && x < 200 && y > 30 && y%18 < 6 && (x/9+y/18)%7 != 0 {
				c = color.RGBA{40, 40, 60, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := bmp.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The officer's desk in headless Chromium, in Persian and English: an
// applicant completes the profile, applies for a driving-licence inquiry
// (one document a BMP) and then edits the profile; the officer's detail
// page shows the request at a glance, the answers under their labels, the
// profile as it was at submission, the documents inline (a click opens
// the viewer, which zooms and rotates), only the actions the state allows
// and the timeline in words. The printed case sheet is one page without
// the actions. Every page and the open viewer are checked with axe-core.
func TestBrowserOfficerReadsTheRequestAtTheDesk(t *testing.T) {
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})

	// The applicant: a profile, a request, then a new address and name spelling.
	a := newApplicant(t, s)
	a.signUp(testenv.NationalID())
	identity := map[string]string{"first_name_fa": "سارا", "last_name_fa": "احمدی", "first_name_en": "Sara", "last_name_en": "Ahmadi",
		"father_name": "Reza", "birth_certificate_number": "12345", "birth_date": "1991-08-03", "birth_place": "Tabriz", "gender": "female",
		"marital_status": "married"}
	a.postMultipart("/profile/identity?_csrf="+a.hiddenValue("_csrf"), identity,
		map[string][]byte{"passport": testenv.JPEG(t), "birth_certificate": testenv.JPEG(t)})
	a.want(200, "Residence")
	residence := map[string]string{"country": "Austria", "city": "Vienna", "address": "Praterstraße 1",
		"residence_type": "permanent_resident", "residence_since": "2015-09-01", "phone": "+43 1 234 5678"}
	a.post("/profile/residence", residence)
	a.want(200, "Review and confirm")
	a.post("/profile/review", nil)
	a.want(200, "Your profile is complete")
	a.get("/services/driving_licence_inquiry/apply")
	action := regexp.MustCompile(`action="(/services/driving_licence_inquiry/apply\?[^"]+)"`).FindStringSubmatch(a.page)[1]
	a.postMultipart(strings.ReplaceAll(action, "&amp;", "&"), map[string]string{"mission": "AT-VIE", "licence_number": "12345678", "include_driving_record": "yes"},
		map[string][]byte{"licence": testenv.JPEG(t), "residence_proof": pageBMP(t), "passport": testenv.JPEG(t)})
	a.want(200, "Your request has been submitted")
	code := regexp.MustCompile(`id="tracking-code">([0-9-]+)<`).FindStringSubmatch(a.page)[1]
	s.waitStatus(code, "awaiting_appointment", 30*time.Second)

	a.get("/profile/identity")
	identity["first_name_en"], identity["marital_status"] = "Sarah", "divorced"
	a.postMultipart("/profile/identity?_csrf="+a.hiddenValue("_csrf"), identity, nil)
	a.want(200, "Residence")
	residence["country"], residence["city"] = "Germany", "Berlin"
	a.post("/profile/residence", residence)
	a.post("/profile/review", nil)
	var now string
	_ = s.db.QueryRow(context.Background(), `SELECT p.identity->>'first_name_en' FROM profiles p JOIN accounts a ON a.id = p.account_id WHERE a.email = $1`, a.email).Scan(&now)
	if now != "Sarah" {
		t.Fatalf("the profile was not edited: %q", now)
	}

	at := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Minute)
	if status, out := s.staff("POST", "/api/v1/requests/"+code+"/appointment", map[string]any{"at": at}); status != 200 {
		t.Fatalf("booking: %d %v", status, out)
	}
	s.waitStatus(code, "appointment_booked", 10*time.Second)

	// The officer.
	b, officer := officerAtTheDesk(t, s, "officer", "AT-VIE")
	look := func(name string) {
		t.Helper()
		b.CheckAccessibility(t)
		b.ScreenshotBothWidths(name)
	}
	detail := s.url + "/staff/requests/" + code

	type words struct {
		lang                                   string
		answers, snapshot, documents, timeline []string
		rotateLabel                            string
	}
	for _, w := range []words{
		{lang: "fa", answers: []string{"شماره گواهینامه", "12345678", "بله"}, snapshot: []string{"سارا", "Sara", "Austria", "Vienna"},
			documents: []string{"گواهینامه", "residence_proof.jpg"}, timeline: []string{"درخواست ثبت شد", "رسید برای متقاضی ایمیل شد", "نوبت برای"},
			rotateLabel: "چرخش به راست"},
		{lang: "en", answers: []string{"Licence number", "12345678", "Include the driving record and violations", "Yes"},
			snapshot:    []string{"Sara", "Married", "3 August 1991", "Austria", "Vienna", "Permanent resident"},
			documents:   []string{"Driving licence", "Proof of residence", "Passport data page", "(from the profile)"},
			timeline:    []string{"Request submitted", "by the applicant", "Receipt emailed to the applicant", "Appointment booked for", "Vienna time"},
			rotateLabel: "Rotate right"},
	} {
		b.Visit(s.url + "/lang/" + w.lang + "?next=/staff/requests/" + code)
		if b.Lang() != w.lang {
			b.Visit(detail)
		}
		if b.Lang() != w.lang {
			t.Fatalf("the page is in %q, want %q", b.Lang(), w.lang)
		}
		if got := b.Text("#status"); got == "" {
			t.Fatal("no status badge")
		}
		for what, c := range map[string]struct {
			sel  string
			want []string
		}{"answers": {"#answers", w.answers}, "snapshot": {"#snapshot", w.snapshot}, "documents": {"#documents", w.documents},
			"timeline": {"main", w.timeline}} {
			text := b.Text(c.sel)
			for _, want := range c.want {
				if !strings.Contains(text, want) {
					t.Errorf("%s: the %s do not say %q:\n%s", w.lang, what, want, text)
				}
			}
		}
		snapshot := b.Text("#snapshot")
		for _, never := range []string{"Sarah", "Germany", "Berlin", "first_name_en", "licence_number"} {
			if strings.Contains(snapshot+b.Text("#answers"), never) {
				t.Errorf("%s: the detail shows %q, from the profile as edited since or a raw key", w.lang, never)
			}
		}
		if timeline := b.Text("#timeline"); strings.Contains(timeline, "UTC") || strings.Contains(timeline, "email:") || strings.Contains(timeline, "client:") {
			t.Errorf("%s: the timeline prints internal words:\n%s", w.lang, timeline)
		}
		// Booked, the visit still to come: attendance, an extension, a note; no decision, no no-show.
		if !b.Exists(`form[action$="/attendance"]`) || b.Count(`form[action$="/decision"]`) != 0 || b.Count(`form[action$="/no-show"]`) != 0 {
			t.Errorf("%s: the actions offered do not follow the state:\n%s", w.lang, b.Text("#actions"))
		}
		if n := b.Count(`#documents img`); n != 5 { // 3 of the service, 2 of the profile
			t.Errorf("%s: %d documents shown inline, want 5", w.lang, n)
		}
		chromedpEval[bool](t, b, `(document.getElementById('documents').scrollIntoView(), true)`) // the thumbnails load lazily
		if !waitFor(t, b, `Array.from(document.querySelectorAll('#documents img')).every(i => i.complete && i.naturalWidth > 0)`) {
			t.Errorf("%s: a document image did not load (BMP included)", w.lang)
		}
		look("detail-" + w.lang)

		// The viewer: a click on the proof of residence (the BMP) opens it; it zooms and rotates.
		b.Click("#doc-residence_proof")
		b.WaitVisible(".viewer-canvas img")
		if !waitFor(t, b, `document.getElementById('documents').hasAttribute('data-viewed')`) {
			t.Fatalf("%s: the viewer did not show the document", w.lang)
		}
		shown := `(() => { const i = document.querySelector('.viewer-canvas img'); return i.style.width + ' ' + i.style.transform; })()`
		before := chromedpEval[string](t, b, shown)
		b.Click(".viewer-zoom-in")
		b.Click(".viewer-rotate-right")
		time.Sleep(300 * time.Millisecond)
		after := chromedpEval[string](t, b, shown)
		if !strings.Contains(after, "rotate(90deg)") || strings.Fields(after)[0] == strings.Fields(before)[0] {
			t.Errorf("%s: the viewer did not zoom and rotate: %q → %q", w.lang, before, after)
		}
		if label := b.Attr(".viewer-rotate-right", "aria-label"); label != w.rotateLabel {
			t.Errorf("%s: the rotate button is named %q, want %q", w.lang, label, w.rotateLabel)
		}
		b.CheckAccessibility(t)
		dir := filepath.Dir(b.ScreenshotBothWidths("viewer-" + w.lang)[0])
		viewportShots(t, b, filepath.Join(dir, "viewer-"+w.lang+"-screen"))
		b.Click(".viewer-close")
	}

	// The case sheet, printed in Persian (right to left) and in English: the
	// request, answers, profile and documents list on one A4 page; no actions.
	for _, lang := range []string{"fa", "en"} {
		b.Visit(s.url + "/lang/" + lang + "?next=/staff/requests/" + code)
		printed := printMedia(t, b, true)
		if b.Lang() != lang || (lang == "fa") != (b.Dir() == "rtl") {
			t.Errorf("%s: the case sheet is in %q, %s", lang, b.Lang(), b.Dir())
		}
		if chromedpEval[string](t, b, `getComputedStyle(document.getElementById('actions')).display`) != "none" ||
			chromedpEval[string](t, b, `getComputedStyle(document.querySelector('header.site nav')).display`) != "none" {
			t.Errorf("%s: the printed case sheet shows the navigation or the actions", lang)
		}
		if !strings.Contains(b.Text("#printed"), officer) {
			t.Errorf("%s: the case sheet does not say who printed it: %q", lang, b.Text("#printed"))
		}
		shot := b.Screenshot("case-sheet-print-" + lang)
		if err := os.WriteFile(filepath.Join(filepath.Dir(shot), "case-sheet-"+lang+".pdf"), printed, 0o644); err != nil {
			t.Fatal(err)
		}
		if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(printed, -1)); pages != 1 {
			t.Errorf("%s: the case sheet prints on %d pages, want 1", lang, pages)
		}
		printMedia(t, b, false)
	}

	// Attendance through the desk; then only the decision is offered.
	b.Submit(`form[action$="/attendance"] button`)
	b.Submit("#confirm-action")
	s.waitStatus(code, "attended", 10*time.Second)
	b.Visit(detail)
	if !b.Exists(`form[action$="/decision"]`) || b.Count(`form[action$="/attendance"]`) != 0 || b.Count(`form[action$="/extension"]`) != 0 {
		t.Errorf("after attendance the actions are:\n%s", b.Text("#actions"))
	}
	if !strings.Contains(b.Text("#timeline"), "Attendance recorded") {
		t.Errorf("the timeline does not record the attendance:\n%s", b.Text("#timeline"))
	}
	look("detail-attended-en")
	if errs := b.ConsoleErrors(); len(errs) > 0 { // a CSP refusal of the viewer's styles or icons shows here
		t.Errorf("the pages reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// chromedpEval evaluates a JavaScript expression on the browser's page.
func chromedpEval[T any](t *testing.T, b *browser.Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// viewportShots saves what the screen shows (a full-page screenshot draws
// the viewer, which is fixed to the screen, in the middle of a tall page) at
// a phone's and a desktop's size, as <prefix>-<width>.png.
func viewportShots(t *testing.T, b *browser.Browser, prefix string) {
	t.Helper()
	for _, size := range [][2]int{{390, 844}, {1280, 800}} {
		b.SetViewport(size[0], size[1])
		time.Sleep(400 * time.Millisecond) // the viewer fits the image to the new window
		ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
		png, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
			r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
			return r.Data, err
		})
		cancel()
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(fmt.Sprintf("%s-%d.png", prefix, size[0]), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor evaluates a JavaScript condition until it holds, for at most five seconds.
func waitFor(t *testing.T, b *browser.Browser, cond string) bool {
	t.Helper()
	for range 50 {
		if chromedpEval[bool](t, b, cond) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// printMedia switches the page to print media (on) or back; switching on, it
// returns the page printed to PDF on A4, as the browser's print would.
func printMedia(t *testing.T, b *browser.Browser, on bool) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Second)
	defer cancel()
	media := ""
	if on {
		media = "print"
	}
	pdf, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		if _, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media}); err != nil {
			return nil, err
		}
		if !on {
			return nil, nil
		}
		r, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{PaperWidth: 8.27, PaperHeight: 11.69})
		return r.Data, err
	})
	if err != nil {
		t.Fatalf("print media %v: %v", on, err)
	}
	return pdf
}

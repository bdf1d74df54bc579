package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Visit loads rawURL (absolute, or relative to the current page) and waits
// for it to load. It returns the HTTP status of the document; the test
// decides whether a 404 or 422 is what it wanted.
func (b *Browser) Visit(rawURL string) int {
	b.t.Helper()
	u := b.resolve(rawURL)
	resp := run(b, "visit "+u, chromedp.NavigateResponse(u))
	return b.setStatus(resp)
}

// Status is the HTTP status of the last document that Visit, Submit or
// ClickAndWait loaded.
func (b *Browser) Status() int { return b.status }

func (b *Browser) setStatus(resp *network.Response) int {
	b.status = 0
	if resp != nil {
		b.status = int(resp.Status)
	}
	return b.status
}

// Fill replaces the value of the visible text field (input, textarea) that
// selector matches with value, as typed text: input events fire, maxlength
// holds, and any script (Persian included) goes in as it is. It fails when the
// field ends up holding something else, e.g. Persian digits in a
// type=number input.
func (b *Browser) Fill(selector, value string) {
	b.t.Helper()
	b.do(fmt.Sprintf("fill %q", selector), chromedp.WaitVisible(chromedp.CSS(selector)))
	kind := b.eval(fmt.Sprintf("fill %q", selector), `(sel) => {
		const el = document.querySelector(sel);
		if (!el) throw new Error('no element matches ' + sel);
		if (!('value' in el) || el.tagName === 'SELECT' || el.type === 'file') throw new Error('<' + el.tagName.toLowerCase() + '> is not a text field (use Select or Upload)');
		el.focus();
		el.value = '';
		el.dispatchEvent(new Event('input', {bubbles: true}));
		return el.type || '';
	}`, selector)
	var typ string
	_ = json.Unmarshal(kind, &typ)
	if value != "" {
		b.do(fmt.Sprintf("type into %q", selector), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: value})
			return err
		}))
	}
	// Date, time, colour and range inputs take no typed text: set them as a
	// script would.
	set := map[string]bool{"date": true, "datetime-local": true, "month": true, "week": true, "time": true, "color": true, "range": true}[typ]
	got := b.eval(fmt.Sprintf("fill %q", selector), `(sel, v, set) => {
		const el = document.querySelector(sel);
		if (set && el.value !== v) { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }
		el.dispatchEvent(new Event('change', {bubbles: true}));
		return el.value;
	}`, selector, value, set)
	var have string
	_ = json.Unmarshal(got, &have)
	if have != value {
		b.fatalf("fill %q (type=%s): the field holds %q after typing %q (maxlength, or a type that refuses the text?)", selector, typ, have, value)
	}
}

// Select chooses the option of the <select> that selector matches whose
// value, or else whose visible text, is option; change events fire.
func (b *Browser) Select(selector, option string) {
	b.t.Helper()
	b.do(fmt.Sprintf("select in %q", selector), chromedp.WaitVisible(chromedp.CSS(selector)))
	b.eval(fmt.Sprintf("select %q in %q", option, selector), `(sel, want) => {
		const el = document.querySelector(sel);
		if (!el || el.tagName !== 'SELECT') throw new Error(sel + ' is not a <select>');
		const opts = [...el.options];
		const o = opts.find(o => o.value === want) || opts.find(o => o.text.trim() === want);
		if (!o) throw new Error('no option with value or text ' + JSON.stringify(want) + '; options: ' + JSON.stringify(opts.map(o => o.value)));
		el.value = o.value;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	}`, selector, option)
}

// Upload sets the files of the <input type=file> that selector matches (it
// may be visually hidden behind a styled label).
func (b *Browser) Upload(selector string, paths ...string) {
	b.t.Helper()
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err == nil {
			_, err = os.Stat(a)
		}
		if err != nil {
			b.fatalf("upload %s into %q: %v", p, selector, err)
		}
		abs[i] = a
	}
	b.do(fmt.Sprintf("upload into %q", selector), chromedp.SetUploadFiles(chromedp.CSS(selector), abs))
}

// UploadBytes writes data to a file called name and uploads it; the name is
// what the server sees as the file name.
func (b *Browser) UploadBytes(selector, name string, data []byte) {
	b.t.Helper()
	b.Upload(selector, TempFile(b.t, name, data))
}

// TempFile writes data to a file called name in a folder of the test's own and
// returns its path.
func TempFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Click clicks the visible element that selector matches, with the mouse,
// and does not wait for a page load: use ClickAndWait or Submit when the
// click leaves the page.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.do(fmt.Sprintf("click %q", selector), chromedp.Click(chromedp.CSS(selector)))
}

// ClickAndWait clicks the element (a link, a button) and waits for the page
// it leads to; it returns that page's HTTP status.
func (b *Browser) ClickAndWait(selector string) int {
	b.t.Helper()
	return b.waitPage(fmt.Sprintf("click %q and wait for the next page", selector), chromedp.Click(chromedp.CSS(selector)))
}

// waitPage runs trigger and waits for the page it loads.
func (b *Browser) waitPage(what string, trigger chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, trigger)
	if err != nil {
		b.fatalf("%s: %v", what, b.explain(err))
	}
	return b.setStatus(resp)
}

// Submit submits a form and waits for the page the server answers with
// (after redirects); it returns that page's HTTP status (200 after a
// post/redirect/get, 422 for a form shown again with errors). selector is a
// submit button, which is clicked, or a form, which is submitted as if by its
// default button. It fails at once, naming the fields, when the browser's own
// validation (required, pattern, type=email, ...) stops the submission; call
// DisableClientValidation first to test the server's checks instead.
func (b *Browser) Submit(selector string) int {
	b.t.Helper()
	what := fmt.Sprintf("submit %q", selector)
	b.do(what, chromedp.WaitReady(chromedp.CSS(selector)))
	raw := b.eval(what, `(sel) => {
		const el = document.querySelector(sel);
		const form = el.tagName === 'FORM' ? el : el.form;
		if (!form) throw new Error(sel + ' is neither a form nor in one');
		if (form.noValidate || el.formNoValidate || form.checkValidity()) return {isForm: el.tagName === 'FORM', invalid: []};
		return {isForm: el.tagName === 'FORM', invalid: [...form.elements].filter(e => e.willValidate && !e.checkValidity())
			.map(e => (e.name || e.id || e.tagName.toLowerCase()) + ': ' + e.validationMessage)};
	}`, selector)
	var check struct {
		IsForm  bool     `json:"isForm"`
		Invalid []string `json:"invalid"`
	}
	if err := json.Unmarshal(raw, &check); err != nil {
		b.fatalf("%s: %v", what, err)
	}
	if len(check.Invalid) > 0 {
		b.fatalf("%s: the browser's own validation stops it (DisableClientValidation to reach the server):\n    %s",
			what, strings.Join(check.Invalid, "\n    "))
	}
	trigger := chromedp.Click(chromedp.CSS(selector))
	if check.IsForm {
		trigger = chromedp.Evaluate[chromedp.Void](jsCall(`(sel) => { document.querySelector(sel).requestSubmit(); }`, selector))
	}
	return b.waitPage(what+" and wait for the answer", trigger)
}

// DisableClientValidation turns off the browser's form validation on the
// current page (novalidate on every form), so a test can send what a script
// or an old browser would and check the server's answer. Call it again after
// each page load.
func (b *Browser) DisableClientValidation() {
	b.t.Helper()
	b.eval("disable client validation", `() => { for (const f of document.forms) f.noValidate = true; }`)
}

// WaitVisible waits until an element that selector matches is visible.
func (b *Browser) WaitVisible(selector string) {
	b.t.Helper()
	b.do(fmt.Sprintf("wait for %q to be visible", selector), chromedp.WaitVisible(chromedp.CSS(selector)))
}

// WaitGone waits until no element matches selector.
func (b *Browser) WaitGone(selector string) {
	b.t.Helper()
	b.do(fmt.Sprintf("wait for %q to go", selector), chromedp.WaitNotPresent(chromedp.CSS(selector)))
}

// Text is the rendered text (innerText) of the element that selector
// matches, trimmed; it waits for the element to exist.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	return strings.TrimSpace(run(b, fmt.Sprintf("text of %q", selector), chromedp.Text(chromedp.CSS(selector))))
}

// Value is the current value of the form field that selector matches.
func (b *Browser) Value(selector string) string {
	b.t.Helper()
	return run(b, fmt.Sprintf("value of %q", selector), chromedp.Value(chromedp.CSS(selector)))
}

// Attr is the attribute name of the element that selector matches, "" when
// the element lacks it.
func (b *Browser) Attr(selector, name string) string {
	b.t.Helper()
	return run(b, fmt.Sprintf("attribute %s of %q", name, selector), chromedp.AttributeValue(chromedp.CSS(selector), name)).Value
}

// Exists tells, without waiting, whether an element matches selector.
func (b *Browser) Exists(selector string) bool {
	b.t.Helper()
	return b.Count(selector) > 0
}

// Count is the number of elements that match selector now, without waiting.
func (b *Browser) Count(selector string) int {
	b.t.Helper()
	var n int
	_ = json.Unmarshal(b.eval(fmt.Sprintf("count %q", selector), `(sel) => document.querySelectorAll(sel).length`, selector), &n)
	return n
}

// HTML is the current document's markup (as the DOM has it now).
func (b *Browser) HTML() string {
	b.t.Helper()
	return b.evalString("read the page's HTML", `() => document.documentElement.outerHTML`)
}

// URL is the current page's address.
func (b *Browser) URL() string {
	b.t.Helper()
	return run(b, "read the URL", chromedp.Location())
}

// Title is the current page's title.
func (b *Browser) Title() string {
	b.t.Helper()
	return run(b, "read the title", chromedp.Title())
}

// FocusedID is the id of the focused element (document.activeElement), ""
// when it has none or the body has the focus; e.g. to check that the focus
// moved to the error summary after a failed submission.
func (b *Browser) FocusedID() string {
	b.t.Helper()
	return b.evalString("read the focused element", `() => {
		const el = document.activeElement;
		return el && el !== document.body ? el.id : '';
	}`)
}

// Dir is the document's writing direction attribute (<html dir>): "rtl" on
// Persian pages, "ltr" or "" on English ones.
func (b *Browser) Dir() string {
	b.t.Helper()
	return b.evalString("read <html dir>", `() => document.documentElement.dir`)
}

// Lang is the document's language attribute (<html lang>), e.g. "fa".
func (b *Browser) Lang() string {
	b.t.Helper()
	return b.evalString("read <html lang>", `() => document.documentElement.lang`)
}

// Direction is the computed CSS direction ("rtl" or "ltr") of the element
// that selector matches, e.g. to check that a national ID field stays
// left-to-right inside a Persian page.
func (b *Browser) Direction(selector string) string {
	b.t.Helper()
	b.do(fmt.Sprintf("find %q", selector), chromedp.WaitReady(chromedp.CSS(selector)))
	return b.evalString(fmt.Sprintf("direction of %q", selector),
		`(sel) => getComputedStyle(document.querySelector(sel)).direction`, selector)
}

// SetAcceptLanguage makes the browser send this Accept-Language header (e.g.
// "fa" or "en") with every later request; "en-US" otherwise.
func (b *Browser) SetAcceptLanguage(lang string) {
	b.t.Helper()
	b.do("set Accept-Language", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	}))
}

// eval calls the JavaScript function fn with args (JSON-encoded) in the page
// through the DevTools protocol, which the page's Content-Security-Policy does
// not govern, and returns the result as JSON.
func (b *Browser) eval(what, fn string, args ...any) json.RawMessage {
	b.t.Helper()
	raw := run(b, what, chromedp.Evaluate[string](
		"(async () => { const r = await ("+jsCall(fn, args...)+"); return JSON.stringify(r === undefined ? null : r); })()",
		chromedp.EvalAwaitPromise))
	return json.RawMessage(raw)
}

func (b *Browser) evalString(what, fn string, args ...any) string {
	b.t.Helper()
	var s string
	if err := json.Unmarshal(b.eval(what, fn, args...), &s); err != nil {
		b.fatalf("%s: %v", what, err)
	}
	return s
}

// jsCall is the expression that calls fn with args written as JSON literals.
func jsCall(fn string, args ...any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		j, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		parts[i] = string(j)
	}
	return "(" + fn + ")(" + strings.Join(parts, ", ") + ")"
}

// resolve makes rawURL absolute against the current page.
func (b *Browser) resolve(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.IsAbs() {
		return rawURL
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	cur, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return rawURL
	}
	base, err := url.Parse(cur)
	if err != nil || !strings.HasPrefix(base.Scheme, "http") {
		return rawURL
	}
	return base.ResolveReference(u).String()
}

package browser

import (
	"context"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
)

// Cookies are all the cookies this browser holds, HttpOnly ones included.
func (b *Browser) Cookies() []*http.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		b.fatalf("read cookies: %v", b.explain(err))
	}
	return toHTTPCookies(res.Cookies)
}

// Cookie is the cookie called name, nil when the browser has none.
func (b *Browser) Cookie(name string) *http.Cookie {
	b.t.Helper()
	for _, c := range b.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SetCookie stores c in this browser as if rawURL had set it: the cookie's
// host is rawURL's (c.Domain is ignored), its path c.Path or "/". Use it to
// carry a session cookie from one Browser to another:
//
//	other.SetCookie(srv.URL, b.Cookie("session"))
func (b *Browser) SetCookie(rawURL string, c *http.Cookie) {
	b.t.Helper()
	if c == nil {
		b.fatalf("set cookie for %s: nil cookie", rawURL)
	}
	p := network.SetCookieParams{
		Name:     c.Name,
		Value:    c.Value,
		URL:      b.resolve(rawURL),
		Path:     c.Path,
		Secure:   &c.Secure,
		HTTPOnly: &c.HttpOnly,
	}
	if p.Path == "" {
		p.Path = "/"
	}
	switch c.SameSite {
	case http.SameSiteStrictMode:
		p.SameSite = network.CookieSameSiteStrict
	case http.SameSiteLaxMode:
		p.SameSite = network.CookieSameSiteLax
	case http.SameSiteNoneMode:
		p.SameSite = network.CookieSameSiteNone
	}
	if !c.Expires.IsZero() {
		p.Expires = cdp.TimeSinceEpoch(float64(c.Expires.UnixNano()) / 1e9)
	}
	b.do("set cookie "+c.Name, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetCookie, p)
		return err
	}))
}

// ClearCookies removes every cookie of this browser.
func (b *Browser) ClearCookies() {
	b.t.Helper()
	b.do("clear cookies", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
}

// Response is what Fetch got: the final status, headers and body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Fetch GETs rawURL (absolute, or relative to the current page) outside the
// page but with the cookies this browser would send there, e.g. the receipt
// PDF behind a link. Redirects are followed. Any status is returned; only a
// failed connection fails the test.
func (b *Browser) Fetch(rawURL string) Response {
	b.t.Helper()
	u := b.resolve(rawURL)
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		b.fatalf("read the cookies for %s: %v", u, b.explain(err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		b.fatalf("fetch %s: %v", u, err)
	}
	for _, c := range res.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.fatalf("fetch %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.fatalf("fetch %s: read the body: %v", u, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// Download is Fetch for a file that must be there: it fails the test unless
// the answer is 200, and returns the body.
func (b *Browser) Download(rawURL string) []byte {
	b.t.Helper()
	r := b.Fetch(rawURL)
	if r.Status != http.StatusOK {
		b.fatalf("download %s: status %d, want 200 (body starts %q)", rawURL, r.Status, prefix(r.Body, 200))
	}
	return r.Body
}

func prefix(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func toHTTPCookies(cs []*network.Cookie) []*http.Cookie {
	out := make([]*http.Cookie, 0, len(cs))
	for _, c := range cs {
		h := &http.Cookie{
			Name:     c.Name,
			Value:    c.Value,
			Domain:   c.Domain,
			Path:     c.Path,
			Secure:   c.Secure,
			HttpOnly: c.HTTPOnly,
		}
		if !c.Session && c.Expires > 0 && !math.IsInf(c.Expires, 0) {
			sec, frac := math.Modf(c.Expires)
			h.Expires = time.Unix(int64(sec), int64(frac*1e9))
		}
		switch c.SameSite {
		case network.CookieSameSiteStrict:
			h.SameSite = http.SameSiteStrictMode
		case network.CookieSameSiteLax:
			h.SameSite = http.SameSiteLaxMode
		case network.CookieSameSiteNone:
			h.SameSite = http.SameSiteNoneMode
		}
		out = append(out, h)
	}
	return out
}

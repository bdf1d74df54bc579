package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// hostileBody is one oversized body sent to the real API.
type hostileBody struct {
	name, method, path, contentType string
	cookie                          string // a Cookie header, if any
	size                            int64
	chunked                         bool
	want                            int
}

// The JSON routes, as registered (booking.API, requests.Handlers' staff
// actions, operators.Codec): each gets a 10 MB body.
var jsonRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/appointments/lookup"},
	{"POST", "/api/v1/appointments"},
	{"PUT", "/api/v1/appointments"},
	{"DELETE", "/api/v1/appointments"},
	{"POST", "/api/v1/requests/1404-AAAA-AAAA/appointment"},
	{"PUT", "/api/v1/requests/1404-AAAA-AAAA/appointment"},
	{"DELETE", "/api/v1/requests/1404-AAAA-AAAA/appointment"},
	{"POST", "/api/v1/requests/1404-AAAA-AAAA/attendance"},
	{"POST", "/api/v1/requests/1404-AAAA-AAAA/no-show"},
	{"POST", "/api/v1/requests/1404-AAAA-AAAA/decision"},
	{"POST", "/api/v1/requests/1404-AAAA-AAAA/deadline-extension"},
	{"POST", "/api/v1/requests/1404-AAAA-AAAA/withdrawal"},
	{"POST", "/codec/encode"},
	{"POST", "/codec/decode"},
}

// Bodies far over their route's limit (a gigabyte of form, a gigabyte of
// multipart without a CSRF token, 10 MB of JSON) are refused within a
// second, before they are read: the API's memory barely moves and nothing
// lands in its temporary folder. Before the limits, fasthttp streamed such
// bodies and the CSRF check's FormValue read them whole (hundreds of MB).
func TestOversizedBodiesAreRefusedAtOnceWithoutMemoryOrDisk(t *testing.T) {
	tmp := t.TempDir()
	s := startSystem(t, map[string]string{"TMPDIR": tmp})
	addr := strings.TrimPrefix(s.url, "http://")
	const gib = 1 << 30
	cases := []hostileBody{
		{name: "form to /start", method: "POST", path: "/start", contentType: "application/x-www-form-urlencoded", size: gib, want: 413},
		{name: "chunked form to /start", method: "POST", path: "/start", contentType: "application/x-www-form-urlencoded", size: gib, chunked: true, want: 413},
		{name: "form to /signin", method: "POST", path: "/signin", contentType: "application/x-www-form-urlencoded", size: gib, want: 413},
		{name: "chunked form to /signin", method: "POST", path: "/signin", contentType: "application/x-www-form-urlencoded", size: gib, chunked: true, want: 413},
		{name: "multipart without CSRF token", method: "POST", path: "/services/passport_renewal/apply", contentType: "multipart/form-data; boundary=xx", size: gib, want: 413},
		// Chunked, its size unknown: refused for its missing token, its
		// rest read (to keep it off the connection) up to the upload's
		// limit, where it is over: 413.
		{name: "chunked multipart without CSRF token", method: "POST", path: "/services/passport_renewal/apply", contentType: "multipart/form-data; boundary=xx", size: gib, chunked: true, want: 413},
		// A stale session cookie sends it to "sign in again", which keeps the
		// form's text fields: read within the upload's limit, then cut.
		{name: "chunked multipart from an expired session", method: "POST", path: "/services/passport_renewal/apply", contentType: "multipart/form-data; boundary=xx",
			cookie: "consular_session=expired", size: gib, chunked: true, want: 413},
		{name: "multipart to the JSON API", method: "POST", path: "/api/v1/requests", contentType: "multipart/form-data; boundary=xx", size: gib, want: 413},
		{name: "chunked multipart to the JSON API", method: "POST", path: "/api/v1/requests", contentType: "multipart/form-data; boundary=xx", size: gib, chunked: true, want: 413},
		{name: "form to a staff page", method: "POST", path: "/staff/signin", contentType: "application/x-www-form-urlencoded", size: gib, want: 413},
		{name: "a body on a GET", method: "GET", path: "/", contentType: "application/octet-stream", size: gib, want: 413},
	}
	for _, r := range jsonRoutes {
		cases = append(cases,
			hostileBody{name: "JSON " + r.method + " " + r.path, method: r.method, path: r.path, contentType: "application/json", size: 10 << 20, want: 413},
			hostileBody{name: "chunked JSON " + r.method + " " + r.path, method: r.method, path: r.path, contentType: "application/json", size: 10 << 20, chunked: true, want: 413})
	}

	// One ordinary request first, so the API's memory is what serving takes.
	if res, err := http.Get(s.url + "/start"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	_, before, err := s.api.RSS()
	if err != nil {
		t.Fatal(err)
	}
	tmpBefore := entries(t, tmp)
	for _, c := range cases {
		took, status := sendHostile(t, addr, c)
		_, peak, _ := s.api.RSS()
		t.Logf("%-60s %d in %v; API peak RSS %.1f MB (+%.1f MB)", c.name, status, took.Round(time.Millisecond), mb(peak), mb(peak-before))
		if status != c.want {
			t.Errorf("%s: answered %d, want %d", c.name, status, c.want)
		}
		if took > time.Second {
			t.Errorf("%s: answered after %v, want under a second", c.name, took)
		}
	}
	_, peak, err := s.api.RSS()
	if err != nil {
		t.Fatal(err)
	}
	if grew := peak - before; grew > 10<<20 {
		t.Errorf("the API's peak RSS grew by %.1f MB (%.1f → %.1f MB), want under 10 MB", mb(grew), mb(before), mb(peak))
	}
	if after := entries(t, tmp); after != tmpBefore {
		t.Errorf("the API's temporary folder changed: %q, was %q", after, tmpBefore)
	}
	// Still serving.
	if res, err := http.Get(s.url + "/start"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("after the bodies, GET /start: %v %v", res, err)
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func entries(t *testing.T, dir string) string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

// sendHostile sends c's headers and then its body, made up as it goes, until
// the API answers (or 20 s pass); it stops sending once the answer is in.
// It returns how long after the headers the answer came, and its status.
func sendHostile(t *testing.T, addr string, c hostileBody) (time.Duration, int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nAccept: text/html\r\n", c.method, c.path, c.contentType)
	if c.cookie != "" {
		head += "Cookie: " + c.cookie + "\r\n"
	}
	if c.chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", c.size)
	}
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		body := endlessBody(c.contentType, c.size)
		buf := make([]byte, 32<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := body.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				if c.chunked {
					chunk = append([]byte(fmt.Sprintf("%x\r\n", n)), append(chunk, "\r\n"...)...)
				}
				if _, werr := conn.Write(chunk); werr != nil {
					return // the API closed the connection: it has answered
				}
			}
			if err != nil {
				if c.chunked {
					_, _ = io.WriteString(conn, "0\r\n\r\n")
				}
				return
			}
		}
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	took := time.Since(start)
	close(stop)
	if err != nil {
		t.Errorf("%s: no answer after %v: %v", c.name, took, err)
		return took, 0
	}
	res.Body.Close()
	_ = conn.Close()
	<-sent
	return took, res.StatusCode
}

// endlessBody makes size bytes of a body of the media type without holding
// them: an urlencoded field, a multipart file part, a JSON string.
func endlessBody(contentType string, size int64) io.Reader {
	var head, tail string
	switch {
	case strings.HasPrefix(contentType, "multipart/"):
		head = "--xx\r\nContent-Disposition: form-data; name=\"document.photo\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
		tail = "\r\n--xx--\r\n"
	case strings.HasSuffix(contentType, "json"):
		head, tail = `{"national_id": "`, `"}`
	default:
		head = "_csrf=x&email="
	}
	filler := io.LimitReader(repeating('a'), size-int64(len(head)+len(tail)))
	return io.MultiReader(strings.NewReader(head), filler, strings.NewReader(tail))
}

type repeating byte

func (b repeating) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

var testLimits = BodyLimits{Form: 1 << 10, JSON: 2 << 10, Routes: []BodyRoute{
	{Method: "POST", Path: "/upload/*", Type: fiber.MIMEMultipartForm, Limit: 64 << 10},
	{Method: "POST", Path: "/upload-early/*", Type: fiber.MIMEMultipartForm, Limit: 64 << 10},
}}

// serve runs an app with testLimits and routes that read their bodies the
// ways handlers do; it returns its address.
func serve(t *testing.T) string {
	t.Helper()
	app := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: 10 * time.Second, Bodies: testLimits})
	app.Post("/form", func(c *fiber.Ctx) error { return c.SendString("field=" + c.FormValue("field")) })
	app.Post("/json", func(c *fiber.Ctx) error {
		var in struct{ A string }
		if err := c.BodyParser(&in); err != nil {
			return fiber.ErrBadRequest
		}
		return c.SendString("a=" + in.A)
	})
	app.Post("/upload/:id", func(c *fiber.Ctx) error {
		n, err := io.Copy(io.Discard, c.Context().RequestBodyStream())
		if err != nil {
			return err
		}
		return c.SendString(fmt.Sprint("read ", n))
	})
	app.Post("/upload-early/:id", func(c *fiber.Ctx) error { return fiber.ErrBadRequest })
	app.Post("/multipart-value", func(c *fiber.Ctx) error { return c.SendString("x=" + c.FormValue("x")) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return ln.Addr().String()
}

// exchange writes raw to a new connection and reads one answer; body, if
// any, is written after the headers until the answer arrives.
func exchange(t *testing.T, addr, head string, body io.Reader) (*http.Response, []byte, *bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		go func() { _, _ = io.Copy(conn, body) }()
	}
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return res, b, r, conn
}

// A Content-Length over the route's limit is answered 413 without waiting
// for the body (none is sent here), and the connection is closed.
func TestBodyOverItsRouteLimitIsRefusedBeforeItIsSent(t *testing.T) {
	addr := serve(t)
	for _, c := range []struct{ path, contentType string }{
		{"/form", fiber.MIMEApplicationForm},
		{"/json", fiber.MIMEApplicationJSON},
		{"/upload/1", fiber.MIMEMultipartForm + "; boundary=x"},
		{"/nowhere", "text/plain"},
	} {
		res, body, r, _ := exchange(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			c.path, c.contentType, 1<<30), nil)
		if res.StatusCode != fiber.StatusRequestEntityTooLarge || !res.Close {
			t.Errorf("%s: %d (close %v), want 413 and the connection closed", c.path, res.StatusCode, res.Close)
		}
		if !strings.Contains(string(body), "too large") || !strings.Contains(string(body), "message_fa") {
			t.Errorf("%s: answer %s, want the reason in English and Persian", c.path, body)
		}
		if _, err := r.ReadByte(); err == nil {
			t.Errorf("%s: the connection stayed open", c.path)
		}
	}
}

// The route's own limit applies, not the largest: the upload's limit is
// far over the form's.
func TestEachRouteHasItsOwnLimit(t *testing.T) {
	addr := serve(t)
	form := "field=" + strings.Repeat("a", 2<<10)
	res, _, _, _ := exchange(t, addr, fmt.Sprintf("POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		fiber.MIMEApplicationForm, len(form), form), nil)
	if res.StatusCode != fiber.StatusRequestEntityTooLarge {
		t.Errorf("a 2 KB form: %d, want 413", res.StatusCode)
	}
	small := "field=ok"
	_, body, _, _ := exchange(t, addr, fmt.Sprintf("POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		fiber.MIMEApplicationForm, len(small), small), nil)
	if string(body) != "field=ok" {
		t.Errorf("a small form: %q", body)
	}
	upload := strings.Repeat("u", 32<<10)
	_, body, _, _ = exchange(t, addr, fmt.Sprintf("POST /UPLOAD/7/ HTTP/1.1\r\nHost: x\r\nContent-Type: %s; boundary=x\r\nContent-Length: %d\r\n\r\n%s",
		fiber.MIMEMultipartForm, len(upload), upload), nil)
	if string(body) != fmt.Sprint("read ", len(upload)) {
		t.Errorf("a 32 KB upload: %q", body)
	}
}

// A chunked body, its size unknown, is counted as it arrives and cut at the
// limit: buffered routes and streamed ones alike answer 413.
func TestChunkedBodyIsCutAtItsLimit(t *testing.T) {
	addr := serve(t)
	for _, c := range []struct {
		path, contentType string
		limit             int
	}{
		{"/form", fiber.MIMEApplicationForm, 1 << 10},
		{"/json", fiber.MIMEApplicationJSON, 2 << 10},
		{"/upload/1", fiber.MIMEMultipartForm + "; boundary=x", 64 << 10},
	} {
		for _, size := range []int{c.limit, c.limit + 1} {
			body := strings.Repeat("a", size)
			var chunked bytes.Buffer
			for len(body) > 0 {
				n := min(len(body), 700)
				fmt.Fprintf(&chunked, "%x\r\n%s\r\n", n, body[:n])
				body = body[n:]
			}
			chunked.WriteString("0\r\n\r\n")
			res, _, _, _ := exchange(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n%s",
				c.path, c.contentType, chunked.String()), nil)
			tooLarge := res.StatusCode == fiber.StatusRequestEntityTooLarge
			if tooLarge != (size > c.limit) {
				t.Errorf("%s, %d bytes chunked (limit %d): %d", c.path, size, c.limit, res.StatusCode)
			}
		}
	}
	// An endless chunked body: answered, not read to its end.
	endless := io.MultiReader(strings.NewReader(""), chunks{})
	res, _, _, _ := exchange(t, addr, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", endless)
	if res.StatusCode != fiber.StatusRequestEntityTooLarge {
		t.Errorf("an endless chunked form: %d, want 413", res.StatusCode)
	}
}

// chunks is an endless chunked body.
type chunks struct{}

func (chunks) Read(p []byte) (int, error) {
	chunk := "400\r\n" + strings.Repeat("a", 0x400) + "\r\n"
	return copy(p, chunk[:min(len(p), len(chunk))]), nil
}

// Fiber's c.Body inflates gzip without limit: compressed bodies are refused.
func TestCompressedBodyIsRefused(t *testing.T) {
	addr := serve(t)
	res, _, _, _ := exchange(t, addr, "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n0123456789", nil)
	if res.StatusCode != fiber.StatusUnsupportedMediaType {
		t.Errorf("a gzip body: %d, want 415", res.StatusCode)
	}
}

// A client that asks first (Expect: 100-continue) hears 413 instead of
// "go on".
func TestExpectContinueOverTheLimitHearsNo(t *testing.T) {
	addr := serve(t)
	res, _, _, _ := exchange(t, addr, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n", nil)
	if res.StatusCode != fiber.StatusRequestEntityTooLarge {
		t.Errorf("Expect: 100-continue with 1 MB: %d, want 413", res.StatusCode)
	}
}

// An upload answered before its body was read leaves no bytes behind to be
// taken for another request (valyala/fasthttp PR 2368): one answer, and
// the connection closed.
func TestUploadAnsweredEarlyLeavesNothingOnTheConnection(t *testing.T) {
	addr := serve(t)
	smuggled := "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
	body := strings.Repeat("z", 20<<10) + smuggled
	res, _, r, _ := exchange(t, addr, fmt.Sprintf("POST /upload-early/1 HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body), nil)
	if res.StatusCode != fiber.StatusBadRequest {
		t.Fatalf("%d, want the handler's 400", res.StatusCode)
	}
	if second, err := http.ReadResponse(r, nil); err == nil {
		t.Fatalf("a second answer, to bytes of the body: %d", second.StatusCode)
	}
}

// FormValue never falls back to fasthttp's multipart parser, which reads
// the whole body and writes its files to the temporary folder.
func TestFormValueNeverParsesMultipart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	addr := serve(t)
	body := "--x\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nparsed\r\n" +
		"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n" + strings.Repeat("f", 500) + "\r\n--x--\r\n"
	_, got, _, _ := exchange(t, addr, fmt.Sprintf("POST /multipart-value HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body), nil)
	if string(got) != "x=" {
		t.Errorf("FormValue of a multipart body: %q, want nothing", got)
	}
	if list, _ := os.ReadDir(tmp); len(list) > 0 {
		t.Errorf("files in the temporary folder: %v", list)
	}
}

func TestPathMatchesAsFiberRoutes(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"/services/*/apply", "/services/passport/apply", true},
		{"/services/*/apply", "/SERVICES/passport/apply/", true},
		{"/services/*/apply", "/services//apply", false},
		{"/services/*/apply", "/services/a/b/apply", false},
		{"/api/v1/requests", "/api/v1/requests/", true},
		{"/api/v1/requests", "/api/v1/requests/x", false},
	} {
		if got := pathMatches(c.pattern, c.path); got != c.want {
			t.Errorf("pathMatches(%q, %q) = %v", c.pattern, c.path, got)
		}
	}
}

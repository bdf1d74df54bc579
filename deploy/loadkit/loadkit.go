// Package loadkit is what the benchmark (deploy/bench) and the soak
// (deploy/soak) share to act as applicants over the public HTTP API: the
// documents they upload, a submission's multipart body and its POST, the API
// client token an operator would register, and Mailpit's view of the mail
// sent. It knows nothing of the API's code: only its routes and answers.
package loadkit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DocumentKinds are the three documents of a driving-licence inquiry, the
// service every generated submission asks for (it needs an appointment).
var DocumentKinds = []string{"licence", "residence_proof", "passport"}

// NoiseJPEG returns a JPEG of random pixels of about target bytes (within
// -5 % and +10 %). Noise barely compresses, so 200 KB is about 580x580
// pixels: decoding it costs what the tests' documents of that size do.
func NoiseJPEG(seed uint64, target int) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 0x6c6f6164))
	side := 256
	for range 20 {
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			return nil, fmt.Errorf("encode %dx%d JPEG: %w", side, side, err)
		}
		if n := b.Len(); n >= target*95/100 && n <= target*110/100 {
			return b.Bytes(), nil
		}
		// The size grows with the pixel count: aim straight at the target.
		next := int(float64(side) * math.Sqrt(float64(target)/float64(b.Len())))
		if next == side {
			next++
		}
		side = next
	}
	return nil, fmt.Errorf("no JPEG of about %d KB after 20 tries", target>>10)
}

// Documents are one base JPEG per kind, of about 200 KB.
func Documents(seed uint64) ([][]byte, error) {
	var docs [][]byte
	for i := range DocumentKinds {
		doc, err := NoiseJPEG(seed+uint64(i), 200<<10)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

// Unique returns the JPEG with a comment segment (COM, 0xFFFE) carrying tag
// right after the start-of-image marker: the same picture, bytes (and so a
// SHA-256) of the submission's own, and the size barely moves.
func Unique(doc []byte, tag string) []byte {
	if len(doc) < 2 || doc[0] != 0xFF || doc[1] != 0xD8 || len(tag) > 60000 {
		return doc
	}
	out := make([]byte, 0, len(doc)+4+len(tag))
	out = append(out, 0xFF, 0xD8, 0xFF, 0xFE)
	out = binary.BigEndian.AppendUint16(out, uint16(len(tag)+2))
	out = append(out, tag...)
	return append(out, doc[2:]...)
}

// Applicant is who a generated submission is for.
type Applicant struct {
	Name, Email, NationalID string
}

// Body is a driving-licence inquiry at the embassy in Vienna with the
// three documents, docs[i] for DocumentKinds[i], as multipart form data.
func Body(a Applicant, docs [][]byte) (data []byte, contentType string, err error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range [][2]string{
		{"service", "driving_licence_inquiry"}, {"mission", "AT-VIE"}, {"full_name", a.Name}, {"email", a.Email},
		{"national_id", a.NationalID}, {"language", "en"}, {"field.licence_number", "12345678"},
	} {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	for i, kind := range DocumentKinds {
		part, err := w.CreateFormFile("document."+kind, kind+".jpg")
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(docs[i]); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// Answer is what the API said to one POST: its status (0 when no answer
// came), its body, and the transport error if any.
type Answer struct {
	Status int
	Body   []byte
	Err    error
}

// Submit posts a submission to the API at base as the API client with
// token; key is its Idempotency-Key, the same for every retry.
func Submit(ctx context.Context, httpc *http.Client, base, token, key string, data []byte, contentType string) Answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/requests", bytes.NewReader(data))
	if err != nil {
		return Answer{Err: err}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpc.Do(req)
	if err != nil {
		return Answer{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return Answer{Status: resp.StatusCode, Body: bytes.TrimSpace(body), Err: err}
}

// TrackingCode reads the tracking code of a 201 or 200 answer.
func (a Answer) TrackingCode() (string, error) {
	var out struct {
		TrackingCode string `json:"tracking_code"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil || out.TrackingCode == "" {
		return "", fmt.Errorf("answer %d without a tracking code: %.200s", a.Status, a.Body)
	}
	return out.TrackingCode, nil
}

var tokenLine = regexp.MustCompile(`token \(shown once\): (\S+)`)

// RegisterClient registers an API client for AT-VIE as an operator does
// (`api clients add`, with the API binary in bin and its environment env),
// allowed more submissions an hour than any run makes, and returns its token.
func RegisterClient(ctx context.Context, bin string, env []string, name string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "api"), "clients", "add", "--name", name, "--missions", "AT-VIE", "--per-hour", "1000000")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("api clients add: %w\n%s", err, out)
	}
	m := tokenLine.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("api clients add printed no token:\n%s", out)
	}
	return string(m[1]), nil
}

// Lookup reads an environment list the way a process started with it
// will: the last value of a name wins.
func Lookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], name+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}

// Each runs do(i) for i in [0, n) from at most width goroutines.
func Each(width, n int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				do(i)
			}
		})
	}
	wg.Wait()
}

// Mailpit reads what the SMTP server received, through Mailpit's REST API.
type Mailpit struct {
	Base string
	HTTP *http.Client
}

func NewMailpit(base string) *Mailpit {
	return &Mailpit{Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Mail is a message as Mailpit lists it.
type Mail struct {
	ID        string // Mailpit's own
	MessageID string // the Message-ID header
	To        []struct{ Address string }
	Subject   string
}

type mailList struct {
	Total         int    `json:"total"`
	MessagesCount int    `json:"messages_count"` // matching the search
	Messages      []Mail `json:"messages"`
}

func (m *Mailpit) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Base+path, nil)
	if err != nil {
		return err
	}
	resp, err := m.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// All lists every message Mailpit holds.
func (m *Mailpit) All(ctx context.Context) ([]Mail, error) {
	var out []Mail
	for {
		var page mailList
		if err := m.get(ctx, fmt.Sprintf("/api/v1/messages?start=%d&limit=500", len(out)), &page); err != nil {
			return nil, err
		}
		out = append(out, page.Messages...)
		if len(page.Messages) == 0 || len(out) >= page.Total {
			return out, nil
		}
	}
}

// Count is how many messages Mailpit holds.
func (m *Mailpit) Count(ctx context.Context) (int, error) {
	var page mailList
	err := m.get(ctx, "/api/v1/messages?limit=1", &page)
	return page.Total, err
}

// Search lists the messages matching a Mailpit search, and how many match.
func (m *Mailpit) Search(ctx context.Context, query string) (int, []Mail, error) {
	var page mailList
	if err := m.get(ctx, "/api/v1/search?limit=50&query="+url.QueryEscape(query), &page); err != nil {
		return 0, nil, err
	}
	return page.MessagesCount, page.Messages, nil
}

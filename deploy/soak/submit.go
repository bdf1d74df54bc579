package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openconsular/consular/internal/testenv"
)

// Every submission is a driving-licence inquiry at the embassy in Vienna:
// three documents, accepted as soon as they pass the documents rule.
var documentKinds = []string{"licence", "residence_proof", "passport"}

// submission is one applicant's request as the client sees it: what it
// sent, every attempt, and the tracking code it got.
type submission struct {
	n          int
	key        string // Idempotency-Key, the same for every attempt
	email      string // unique, so its mail is found by recipient too
	nationalID string
	docs       []sentDocument
	attempts   []attempt
	code       string // empty until an attempt succeeded
	created    bool   // the successful attempt answered 201 (not 200, a replay)
	failure    string // why the client gave up, when it did
}

// sentDocument is one uploaded file, told apart by its SHA-256.
type sentDocument struct {
	kind   string
	sha256 string
	size   int
}

// attempt is one POST of a submission.
type attempt struct {
	start, end time.Time
	status     int    // 0 when no answer came
	detail     string // the transport error, or the answer's body
}

// answers lists what each attempt was answered, "503, 200"; 0 is no answer.
func (s *submission) answers() string {
	var out []string
	for _, a := range s.attempts {
		out = append(out, strconv.Itoa(a.status))
	}
	return strings.Join(out, ", ")
}

func (a attempt) ok() bool { return a.status == http.StatusCreated || a.status == http.StatusOK }

// retryable says whether a client should send the same submission again: no
// answer, a server error, or "too busy"; a 4xx is the client's fault and a
// retry would be refused the same way.
func (a attempt) retryable() bool {
	return a.status == 0 || a.status >= 500 || a.status == http.StatusTooManyRequests || a.status == http.StatusRequestTimeout
}

// documentSet is three base JPEGs, one per kind, of about 200 KB; each
// submission sends them made unique by a comment (see unique).
type documentSet [][]byte

// makeDocuments renders the base documents: random pixels barely compress,
// so a picture of about 580x580 is 200 KB.
func makeDocuments(seed uint64) (documentSet, error) {
	var set documentSet
	for i := range documentKinds {
		doc, err := noiseJPEG(seed+uint64(i), 200<<10)
		if err != nil {
			return nil, err
		}
		set = append(set, doc)
	}
	return set, nil
}

func noiseJPEG(seed uint64, target int) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 0x736f616b))
	side := 256
	for range 20 {
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			return nil, err
		}
		if n := b.Len(); n >= target*95/100 && n <= target*110/100 {
			return b.Bytes(), nil
		}
		next := int(float64(side) * math.Sqrt(float64(target)/float64(b.Len())))
		if next == side {
			next++
		}
		side = next
	}
	return nil, fmt.Errorf("no JPEG of about %d KB after 20 tries", target>>10)
}

// unique returns the JPEG with a comment segment (COM, 0xFFFE) carrying tag
// right after the start-of-image marker: the picture is the same, the bytes
// and so the SHA-256 are the submission's own, and the size barely moves.
func unique(doc []byte, tag string) []byte {
	if len(doc) < 2 || doc[0] != 0xFF || doc[1] != 0xD8 || len(tag) > 60000 {
		return doc
	}
	out := make([]byte, 0, len(doc)+4+len(tag))
	out = append(out, 0xFF, 0xD8, 0xFF, 0xFE)
	out = binary.BigEndian.AppendUint16(out, uint16(len(tag)+2))
	out = append(out, tag...)
	return append(out, doc[2:]...)
}

// body builds the multipart body of submission s, and notes what it sends.
func (s *submission) body(docs documentSet, runID string) ([]byte, string, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range [][2]string{
		{"service", "driving_licence_inquiry"}, {"mission", "AT-VIE"}, {"full_name", "Soak Applicant"},
		{"email", s.email}, {"national_id", s.nationalID}, {"language", "en"}, {"field.licence_number", "12345678"},
	} {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	s.docs = s.docs[:0]
	for i, kind := range documentKinds {
		doc := unique(docs[i], fmt.Sprintf("consular soak %s submission %d %s", runID, s.n, kind))
		part, err := w.CreateFormFile("document."+kind, kind+".jpg")
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(doc); err != nil {
			return nil, "", err
		}
		sum := sha256.Sum256(doc)
		s.docs = append(s.docs, sentDocument{kind: kind, sha256: hex.EncodeToString(sum[:]), size: len(doc)})
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// clientOptions say how the applicants' clients behave.
type clientOptions struct {
	clients     int           // submitting at once, at most
	window      time.Duration // the submissions are spread evenly over it
	giveUp      time.Duration // a client stops retrying a submission after this long
	httpTimeout time.Duration
}

// newSubmissions prepares n submissions of this run.
func newSubmissions(n int, runID string) []*submission {
	subs := make([]*submission, n)
	for i := range subs {
		subs[i] = &submission{n: i + 1, key: fmt.Sprintf("soak-%s-%d", runID, i+1),
			email: fmt.Sprintf("soak-%s-%d@example.org", runID, i+1), nationalID: testenv.NationalID()}
	}
	return subs
}

// submitAll sends the submissions at a steady pace from begin: submission i
// is due at begin + i*window/n, and goes out as soon as one of the clients
// is free. A client retries a failed attempt with the same Idempotency-Key,
// backing off from 0.5 s to 5 s, as a real client would, until giveUp.
func submitAll(ctx context.Context, api, token string, subs []*submission, docs documentSet, runID string, o clientOptions, begin time.Time) {
	httpc := &http.Client{Timeout: o.httpTimeout}
	due := make(chan *submission)
	var wg sync.WaitGroup
	for range o.clients {
		wg.Go(func() {
			for s := range due {
				submitOne(ctx, httpc, api, token, s, docs, runID, o.giveUp)
			}
		})
	}
	for i, s := range subs {
		at := begin.Add(time.Duration(float64(o.window) * float64(i) / float64(len(subs))))
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(at)):
		}
		if ctx.Err() != nil {
			break
		}
		due <- s
	}
	close(due)
	wg.Wait()
}

func submitOne(ctx context.Context, httpc *http.Client, api, token string, s *submission, docs documentSet, runID string, giveUp time.Duration) {
	data, contentType, err := s.body(docs, runID)
	if err != nil {
		s.failure = "build the body: " + err.Error()
		return
	}
	first := time.Now()
	backoff := 500 * time.Millisecond
	for {
		a := post(ctx, httpc, api, token, s.key, data, contentType)
		s.attempts = append(s.attempts, a)
		if a.ok() {
			var out struct {
				TrackingCode string `json:"tracking_code"`
			}
			if err := json.Unmarshal([]byte(a.detail), &out); err != nil || out.TrackingCode == "" {
				s.failure = fmt.Sprintf("answer %d without a tracking code: %.200s", a.status, a.detail)
				return
			}
			s.attempts[len(s.attempts)-1].detail = ""
			s.code, s.created = out.TrackingCode, a.status == http.StatusCreated
			return
		}
		if !a.retryable() {
			s.failure = fmt.Sprintf("refused with %d: %.300s", a.status, a.detail)
			return
		}
		if ctx.Err() != nil || time.Since(first) > giveUp {
			s.failure = fmt.Sprintf("gave up after %d attempts in %s; last: %d %.300s", len(s.attempts), time.Since(first).Round(time.Second), a.status, a.detail)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// post sends one attempt; the answer's body comes back in detail.
func post(ctx context.Context, httpc *http.Client, api, token, key string, data []byte, contentType string) attempt {
	a := attempt{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v1/requests", bytes.NewReader(data))
	if err != nil {
		a.detail, a.end = err.Error(), time.Now()
		return a
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpc.Do(req)
	if err != nil {
		a.detail, a.end = err.Error(), time.Now()
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	a.status, a.detail, a.end = resp.StatusCode, string(bytes.TrimSpace(b)), time.Now()
	return a
}

// unsolicitedLog counts what net/http's client logs when an answer arrives
// on a connection it considers idle: the server answered a request the
// client never sent. Other log lines pass through to stderr.
type unsolicitedLog struct {
	mu       sync.Mutex
	n        int
	statuses map[string]int
}

var unsolicited unsolicitedLog

var unsolicitedStatus = regexp.MustCompile(`Unsolicited response received on idle HTTP channel starting with "HTTP/1\.\d (\d{3})`)

func (u *unsolicitedLog) Write(p []byte) (int, error) {
	m := unsolicitedStatus.FindSubmatch(p)
	if m == nil {
		return os.Stderr.Write(p)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.statuses == nil {
		u.statuses = map[string]int{}
	}
	u.n++
	u.statuses[string(m[1])]++
	return len(p), nil
}

func (u *unsolicitedLog) check() check {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := check{name: "the API answered only requests the clients sent (no answer on an idle keep-alive connection)", pass: u.n == 0}
	c.detail = fmt.Sprintf("%d unsolicited answers", u.n)
	if u.n > 0 {
		c.detail += " (" + counts(u.statuses) + ")"
		c.items = append(c.items, "after answering an upload before reading all of its body (an error mid-upload, or a retry answered "+
			"from the saved submission), the API parsed the unread rest of the body as further requests on the same connection")
	}
	return c
}

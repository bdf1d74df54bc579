package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/internal/testenv"
)

// submission is one applicant's request as the client sees it: what it
// sent, every attempt, and the tracking code it got.
type submission struct {
	n        int
	key      string // Idempotency-Key, the same for every attempt
	who      loadkit.Applicant
	docs     []sentDocument
	attempts []attempt
	code     string // empty until an attempt succeeded
	created  bool   // the successful attempt answered 201 (not 200, a replay)
	failure  string // why the client gave up, when it did
}

// sentDocument is one uploaded file, told apart by its SHA-256.
type sentDocument struct {
	kind   string
	sha256 string
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

// Outcomes of an attempt, as the report counts them per fault.
const (
	outcomeAccepted = "accepted"
	outcomeRefused  = "refused"
	outcomeFailed   = "failed"
)

// outcome sorts an attempt: accepted (201, or 200 to a retry); refused
// clearly (a 4xx, or 503: the API saying what is not available now, so the
// client retries); failed (no answer, or another 5xx: the API's 500
// "internal error", or the proxy's 502 when no API took the request).
func (a attempt) outcome() string {
	switch {
	case a.ok():
		return outcomeAccepted
	case a.status >= 400 && a.status < 500 || a.status == http.StatusServiceUnavailable:
		return outcomeRefused
	default:
		return outcomeFailed
	}
}

// retryable says whether a client should send the same submission again: no
// answer, a server error, or "too busy"; a 4xx is the client's fault and a
// retry would be refused the same way.
func (a attempt) retryable() bool {
	return a.status == 0 || a.status >= 500 || a.status == http.StatusTooManyRequests || a.status == http.StatusRequestTimeout
}

// body builds the multipart body of submission s from the base documents,
// each made the submission's own by a JPEG comment, and notes what it sends.
func (s *submission) body(docs [][]byte, runID string) ([]byte, string, error) {
	own := make([][]byte, len(docs))
	s.docs = s.docs[:0]
	for i, kind := range loadkit.DocumentKinds {
		own[i] = loadkit.Unique(docs[i], fmt.Sprintf("consular soak %s submission %d %s", runID, s.n, kind))
		sum := sha256.Sum256(own[i])
		s.docs = append(s.docs, sentDocument{kind: kind, sha256: hex.EncodeToString(sum[:])})
	}
	return loadkit.Body(s.who, own)
}

// newSubmissions prepares n submissions of this run.
func newSubmissions(n int, runID string) []*submission {
	subs := make([]*submission, n)
	for i := range subs {
		subs[i] = &submission{n: i + 1, key: fmt.Sprintf("soak-%s-%d", runID, i+1), who: loadkit.Applicant{Name: "Soak Applicant",
			Email: fmt.Sprintf("soak-%s-%d@example.org", runID, i+1), NationalID: testenv.NationalID()}}
	}
	return subs
}

// clients is how the applicants' clients behave: at most n submit at once,
// the submissions spread evenly over window from begin; each retries a
// failed attempt with the same Idempotency-Key, backing off from 0.5 s to
// 5 s, as a real client would, until giveUp.
type clients struct {
	n      int
	window time.Duration
	giveUp time.Duration
	api    string
	token  string
	docs   [][]byte
	runID  string
	http   *http.Client
}

// submitAll sends the submissions: submission i is due at begin +
// i*window/len, and goes out as soon as one of the clients is free.
func (c clients) submitAll(ctx context.Context, subs []*submission, begin time.Time) {
	due := make(chan *submission)
	var wg sync.WaitGroup
	for range c.n {
		wg.Go(func() {
			for s := range due {
				c.submit(ctx, s)
			}
		})
	}
	for i, s := range subs {
		if !sleepUntil(ctx, begin.Add(time.Duration(float64(c.window)*float64(i)/float64(len(subs))))) {
			break
		}
		due <- s
	}
	close(due)
	wg.Wait()
}

func (c clients) submit(ctx context.Context, s *submission) {
	data, contentType, err := s.body(c.docs, c.runID)
	if err != nil {
		s.failure = "build the body: " + err.Error()
		return
	}
	first, backoff := time.Now(), 500*time.Millisecond
	for {
		a := attempt{start: time.Now()}
		ans := loadkit.Submit(ctx, c.http, c.api, c.token, s.key, data, contentType)
		a.end, a.status, a.detail = time.Now(), ans.Status, string(ans.Body)
		if ans.Err != nil {
			a.status, a.detail = 0, ans.Err.Error()
		}
		s.attempts = append(s.attempts, a)
		switch {
		case a.ok():
			s.code, err = ans.TrackingCode()
			if err != nil {
				s.failure = err.Error()
			}
			s.attempts[len(s.attempts)-1].detail = ""
			s.created = a.status == http.StatusCreated
			return
		case !a.retryable():
			s.failure = fmt.Sprintf("refused with %d: %.300s", a.status, a.detail)
			return
		case ctx.Err() != nil || time.Since(first) > c.giveUp:
			s.failure = fmt.Sprintf("gave up after %d attempts in %s; last: %d %.300s", len(s.attempts), time.Since(first).Round(time.Second), a.status, a.detail)
			return
		}
		sleepUntil(ctx, time.Now().Add(backoff))
		backoff = min(2*backoff, 5*time.Second)
	}
}

// unsolicitedLog counts what net/http's client logs when an answer arrives
// on a connection it considers idle: the server answered a request the
// client never sent. Other log lines pass through to stderr.
type unsolicitedLog struct {
	mu       sync.Mutex
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
	u.statuses[string(m[1])]++
	return len(p), nil
}

func (u *unsolicitedLog) check() check {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := check{name: "the API answered only requests the clients sent (no answer on an idle keep-alive connection)", pass: len(u.statuses) == 0}
	c.detail = "unsolicited answers: none"
	if len(u.statuses) > 0 {
		c.detail = "unsolicited answers: " + counts(u.statuses)
		c.items = append(c.items, "after answering an upload before reading all of its body (an error mid-upload, or a retry answered "+
			"from the saved submission), the API parsed the unread rest of the body as further requests on the same connection")
	}
	return c
}

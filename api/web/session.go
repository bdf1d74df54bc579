package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sessions keeps sessions in PostgreSQL. The cookie carries a random ID;
// the table keeps only its SHA-256, so a copy of the table opens no session.
//
// A row is written only when something must be kept (a sign-in step, a
// proved booking, a form kept across a timeout): a visitor who only reads
// pages or is shown a form has no row. Their forms are still protected
// against cross-site posts by a stateless token: a random cookie of their
// own (Cookie + "_csrf") and, in the form, its HMAC under CSRFKey. When a
// row is first written it keeps that same token, so a form shown before
// still posts.
//
// A session ends after Idle without use, and Lifetime after it began
// (sign-in starts a new one) however busy it is. Each row carries both
// limits, and the daily retention purge deletes the rows past either.
type Sessions struct {
	DB *pgxpool.Pool
	// Table and Owner name where sessions live and who they belong to:
	// "sessions"/"account_id" for applicants, "staff_sessions"/"staff_id"
	// for staff, whose sessions are kept apart.
	Table, Owner string
	Cookie       string        // cookie name
	Idle         time.Duration // a session unused this long ends
	Lifetime     time.Duration // a session this old ends however busy (0: ApplicantLifetime)
	Secure       bool          // cookie only over HTTPS (off for local HTTP)
	// CSRFKey signs the form tokens of visitors without a session
	// (config Keys.CSRF). Required.
	CSRFKey []byte
	// Expired answers a form posted from a session that has timed out (its
	// CSRF token died with it): keep what was typed, ask to sign in again.
	Expired fiber.Handler
}

// Absolute lifetimes: a stolen or forgotten session dies within a day's
// use. An applicant's visit (sign-up, profile, a request with its uploads)
// fits in 12 hours; a member of staff signs in again each working day.
const (
	ApplicantLifetime = 12 * time.Hour
	StaffLifetime     = 10 * time.Hour
)

// Session is one browser's session.
type Session struct {
	idHash    []byte // nil while the visitor has no row
	AccountID int64  // the applicant's account or the staff member; 0 until signed in
	csrf      string
	Data      map[string]string
	dirty     bool
	created   time.Time // when the session began (its absolute end counts from here)
	expires   time.Time // when the row ends unless used again (zero: no row)
	// A visitor without a row: the random value behind their stateless
	// token, to be sent as a cookie if the token is shown in a page.
	seed      string
	seedIsNew bool
	tokenUsed bool
}

// Get returns a value kept in the session.
func (s *Session) Get(key string) string { return s.Data[key] }

// Set keeps a value in the session (saved at the end of the request); an
// empty value removes the key.
func (s *Session) Set(key, value string) {
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	if value == "" {
		if _, ok := s.Data[key]; !ok {
			return
		}
		delete(s.Data, key)
	} else {
		s.Data[key] = value
	}
	s.dirty = true
}

// CSRF is the token forms of this session carry.
func (s *Session) CSRF() string {
	s.tokenUsed = true
	return s.csrf
}

// Stored reports whether the session has a row (something is kept).
func (s *Session) Stored() bool { return s.idHash != nil }

// Remaining is how long the session lasts without further use: zero
// for a visitor without a row.
func (s *Session) Remaining() time.Duration {
	if s.expires.IsZero() {
		return 0
	}
	return time.Until(s.expires)
}

const sessionLocal = "session"

// Current is the request's session; Middleware put it there.
func Current(c *fiber.Ctx) *Session {
	s, _ := c.Locals(sessionLocal).(*Session)
	return s
}

// Middleware loads the session (or starts an unsaved one), refuses unsafe
// requests without the session's CSRF token, and saves what changed: a
// session gets its row only when something is kept in it.
func (m *Sessions) Middleware(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s, err := m.load(ctx, c.Cookies(m.Cookie))
	if err != nil {
		return err
	}
	expired := s == nil && c.Cookies(m.Cookie) != ""
	if s == nil {
		if s, err = m.visitor(c); err != nil {
			return err
		}
	}
	c.Locals(sessionLocal, s)
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		// Multipart bodies are streamed to their handler: the token rides in
		// the form's action URL, and the body is not touched here (fasthttp's
		// FormValue would parse it whole, writing files to disk). An
		// urlencoded body has been read whole already, within its limit
		// (server.BodyLimits), before this runs.
		token := []byte(c.Query("_csrf"))
		if len(token) == 0 && !isMultipart(c) {
			token = c.Request().PostArgs().Peek("_csrf")
		}
		if subtle.ConstantTimeCompare(token, []byte(s.csrf)) != 1 {
			if expired && m.Expired != nil {
				err = m.Expired(c) // nothing is done but keeping the typed fields
			} else {
				err = fiber.NewError(fiber.StatusForbidden, "csrf")
			}
			if saveErr := m.finish(c); saveErr != nil && err == nil {
				err = saveErr
			}
			return err
		}
	}
	err = c.Next()
	if saveErr := m.finish(c); saveErr != nil && err == nil {
		err = saveErr
	}
	return err
}

// finish saves what the request kept in the session (writing its row if it
// had none), or hands a visitor the cookie behind the token a page showed.
func (m *Sessions) finish(c *fiber.Ctx) error {
	s := Current(c) // the session may have been rotated meanwhile
	switch {
	case s.dirty && s.Stored():
		return m.save(context.Background(), s)
	case s.dirty && len(s.Data) > 0:
		// The first thing to keep: the row is written now, with the token
		// the visitor's forms already carry.
		stored, err := m.insert(context.Background(), c, 0, s.Data, s.csrf, time.Time{})
		if err != nil {
			return err
		}
		c.Locals(sessionLocal, stored)
	case !s.Stored() && s.seedIsNew && s.tokenUsed:
		c.Cookie(&fiber.Cookie{Name: m.csrfCookie(), Value: s.seed, Path: "/", HTTPOnly: true, Secure: m.Secure, SameSite: "Lax"})
	}
	return nil
}

// visitor is the session of a browser without a live one: nothing stored,
// its CSRF token derived from the visitor's own random cookie (made now if
// it has none; sent only if a page shows the token).
func (m *Sessions) visitor(c *fiber.Ctx) (*Session, error) {
	s := &Session{seed: strings.Clone(c.Cookies(m.csrfCookie()))}
	if raw, err := base64.RawURLEncoding.DecodeString(s.seed); err != nil || len(raw) != 32 {
		if s.seed, err = random(32); err != nil {
			return nil, err
		}
		s.seedIsNew = true
	}
	s.csrf = m.visitorToken(s.seed)
	return s, nil
}

// visitorToken is the form token of a visitor's cookie: an HMAC naming this
// set of sessions, so an applicant's token is worth nothing on staff forms.
func (m *Sessions) visitorToken(seed string) string {
	if len(m.CSRFKey) == 0 {
		panic("web.Sessions: CSRFKey is not set")
	}
	mac := hmac.New(sha256.New, m.CSRFKey)
	mac.Write([]byte(m.table() + "\x00" + seed))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (m *Sessions) csrfCookie() string { return m.Cookie + "_csrf" }

func isMultipart(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm)
}

// Rotate gives the browser a new session ID for the account (at sign-in),
// carrying the data over (a form kept across a timeout), and ends the old
// one, so an ID planted before sign-in is worthless after it. The new
// session's lifetime starts now.
func (m *Sessions) Rotate(c *fiber.Ctx, accountID int64) error {
	var data map[string]string
	old := Current(c)
	if old != nil {
		data = old.Data
		if err := m.delete(c.UserContext(), old); err != nil {
			return err
		}
	}
	csrf, err := random(24)
	if err != nil {
		return err
	}
	s, err := m.insert(c.UserContext(), c, accountID, data, csrf, time.Time{})
	if err != nil {
		return err
	}
	c.Locals(sessionLocal, s)
	return nil
}

// Renew gives the browser a new session ID and CSRF token with the same
// account and data (a booking proved: what this browser may do has grown),
// ending the old session, so an ID planted before, and the token that went
// with it, are worthless after it. Unlike Rotate (a sign-in), it does not
// restart a stored session's lifetime: proving a booking again and again
// keeps no session alive.
func (m *Sessions) Renew(c *fiber.Ctx) error {
	old := Current(c)
	if old == nil {
		return m.Rotate(c, 0)
	}
	if err := m.delete(c.UserContext(), old); err != nil {
		return err
	}
	csrf, err := random(24)
	if err != nil {
		return err
	}
	s, err := m.insert(c.UserContext(), c, old.AccountID, old.Data, csrf, old.created)
	if err != nil {
		return err
	}
	s.dirty = old.dirty
	c.Locals(sessionLocal, s)
	return nil
}

// End ends this browser's session.
func (m *Sessions) End(c *fiber.Ctx) error {
	if s := Current(c); s != nil {
		if err := m.delete(c.UserContext(), s); err != nil {
			return err
		}
	}
	c.Cookie(&fiber.Cookie{Name: m.Cookie, Value: "", Expires: time.Unix(0, 0), Path: "/", HTTPOnly: true, Secure: m.Secure, SameSite: "Lax"})
	return nil
}

// EndAll ends every session of the account, on every device.
func (m *Sessions) EndAll(c *fiber.Ctx, accountID int64) error {
	if _, err := m.DB.Exec(c.UserContext(), "DELETE FROM "+m.table()+" WHERE "+m.owner()+" = $1", accountID); err != nil {
		return err
	}
	return m.End(c)
}

// insert writes a new session row under a new ID and gives the browser its
// cookie. The session began at began (zero: now); its absolute end is
// counted from there.
func (m *Sessions) insert(ctx context.Context, c *fiber.Ctx, accountID int64, data map[string]string, csrf string, began time.Time) (*Session, error) {
	id, err := random(32)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(id))
	s := &Session{idHash: sum[:], AccountID: accountID, csrf: csrf, Data: data}
	var account *int64
	if accountID != 0 {
		account = &accountID
	}
	initial, err := json.Marshal(data)
	if err != nil || data == nil {
		initial = []byte("{}")
	}
	var start *time.Time
	if !began.IsZero() {
		start = &began
	}
	err = m.DB.QueryRow(ctx, `INSERT INTO `+m.table()+` (id_hash, `+m.owner()+`, csrf_token, data, created_at, idle_timeout, lifetime)
		VALUES ($1, $2, $3, $4, COALESCE($5::timestamptz, now()), make_interval(secs => $6), make_interval(secs => $7))
		RETURNING created_at, LEAST(created_at + lifetime, seen_at + idle_timeout)`,
		s.idHash, account, s.csrf, initial, start, m.Idle.Seconds(), m.lifetime().Seconds()).Scan(&s.created, &s.expires)
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	c.Cookie(&fiber.Cookie{Name: m.Cookie, Value: id, Path: "/", HTTPOnly: true, Secure: m.Secure, SameSite: "Lax"})
	return s, nil
}

// random is n random bytes, base64url-encoded.
func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Lookup finds the live session of this request's cookie, outside the
// middleware (e.g. a staff session presented to another endpoint).
func (m *Sessions) Lookup(c *fiber.Ctx) (*Session, error) {
	return m.load(c.UserContext(), c.Cookies(m.Cookie))
}

// load finds the live session of a cookie, within the idle timeout and the
// absolute lifetime as configured now, touching its last use. The row
// keeps both limits, so the purge knows which rows have ended.
func (m *Sessions) load(ctx context.Context, id string) (*Session, error) {
	if id == "" {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(id))
	s := &Session{idHash: sum[:]}
	var account *int64
	var data []byte
	err := m.DB.QueryRow(ctx, `UPDATE `+m.table()+` SET seen_at = now(),
			idle_timeout = make_interval(secs => $2), lifetime = make_interval(secs => $3)
		WHERE id_hash = $1 AND seen_at > now() - make_interval(secs => $2) AND created_at > now() - make_interval(secs => $3)
		RETURNING `+m.owner()+`, csrf_token, data, created_at, LEAST(created_at + lifetime, seen_at + idle_timeout)`,
		s.idHash, m.Idle.Seconds(), m.lifetime().Seconds()).Scan(&account, &s.csrf, &data, &s.created, &s.expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if account != nil {
		s.AccountID = *account
	}
	return s, json.Unmarshal(data, &s.Data)
}

func (m *Sessions) save(ctx context.Context, s *Session) error {
	data, err := json.Marshal(s.Data)
	if err != nil {
		return err
	}
	_, err = m.DB.Exec(ctx, "UPDATE "+m.table()+" SET data = $2 WHERE id_hash = $1", s.idHash, data)
	return err
}

func (m *Sessions) delete(ctx context.Context, s *Session) error {
	if !s.Stored() {
		return nil
	}
	if _, err := m.DB.Exec(ctx, "DELETE FROM "+m.table()+" WHERE id_hash = $1", s.idHash); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

func (m *Sessions) lifetime() time.Duration {
	if m.Lifetime <= 0 {
		return ApplicantLifetime
	}
	return m.Lifetime
}

func (m *Sessions) table() string {
	if m.Table == "" {
		return "sessions"
	}
	return m.Table
}

func (m *Sessions) owner() string {
	if m.Owner == "" {
		return "account_id"
	}
	return m.Owner
}

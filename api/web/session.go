package web

import (
	"context"
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
type Sessions struct {
	DB *pgxpool.Pool
	// Table and Owner name where sessions live and who they belong to:
	// "sessions"/"account_id" for applicants, "staff_sessions"/"staff_id"
	// for staff, whose sessions are kept apart.
	Table, Owner string
	Cookie       string        // cookie name
	Idle         time.Duration // a session unused this long ends
	Secure       bool          // cookie only over HTTPS (off for local HTTP)
	// Expired answers a form posted from a session that has timed out (its
	// CSRF token died with it): keep what was typed, ask to sign in again.
	Expired fiber.Handler
}

// Session is one browser's session.
type Session struct {
	idHash    []byte
	AccountID int64 // the applicant's account or the staff member; 0 until signed in
	CSRF      string
	Data      map[string]string
	dirty     bool
}

// Get returns a value kept in the session.
func (s *Session) Get(key string) string { return s.Data[key] }

// Set keeps a value in the session (saved at the end of the request).
func (s *Session) Set(key, value string) {
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	s.Data[key] = value
	s.dirty = true
}

const sessionLocal = "session"

// Current is the request's session; Middleware put it there.
func Current(c *fiber.Ctx) *Session {
	s, _ := c.Locals(sessionLocal).(*Session)
	return s
}

// Middleware loads the session (or starts one), refuses unsafe requests
// without the session's CSRF token, and saves what changed.
func (m *Sessions) Middleware(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s, err := m.load(ctx, c.Cookies(m.Cookie))
	if err != nil {
		return err
	}
	expired := s == nil && c.Cookies(m.Cookie) != ""
	if s == nil {
		if s, err = m.create(c, 0, nil); err != nil {
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
		if subtle.ConstantTimeCompare(token, []byte(s.CSRF)) != 1 {
			if expired && m.Expired != nil {
				err = m.Expired(c) // nothing is done but keeping the typed fields
			} else {
				err = fiber.NewError(fiber.StatusForbidden, "csrf")
			}
			if s.dirty {
				if saveErr := m.save(context.Background(), s); saveErr != nil && err == nil {
					err = saveErr
				}
			}
			return err
		}
	}
	err = c.Next()
	if s = Current(c); s.dirty { // the session may have been rotated meanwhile
		if saveErr := m.save(context.Background(), s); saveErr != nil && err == nil {
			err = saveErr
		}
	}
	return err
}

func isMultipart(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm)
}

// Rotate gives the browser a new session ID for the account (at sign-in),
// carrying the data over (a form kept across a timeout), and ends the old
// one, so an ID planted before sign-in is worthless after it.
func (m *Sessions) Rotate(c *fiber.Ctx, accountID int64) error {
	var data map[string]string
	old := Current(c)
	if old != nil {
		data = old.Data
		if _, err := m.DB.Exec(c.UserContext(), "DELETE FROM "+m.table()+" WHERE id_hash = $1", old.idHash); err != nil {
			return err
		}
	}
	s, err := m.create(c, accountID, data)
	if err != nil {
		return err
	}
	c.Locals(sessionLocal, s)
	return nil
}

// End ends this browser's session.
func (m *Sessions) End(c *fiber.Ctx) error {
	if s := Current(c); s != nil {
		if _, err := m.DB.Exec(c.UserContext(), "DELETE FROM "+m.table()+" WHERE id_hash = $1", s.idHash); err != nil {
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

func (m *Sessions) create(c *fiber.Ctx, accountID int64, data map[string]string) (*Session, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	csrf := make([]byte, 24)
	if _, err := rand.Read(csrf); err != nil {
		return nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(id))
	s := &Session{idHash: sum[:], AccountID: accountID, CSRF: base64.RawURLEncoding.EncodeToString(csrf), Data: data}
	var account *int64
	if accountID != 0 {
		account = &accountID
	}
	initial, err := json.Marshal(data)
	if err != nil || data == nil {
		initial = []byte("{}")
	}
	if _, err := m.DB.Exec(c.UserContext(), `INSERT INTO `+m.table()+` (id_hash, `+m.owner()+`, csrf_token, data) VALUES ($1, $2, $3, $4)`,
		s.idHash, account, s.CSRF, initial); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	c.Cookie(&fiber.Cookie{Name: m.Cookie, Value: id, Path: "/", HTTPOnly: true, Secure: m.Secure, SameSite: "Lax"})
	return s, nil
}

// Lookup finds the live session of this request's cookie, outside the
// middleware (e.g. a staff session presented to another endpoint).
func (m *Sessions) Lookup(c *fiber.Ctx) (*Session, error) {
	return m.load(c.UserContext(), c.Cookies(m.Cookie))
}

// load finds the live session of a cookie, touching its last use.
func (m *Sessions) load(ctx context.Context, id string) (*Session, error) {
	if id == "" {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(id))
	s := &Session{idHash: sum[:]}
	var account *int64
	var data []byte
	err := m.DB.QueryRow(ctx, `UPDATE `+m.table()+` SET seen_at = now()
		WHERE id_hash = $1 AND seen_at > now() - make_interval(secs => $2)
		RETURNING `+m.owner()+`, csrf_token, data`, s.idHash, m.Idle.Seconds()).Scan(&account, &s.CSRF, &data)
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

// Package apiclients owns the registered API clients: integrations such as
// a mission's kiosk that may submit requests through POST /api/v1/requests.
// An admin creates one (the dashboard or `api clients add`) and sees its
// token once; only the token's SHA-256 is kept. A client submits to its
// missions only, at most PerHour times an hour, until it is revoked; it is
// never deleted, since the audit log names it.
package apiclients

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openconsular/consular/internal/audit"
)

// DB is what this package needs of a pool or a connection.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Client is a registered API client.
type Client struct {
	ID         int64
	Name       string
	Missions   []string
	PerHour    int
	CreatedBy  string // the admin's email; "" when created on the command line
	CreatedAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// Caller is the client as the owner of its idempotency keys.
func (c Client) Caller() string { return fmt.Sprintf("client:%d", c.ID) }

// May reports whether the client may submit to mission.
func (c Client) May(mission string) bool { return slices.Contains(c.Missions, mission) }

// Spec is a client to create.
type Spec struct {
	Name      string
	Missions  []string
	PerHour   int
	CreatedBy *int64 // the admin's staff ID; nil on the command line
}

// DefaultPerHour is a kiosk's pace: a submission a minute, with room.
// MaxPerHour is more than the whole system takes (the bench's client).
const (
	DefaultPerHour = 60
	MaxPerHour     = 1_000_000
)

// Problems with a Spec, by field.
var (
	ErrName     = errors.New("the name must be 1 to 100 characters, and not that of a live client")
	ErrMissions = errors.New("name at least one existing mission")
	ErrPerHour  = fmt.Errorf("the rate must be 1 to %d submissions an hour", MaxPerHour)
	ErrNotFound = errors.New("no such client")
)

// ErrUnknownToken is a token that is not a live client's.
var ErrUnknownToken = errors.New("unknown or revoked API client token")

// Create registers a client and returns it with its token, which is shown
// once and never again (only its SHA-256 is kept).
func Create(ctx context.Context, db DB, s Spec) (Client, string, error) {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len([]rune(s.Name)) > 100 {
		return Client{}, "", ErrName
	}
	if s.PerHour < 1 || s.PerHour > MaxPerHour {
		return Client{}, "", ErrPerHour
	}
	var missions []string
	for _, m := range s.Missions {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" && !slices.Contains(missions, m) {
			missions = append(missions, m)
		}
	}
	if len(missions) == 0 {
		return Client{}, "", ErrMissions
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Client{}, "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	tx, err := db.Begin(ctx)
	if err != nil {
		return Client{}, "", err
	}
	defer tx.Rollback(ctx)
	var known int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM missions WHERE code = ANY($1)", missions).Scan(&known); err != nil {
		return Client{}, "", fmt.Errorf("check missions: %w", err)
	}
	if known != len(missions) {
		return Client{}, "", ErrMissions
	}
	c := Client{Name: s.Name, Missions: missions, PerHour: s.PerHour}
	err = tx.QueryRow(ctx, `INSERT INTO api_clients (name, token_hash, per_hour, created_by) VALUES ($1, $2, $3, $4)
		RETURNING id, created_at`, s.Name, hash(token), s.PerHour, s.CreatedBy).Scan(&c.ID, &c.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return Client{}, "", ErrName
	}
	if err != nil {
		return Client{}, "", fmt.Errorf("create API client: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO api_client_missions (client_id, mission_code) SELECT $1, unnest($2::text[])`, c.ID, missions); err != nil {
		return Client{}, "", fmt.Errorf("create API client's missions: %w", err)
	}
	return c, token, tx.Commit(ctx)
}

func hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

const selectClients = `SELECT c.id, c.name, c.per_hour, COALESCE(s.email, ''), c.created_at, c.revoked_at, c.last_used_at,
	ARRAY(SELECT mission_code FROM api_client_missions m WHERE m.client_id = c.id ORDER BY mission_code)
	FROM api_clients c LEFT JOIN staff s ON s.id = c.created_by`

func scan(row pgx.Row) (Client, error) {
	var c Client
	err := row.Scan(&c.ID, &c.Name, &c.PerHour, &c.CreatedBy, &c.CreatedAt, &c.RevokedAt, &c.LastUsedAt, &c.Missions)
	return c, err
}

// List is every client, live ones first, newest first.
func List(ctx context.Context, db DB) ([]Client, error) {
	rows, err := db.Query(ctx, selectClients+` ORDER BY c.revoked_at IS NOT NULL, c.created_at DESC, c.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list API clients: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Client, error) { return scan(row) })
}

// Get is one client by ID.
func Get(ctx context.Context, db DB, id int64) (Client, error) {
	c, err := scan(db.QueryRow(ctx, selectClients+` WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// Revoke stops a client's token at once. Revoking a revoked client changes
// nothing and reports false.
func Revoke(ctx context.Context, db DB, id int64) (bool, error) {
	tag, err := db.Exec(ctx, "UPDATE api_clients SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", id)
	if err != nil {
		return false, fmt.Errorf("revoke API client: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Authenticate finds the live client a token belongs to and notes when it
// was used (to the minute: a busy client's calls do not all write its row).
func Authenticate(ctx context.Context, db DB, token string) (Client, error) {
	if token == "" || len(token) > 200 {
		return Client{}, ErrUnknownToken
	}
	c, err := scan(db.QueryRow(ctx, selectClients+` WHERE c.token_hash = $1 AND c.revoked_at IS NULL`, hash(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Client{}, ErrUnknownToken
	}
	if err != nil {
		return Client{}, fmt.Errorf("authenticate API client: %w", err)
	}
	if c.LastUsedAt == nil || time.Since(*c.LastUsedAt) > time.Minute {
		if _, err := db.Exec(ctx, "UPDATE api_clients SET last_used_at = now() WHERE id = $1", c.ID); err != nil {
			return Client{}, fmt.Errorf("note API client's use: %w", err)
		}
	}
	return c, nil
}

// Entry is a line of the audit log written outside the staff dashboard: a
// client's own action, or an operator's on the command line.
type Entry struct {
	Client  *Client // the client acting; nil for an operator
	Actor   string  // who acts, when not a client (the operator)
	Mission string
	Action  string // api_client_add, api_client_revoke, submit
	Code    string // tracking code
	IP      string
	Outcome string // ok, refused, failed
	Detail  string // never personal data
}

// Audit appends e to the audit log through the shared writer (package
// audit). A client's line has role api_client, its name (prefixed
// "client:") where a staff member's email would be and its ID; an
// operator's has role operator.
func Audit(ctx context.Context, db DB, e Entry) error {
	line := audit.Entry{Actor: e.Actor, Role: "operator", Mission: e.Mission, Action: e.Action, Code: e.Code,
		IP: e.IP, Outcome: e.Outcome, Detail: e.Detail}
	if e.Client != nil {
		line.Actor, line.Role, line.ClientID = "client:"+e.Client.Name, "api_client", e.Client.ID
	}
	return audit.Write(ctx, db, line)
}

// Package totpsecret keeps staff members' TOTP secrets encrypted at rest,
// under a key of their own (CONSULAR_TOTP_KEY, "id:base64,..."; the first
// key encrypts, all decrypt), apart from the payload and link keys: a copy of
// the staff table, or of a backup, no longer hands out every member's second
// factor.
//
// A secret is stored as two columns of staff: totp_secret and totp_key_id.
// With totp_key_id NULL, totp_secret is the base32 secret in clear (written
// before migration 00020, or by a tool that does not know the key); with a
// key ID, it is base64(nonce || AES-256-GCM ciphertext), the key ID bound in
// as additional data, so a ciphertext relabelled with another key's ID fails.
// SQL has no key, so the migration only adds the marker: the API encrypts a
// clear secret the first time a member signs in with it, and Seal All (run
// at the API's start and by `api staff encrypt-totp`) encrypts the rest, and
// re-encrypts under the first key whatever an older key sealed.
package totpsecret

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openconsular/consular/internal/codec"
)

// Box seals and opens secrets.
type Box struct {
	active string
	keys   map[string]cipher.AEAD
}

// New returns a box that seals with keys[0] and opens with any of keys.
func New(keys []codec.Key) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("TOTP secrets need at least one key (CONSULAR_TOTP_KEY)")
	}
	aeads, err := codec.AEADs(keys)
	if err != nil {
		return nil, fmt.Errorf("TOTP keys: %w", err)
	}
	b := &Box{active: keys[0].ID, keys: aeads}
	return b, nil
}

// Stored is a secret as the staff table holds it.
type Stored struct {
	Value string  // totp_secret
	KeyID *string // totp_key_id; nil: Value is the secret in clear
}

// Seal encrypts a base32 secret under the active key.
func (b *Box) Seal(secret string) (Stored, error) {
	aead := b.keys[b.active]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Stored{}, fmt.Errorf("seal TOTP secret: %w", err)
	}
	id := b.active
	return Stored{Value: base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), []byte(id))), KeyID: &id}, nil
}

// Open gives back the secret in clear.
func (b *Box) Open(s Stored) (string, error) {
	if s.KeyID == nil {
		return s.Value, nil
	}
	aead, ok := b.keys[*s.KeyID]
	if !ok {
		return "", fmt.Errorf("open TOTP secret: key %q is not in CONSULAR_TOTP_KEY", *s.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errors.New("open TOTP secret: not a sealed secret")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(*s.KeyID))
	if err != nil {
		return "", fmt.Errorf("open TOTP secret under key %q: %w", *s.KeyID, err)
	}
	return string(plain), nil
}

// Stale says whether s should be sealed again: it is in clear, or sealed
// under a key that no longer seals.
func (b *Box) Stale(s Stored) bool { return s.KeyID == nil || *s.KeyID != b.active }

// DB is what sealing in place needs of a pool or a connection.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Reseal seals the secret of staff member id again, if the row still holds
// old (a concurrent reseal or a re-invitation wins). It reports whether it
// changed the row.
func (b *Box) Reseal(ctx context.Context, db DB, id int64, old Stored) (bool, error) {
	secret, err := b.Open(old)
	if err != nil {
		return false, err
	}
	sealed, err := b.Seal(secret)
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `UPDATE staff SET totp_secret = $2, totp_key_id = $3
		WHERE id = $1 AND totp_secret = $4 AND totp_key_id IS NOT DISTINCT FROM $5`, id, sealed.Value, sealed.KeyID, old.Value, old.KeyID)
	if err != nil {
		return false, fmt.Errorf("reseal TOTP secret: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// SealAll seals every secret in clear, and seals again under the active key
// every secret an older key sealed. It reports how many it changed.
func (b *Box) SealAll(ctx context.Context, db DB) (int, error) {
	rows, err := db.Query(ctx, "SELECT id, totp_secret, totp_key_id FROM staff WHERE totp_key_id IS DISTINCT FROM $1", b.active)
	if err != nil {
		return 0, fmt.Errorf("find TOTP secrets to seal: %w", err)
	}
	type row struct {
		id int64
		s  Stored
	}
	stale, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.s.Value, &x.s.KeyID)
	})
	if err != nil {
		return 0, fmt.Errorf("find TOTP secrets to seal: %w", err)
	}
	n := 0
	for _, r := range stale {
		changed, err := b.Reseal(ctx, db, r.id, r.s)
		if err != nil {
			return n, fmt.Errorf("staff member %d: %w", r.id, err)
		}
		if changed {
			n++
		}
	}
	return n, nil
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/passwords"
	"github.com/openconsular/consular/internal/totpsecret"
)

// addStaff is `api staff add --email E --role R [--mission M]`: it creates a
// staff account with a random first password and a TOTP secret (stored
// encrypted under CONSULAR_TOTP_KEY), and prints both once, with the otpauth
// URI for an authenticator app. `api staff token` and `api staff
// encrypt-totp` are its siblings.
func addStaff(ctx context.Context, out io.Writer, db *pgxpool.Pool, totpKeys []codec.Key, args []string) error {
	fs := flag.NewFlagSet("staff add", flag.ContinueOnError)
	email := fs.String("email", "", "the staff member's email (their username)")
	role := fs.String("role", staff.Officer, "officer, supervisor or admin")
	mission := fs.String("mission", "", "the mission's code (not for admins)")
	if len(args) > 0 && args[0] == "token" {
		return staffToken(ctx, out, db, args[1:])
	}
	box, err := totpsecret.New(totpKeys)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "encrypt-totp" {
		n, err := box.SealAll(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d TOTP secrets encrypted under the first CONSULAR_TOTP_KEY key\n", n)
		return nil
	}
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: api staff add --email E --role officer|supervisor|admin [--mission CODE] | api staff token --email E | api staff encrypt-totp")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	e := strings.ToLower(strings.TrimSpace(*email))
	if !strings.Contains(e, "@") {
		return errors.New("--email is required")
	}
	var missionCode *string
	switch *role {
	case staff.Admin:
	case staff.Officer, staff.Supervisor:
		if *mission == "" {
			return errors.New("--mission is required for officers and supervisors")
		}
		missionCode = mission
	default:
		return fmt.Errorf("--role %q: want officer, supervisor or admin", *role)
	}
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	hash, err := passwords.Hash(ctx, password)
	if err != nil {
		return err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Consular services", AccountName: e})
	if err != nil {
		return err
	}
	sealed, err := box.Seal(key.Secret())
	if err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `INSERT INTO staff (email, role, mission_code, password_hash, totp_secret, totp_key_id) VALUES ($1, $2, $3, $4, $5, $6)`,
		e, *role, missionCode, hash, sealed.Value, sealed.KeyID); err != nil {
		return fmt.Errorf("add staff: %w", err)
	}
	fmt.Fprintf(out, "staff member %s added as %s%s\n  password: %s\n  TOTP secret: %s\n  authenticator URI: %s\n",
		e, *role, map[bool]string{true: " of " + *mission, false: ""}[*mission != ""], password, key.Secret(), key.URL())
	return nil
}

// staffToken is `api staff token --email E`: a new API token for the JSON
// staff endpoints, replacing the member's previous one; printed once.
func staffToken(ctx context.Context, out io.Writer, db *pgxpool.Pool, args []string) error {
	fs := flag.NewFlagSet("staff token", flag.ContinueOnError)
	email := fs.String("email", "", "the staff member's email")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	tag, err := db.Exec(ctx, "UPDATE staff SET api_token_hash = $2 WHERE email = $1", strings.ToLower(strings.TrimSpace(*email)), sum[:])
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("no staff member %q", *email)
	}
	fmt.Fprintf(out, "API token for %s (shown once): %s\n", *email, token)
	return nil
}

// encryptTOTPAtStart encrypts the TOTP secrets still in clear (from before
// migration 00020) when the API starts, so no operator step is needed after
// an upgrade; replicas starting together only repeat each other's work
// (each row is changed only if it still holds what was read). A failure is
// logged, not fatal: sign-in encrypts a secret on first use anyway, and
// `api staff encrypt-totp` does the rest.
func encryptTOTPAtStart(ctx context.Context, db *pgxpool.Pool, keys []codec.Key, logger *slog.Logger) {
	box, err := totpsecret.New(keys)
	if err == nil {
		var n int
		if n, err = box.SealAll(ctx, db); n > 0 {
			logger.InfoContext(ctx, "staff TOTP secrets encrypted", "count", n)
		}
	}
	if err != nil {
		logger.WarnContext(ctx, "encrypt staff TOTP secrets at start", "err", err)
	}
}

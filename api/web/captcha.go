package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/dchest/captcha"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/consular"
)

// Captchas are digit images with an audio alternative (dchest/captcha),
// their answers kept in PostgreSQL so any API replica can check them, and
// each good for one answer within ten minutes.
type Captchas struct {
	DB *pgxpool.Pool
	// TestAnswer, when set (development and tests only; configuration refuses
	// it in production), is accepted for every captcha.
	TestAnswer string
}

const captchaLength = 5

// New makes a captcha and returns its ID for the form.
func (cs *Captchas) New(ctx context.Context) (string, error) {
	raw := make([]byte, 15)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	digits := captcha.RandomDigits(captchaLength)
	var b strings.Builder
	for _, d := range digits {
		b.WriteByte('0' + d)
	}
	_, err := cs.DB.Exec(ctx, `INSERT INTO captchas (id, digits, expires_at) VALUES ($1, $2, now() + interval '10 minutes')`, id, b.String())
	if err == nil {
		_, err = cs.DB.Exec(ctx, `DELETE FROM captchas WHERE expires_at < now()`)
	}
	return id, err
}

// Verify checks an answer (Persian digits welcome) and spends the captcha.
func (cs *Captchas) Verify(ctx context.Context, id, answer string) bool {
	answer = strings.TrimSpace(consular.NormalizeDigits(answer))
	var digits string
	err := cs.DB.QueryRow(ctx, `DELETE FROM captchas WHERE id = $1 AND expires_at > now() RETURNING digits`, id).Scan(&digits)
	if cs.TestAnswer != "" && subtle.ConstantTimeCompare([]byte(answer), []byte(cs.TestAnswer)) == 1 {
		return true
	}
	return err == nil && subtle.ConstantTimeCompare([]byte(answer), []byte(digits)) == 1
}

// Register serves /captcha/<id>.png and /captcha/<id>.wav.
func (cs *Captchas) Register(r fiber.Router) {
	r.Get("/captcha/:file", func(c *fiber.Ctx) error {
		file := c.Params("file")
		id, ext, _ := strings.Cut(file, ".")
		var digits string
		err := cs.DB.QueryRow(c.UserContext(), `SELECT digits FROM captchas WHERE id = $1 AND expires_at > now()`, id).Scan(&digits)
		if errors.Is(err, pgx.ErrNoRows) {
			return fiber.ErrNotFound
		}
		if err != nil {
			return err
		}
		d := make([]byte, len(digits))
		for i := range digits {
			d[i] = digits[i] - '0'
		}
		var b bytes.Buffer
		switch ext {
		case "png":
			_, err = captcha.NewImage(id, d, 240, 80).WriteTo(&b)
			c.Type("png")
		case "wav":
			_, err = captcha.NewAudio(id, d, "en").WriteTo(&b)
			c.Type("wav")
		default:
			return fiber.ErrNotFound
		}
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Send(b.Bytes())
	})
}

// Limiter counts events in fixed windows in PostgreSQL, so limits hold
// across API replicas and restarts.
type Limiter struct {
	DB *pgxpool.Pool
	// Key makes Personal's names (config Keys.Limits): a limit per email
	// address must not keep the address in clear.
	Key []byte
}

// Personal names the limit of one person's value (an email address) by an
// HMAC of it, so the rate_limits table holds no address in clear.
func (l *Limiter) Personal(prefix, value string) string {
	mac := hmac.New(sha256.New, l.Key)
	mac.Write([]byte(value))
	return prefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// Allow records one hit on key and reports whether it is within max per
// window; when not, it says when the window ends.
func (l *Limiter) Allow(ctx context.Context, key string, max int, window time.Duration) (bool, time.Time, error) {
	now := time.Now().UTC()
	start := now.Truncate(window)
	var hits int
	err := l.DB.QueryRow(ctx, `INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits`, key, start).Scan(&hits)
	if err != nil {
		return false, time.Time{}, err
	}
	if hits == 1 && now.Second()%10 == 0 { // now and then, forget old windows
		_, _ = l.DB.Exec(ctx, `DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'`)
	}
	return hits <= max, start.Add(window), nil
}

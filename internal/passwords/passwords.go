// Package passwords owns password hashing (argon2id) for applicants and
// staff. Each argon2id computation holds 64 MiB for its duration, so a
// process runs one at a time: a caller waits briefly for the slot and
// otherwise gets ErrBusy (the handlers answer 429 with Retry-After). Checking a password against a missing hash does the same
// work against a fixed dummy hash, so the time taken does not tell whether
// an account has a password.
package passwords

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"
)

// Slots is how many argon2id computations one process runs at once: one.
// Each holds 64 MiB, and Go's collector lets a finished one's 64 MiB linger
// while the next allocates, so a slot costs about 130 MiB at peak (measured:
// 135 MB for one slot, 267 MB for two, 398 MB for three, thirty checks
// queued in an otherwise idle process); one keeps the API far inside its
// 768 MiB beside document checks. With two lanes per computation one slot
// already keeps two cores busy: a second added memory, not throughput, on
// the two cores an API replica has (about 24 checks a second at 42 ms).
const Slots = 1

// Wait is how long a caller waits for a slot before ErrBusy: a queue of a
// few dozen checks drains in a second or two on two free cores, and a
// person waits a few seconds rather than send the form again.
const Wait = 5 * time.Second

// RetryAfter is what a busy answer tells the client to wait, in seconds.
const RetryAfter = 5

// ErrBusy says every slot stayed taken for the whole wait.
var ErrBusy = errors.New("passwords: too many password checks at once")

// params are today's argon2id parameters: those of alexedwards/argon2id's
// DefaultParams (64 MiB, one pass), with two lanes fixed instead of the
// machine's CPU count, so a hash made by `api staff add` on a laptop costs
// what one made in the cluster does. Older hashes keep their own encoded
// parameters and still verify.
var params = &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// maxMemory is the most a stored hash may ask for (KiB): a hash planted
// with a larger memory parameter would break the budget, so it is refused.
const maxMemory = 64 * 1024

// dummy is checked when there is no hash: made once with params from a
// throwaway string; no password is expected to match it, and the answer is
// false whatever happens.
const dummy = "$argon2id$v=19$m=65536,t=1,p=2$Cpir/Wt2iK5mA4Tj8K1gWA$8kofBVV0eToqYI/tPbJw/xBRjPChrkFxIO9M+SrRYrA"

// Hasher bounds the computations of one process. The package functions use
// one shared Hasher; tests make their own.
type Hasher struct {
	slots chan struct{}
	wait  time.Duration
}

// New is a Hasher with n slots whose callers wait at most wait.
func New(n int, wait time.Duration) *Hasher {
	return &Hasher{slots: make(chan struct{}, n), wait: wait}
}

var std = New(Slots, Wait)

// Hash makes an encoded argon2id hash of password.
func Hash(ctx context.Context, password string) (string, error) { return std.Hash(ctx, password) }

// Verify reports whether password matches hash; an empty hash (no
// password set, no account) costs the same and is false.
func Verify(ctx context.Context, password, hash string) (bool, error) {
	return std.Verify(ctx, password, hash)
}

// VerifyWith takes a slot first, then calls lookup for the hash, then
// verifies: for callers that count an attempt when they read the hash, so
// that an attempt turned away as busy is never counted.
func VerifyWith(ctx context.Context, password string, lookup func(context.Context) (string, error)) (bool, error) {
	return std.VerifyWith(ctx, password, lookup)
}

// acquire waits for a slot, at most h.wait and no longer than ctx allows.
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
	}
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-timer.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a password slot: %w", ctx.Err())
	}
}

// Hash makes an encoded argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	hash, err := argon2id.CreateHash(password, params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Verify reports whether password matches hash ("" for none).
func (h *Hasher) Verify(ctx context.Context, password, hash string) (bool, error) {
	return h.VerifyWith(ctx, password, func(context.Context) (string, error) { return hash, nil })
}

// VerifyWith takes a slot, asks lookup for the hash ("" for none) and
// verifies password against it.
func (h *Hasher) VerifyWith(ctx context.Context, password string, lookup func(context.Context) (string, error)) (bool, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	hash, err := lookup(ctx)
	if err != nil {
		return false, err
	}
	return compare(password, hash)
}

// compare checks password against hash, or against the dummy when there is
// none, so both take the same time.
func compare(password, hash string) (bool, error) {
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, dummy)
		return false, nil
	}
	p, _, _, err := argon2id.DecodeHash(hash)
	if err != nil {
		return false, fmt.Errorf("decode password hash: %w", err)
	}
	if p.Memory > maxMemory || p.Iterations > 4*params.Iterations {
		return false, fmt.Errorf("password hash asks for m=%d KiB, t=%d: more than this process allows", p.Memory, p.Iterations)
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}

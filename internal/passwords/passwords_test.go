package passwords

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

func TestHashesMadeBeforeThisPackageStillVerify(t *testing.T) {
	old, err := argon2id.CreateHash("correct horse battery", argon2id.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, err := Verify(ctx, "correct horse battery", old); !ok || err != nil {
		t.Fatalf("a DefaultParams hash: %v, %v; want a match", ok, err)
	}
	if ok, err := Verify(ctx, "wrong horse", old); ok || err != nil {
		t.Fatalf("a wrong password: %v, %v; want no match and no error", ok, err)
	}
	fresh, err := Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := argon2id.ComparePasswordAndHash("correct horse battery", fresh); !ok {
		t.Fatal("a new hash is not readable by argon2id itself")
	}
}

// The dummy must cost what a real hash costs, so its parameters are today's.
func TestTheDummyHashHasTodaysParameters(t *testing.T) {
	p, _, _, err := argon2id.DecodeHash(dummy)
	if err != nil {
		t.Fatal(err)
	}
	if *p != *params {
		t.Fatalf("dummy parameters %+v, want %+v: regenerate the dummy", *p, *params)
	}
}

// Timing tells nothing: checking against no hash does the same argon2 work.
func TestVerifyingWithoutAHashTakesAsLongAsWithOne(t *testing.T) {
	ctx := context.Background()
	hash, err := Hash(ctx, "a real password")
	if err != nil {
		t.Fatal(err)
	}
	// Interleaved, and the fastest quarter compared: the machine's load
	// changes from one moment to the next, the work itself does not.
	var with, without []time.Duration
	for i := 0; i < 12; i++ {
		for _, h := range []string{hash, ""} {
			start := time.Now()
			if ok, err := Verify(ctx, "a guess", h); ok || err != nil {
				t.Fatalf("%v, %v", ok, err)
			}
			if h == "" {
				without = append(without, time.Since(start))
			} else {
				with = append(with, time.Since(start))
			}
		}
	}
	quarter := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/4]
	}
	w, wo := quarter(with), quarter(without)
	if ratio := float64(wo) / float64(w); ratio < 0.7 || ratio > 1.3 {
		t.Fatalf("fastest quarter %s with a hash, %s without: want within 30%%", w, wo)
	}
}

func TestAHashAskingForMoreMemoryIsRefused(t *testing.T) {
	big, _ := argon2id.CreateHash("x", &argon2id.Params{Memory: 128 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if ok, err := Verify(context.Background(), "x", big); ok || err == nil {
		t.Fatalf("a 128 MiB hash: %v, %v; want refused", ok, err)
	}
}

// However many callers come, at most n computations run at once.
func TestNoMoreThanTheSlotsRunAtOnce(t *testing.T) {
	h := New(2, 10*time.Second)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.VerifyWith(context.Background(), "p", func(context.Context) (string, error) {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				running.Add(-1)
				return "", nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 2 {
		t.Fatalf("at most %d at once, want 2", most.Load())
	}
}

// A caller waits briefly for a slot, then hears busy; one whose request
// ended hears that instead; the lookup of a refused caller never runs.
func TestBusyWhenEverySlotStaysTaken(t *testing.T) {
	h := New(1, 30*time.Millisecond)
	release, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	looked := false
	lookup := func(context.Context) (string, error) { looked = true; return "", nil }
	start := time.Now()
	if _, err := h.VerifyWith(context.Background(), "p", lookup); !errors.Is(err, ErrBusy) {
		t.Fatalf("verify with every slot taken: %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond || waited > time.Second {
		t.Fatalf("waited %s, want about 30ms", waited)
	}
	if _, err := h.Hash(context.Background(), "p"); !errors.Is(err, ErrBusy) {
		t.Fatalf("hash with every slot taken: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.VerifyWith(ctx, "p", lookup); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller: %v, want context.Canceled", err)
	}
	if looked {
		t.Fatal("the lookup ran for a caller that got no slot")
	}
	release()
	if _, err := h.Verify(context.Background(), "p", ""); err != nil {
		t.Fatalf("after the slot is free: %v", err)
	}
}

package documents

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// A process checks documents within a fixed amount of memory, counted in
// bytes, not in checks: one document may cost 300 KB to check and another
// 45 MB. The two parts are separate semaphores so that checks holding their
// bytes while they wait to decode can never take the memory the decoding
// they wait for needs (with one semaphore, enough waiting readers would
// starve every decode and wait forever).
//
// 64 MiB in all keeps a process's peak RSS well under 200 MB however many
// uploads arrive at once: the Go heap may grow to about twice what is live
// before the collector runs, and the API and the worker idle at about 50 MB.
const (
	// ReadingBudget is for the bytes of documents being read and checked:
	// 16 MiB is about 50 documents of 300 KB; later uploads wait unread.
	ReadingBudget = 16 << 20
	// DecodingBudget is for decoding. It is also the most one document
	// may cost (DocumentBudget).
	DecodingBudget = 48 << 20
	// DocumentBudget is the most decoding one document may allocate: a
	// 12.5-megapixel baseline colour JPEG takes 19 MB, a progressive one
	// 94 MB, so a progressive colour image is accepted up to about 6.7
	// megapixels (an A4 page at 250 dpi) and a baseline one up to the pixel
	// limit.
	DocumentBudget = DecodingBudget
)

var (
	reading  = semaphore.NewWeighted(ReadingBudget)
	decoding = newMeter(DecodingBudget)
)

// meter is a weighted semaphore that also records the most it has handed
// out at once, so tests can see the budget hold.
type meter struct {
	sem       *semaphore.Weighted
	now, peak atomic.Int64
}

func newMeter(size int64) *meter { return &meter{sem: semaphore.NewWeighted(size)} }

func (m *meter) acquire(ctx context.Context, n int64) error {
	if err := m.sem.Acquire(ctx, n); err != nil {
		return err
	}
	now := m.now.Add(n)
	for {
		peak := m.peak.Load()
		if now <= peak || m.peak.CompareAndSwap(peak, now) {
			return nil
		}
	}
}

func (m *meter) release(n int64) {
	m.now.Add(-n)
	m.sem.Release(n)
}

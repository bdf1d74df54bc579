package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// slot is one appointment time as the lookup offers it.
type slot struct {
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Free     int       `json:"free"`
}

// lookupView is the part of POST /api/v1/appointments/lookup the bench reads.
type lookupView struct {
	Bookable bool      `json:"bookable"`
	Deadline time.Time `json:"deadline"`
	Slots    []slot    `json:"slots"`
}

// bookings books the submitted requests through /api/v1/appointments.
// Uncontended bookings take the free seats round-robin over the earliest
// slots, so concurrent clients never wait for one another's seat; contended
// rounds each take one of the latest slots, which the uncontended never reach.
type bookings struct {
	sys   *system
	ready chan applicant // requests awaiting an appointment, not booked yet
	seats []string       // starts_at of each free seat, round-robin over the slots
	next  atomic.Int64
	late  []slot // for the contended rounds, latest first

	mu      sync.Mutex
	samples []booked // the current measurement's bookings, for their histories
}

// booked is one booking as the client saw it.
type booked struct {
	code       string
	sent, done time.Time
}

func (s *system) lookup(ctx context.Context, a applicant) (lookupView, error) {
	var v lookupView
	status, msg, err := s.call(ctx, http.MethodPost, "/api/v1/appointments/lookup",
		map[string]string{"national_id": a.nationalID, "tracking_code": a.code}, &v)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("lookup %s: %d %s", a.code, status, msg)
	}
	return v, err
}

// fill moves submitted requests into the ready pool, each once a lookup
// says it can be booked (the worker has checked its documents and sent its
// receipt), submitting more (untimed) first when fewer than want are at
// hand. The first lookup lays out the seats.
func (b *bookings) fill(ctx context.Context, want int, drainLimit time.Duration) error {
	if more := want - len(b.ready) - len(b.sys.accepted); more > 0 {
		progress("  submitting %d more requests to book", more)
		if err := parallel(ctx, 8, more, func(ctx context.Context, _ int) error { return b.sys.submit(ctx) }); err != nil {
			return err
		}
		if _, _, err := b.sys.drain(ctx, drainLimit); err != nil {
			return err
		}
	}
	var fresh []applicant
	for len(b.sys.accepted) > 0 && len(b.ready)+len(fresh) < want {
		fresh = append(fresh, <-b.sys.accepted)
	}
	return parallel(ctx, 8, len(fresh), func(ctx context.Context, i int) error {
		for deadline := time.Now().Add(drainLimit); ; {
			v, err := b.sys.lookup(ctx, fresh[i])
			if err != nil {
				return err
			}
			if v.Bookable {
				b.layOut(v)
				b.ready <- fresh[i]
				return nil
			}
			if time.Now().After(deadline) || !sleep(ctx, 250*time.Millisecond) {
				return fmt.Errorf("request %s still not bookable after %s", fresh[i].code, drainLimit)
			}
		}
	})
}

// layOut divides the offered slots once: a fifth of them, the latest, for
// the contended rounds, and the free seats of the rest round-robin.
func (b *bookings) layOut(v lookupView) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seats != nil || len(v.Slots) == 0 {
		return
	}
	var slots []slot
	for _, s := range v.Slots { // keep clear of the lead time and the deadline as the run goes on
		if time.Until(s.StartsAt) > 26*time.Hour && s.EndsAt.Before(v.Deadline.Add(-24*time.Hour)) {
			slots = append(slots, s)
		}
	}
	cut := len(slots) * 4 / 5
	for i := len(slots) - 1; i >= cut; i-- {
		b.late = append(b.late, slots[i])
	}
	for round, added := 0, true; added; round++ {
		added = false
		for _, s := range slots[:cut] {
			if s.Free > round {
				b.seats = append(b.seats, s.StartsAt.Format(time.RFC3339))
				added = true
			}
		}
	}
}

func (b *bookings) post(ctx context.Context, a applicant, at string) (int, string, error) {
	return b.sys.call(ctx, http.MethodPost, "/api/v1/appointments",
		map[string]string{"national_id": a.nationalID, "tracking_code": a.code, "starts_at": at}, nil)
}

// book books the next ready request into the next free seat and expects 200.
func (b *bookings) book(ctx context.Context) error {
	var a applicant
	select {
	case a = <-b.ready:
	default:
		return errExhausted
	}
	i := b.next.Add(1) - 1
	if i >= int64(len(b.seats)) {
		return errExhausted
	}
	sent := time.Now()
	status, msg, err := b.post(ctx, a, b.seats[i])
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("POST /api/v1/appointments: %d %s", status, msg)
	}
	if err != nil {
		return err
	}
	b.sys.booked.Add(1)
	b.mu.Lock()
	b.samples = append(b.samples, booked{code: a.code, sent: sent, done: time.Now()})
	b.mu.Unlock()
	return nil
}

// take hands back the bookings since the last take.
func (b *bookings) take() []booked {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.samples
	b.samples = nil
	return s
}

// contended is rounds in which every client tries to book the same slot
// at once, each for a request of its own.
type contended struct {
	clients, rounds     int
	seats, booked, full int // full: 409, the slot was taken
	other               int
	firstOther          string
	overbooked          []string // slots that took more bookings than the free seats offered
}

// contend runs the rounds, each on a fresh slot; the losers' requests go
// back to the pool, which is topped up before each round.
func (b *bookings) contend(ctx context.Context, n, rounds int, drainLimit time.Duration) (contended, error) {
	c := contended{clients: n, rounds: rounds}
	for r := range rounds {
		if err := b.fill(ctx, n, drainLimit); err != nil {
			return c, err
		}
		if len(b.late) == 0 {
			return c, fmt.Errorf("contended round %d: no fresh slot left", r+1)
		}
		s := b.late[0]
		b.late = b.late[1:]
		players := make([]applicant, n)
		for i := range players {
			players[i] = <-b.ready
		}
		status := make([]int, n)
		msgs := make([]string, n)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i, a := range players {
			wg.Go(func() {
				<-release
				var err error
				if status[i], msgs[i], err = b.post(ctx, a, s.StartsAt.Format(time.RFC3339)); err != nil {
					msgs[i] = err.Error()
				}
			})
		}
		close(release)
		wg.Wait()
		won := 0
		for i, st := range status {
			switch st {
			case http.StatusOK:
				won++
			case http.StatusConflict:
				c.full++
				b.ready <- players[i]
			default:
				c.other++
				c.firstOther = cmp.Or(c.firstOther, fmt.Sprintf("%d %s", st, msgs[i]))
			}
		}
		c.seats += s.Free
		c.booked += won
		b.sys.booked.Add(int64(won))
		if won > s.Free {
			c.overbooked = append(c.overbooked, fmt.Sprintf("%s: %d bookings for %d free seats", s.StartsAt.Format(time.RFC3339), won, s.Free))
		}
	}
	return c, nil
}

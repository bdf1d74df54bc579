package web

import (
	"context"
	"log/slog"
	"regexp"
	"sync"
	"time"
)

// Outbox sends mail after the answer has gone, so that how long a page
// takes tells nobody whether a message was sent, and to whom. Sends run in
// goroutines, at most a fixed number at once per process: a caller waits
// briefly for a free slot (backpressure on a flood) and, if none frees in
// time, the message is dropped and logged; the one-time-code page offers
// "send again", and other notices are best effort. Each send has its own
// deadline, detached from the request's, which ends with the answer.
type Outbox struct {
	slots   chan struct{}
	wait    time.Duration // for a slot, in the handler
	timeout time.Duration // of one send, after the answer
	wg      sync.WaitGroup
}

// sendAfter is how long a send waits before it starts. A goroutine started
// in a handler runs while the page is still being rendered and written: on
// two busy cores, an SMTP conversation (or a receipt read from MinIO) then
// slows exactly the answers that send something. Pages answer in a few
// milliseconds; by this time the answer has gone.
const sendAfter = 30 * time.Millisecond

// OutboxSlots is how many sends one process runs at once: an SMTP
// conversation is mostly waiting, so a few dozen cost little, and a burst
// of sign-ups larger than that waits for them instead of piling up
// goroutines.
const OutboxSlots = 32

// NewOutbox is an outbox running at most slots sends at once; callers wait
// at most wait for a slot, each send may take timeout.
func NewOutbox(slots int, wait, timeout time.Duration) *Outbox {
	return &Outbox{slots: make(chan struct{}, slots), wait: wait, timeout: timeout}
}

// Mail is the process's outbox, shared by every page that sends mail.
var Mail = NewOutbox(OutboxSlots, 2*time.Second, time.Minute)

// Send runs send in the background with a detached, bounded context. It
// returns once the send has a slot (or was dropped): never unbounded
// goroutines. what names the message in logs (no address, no code).
func (o *Outbox) Send(ctx context.Context, what string, send func(context.Context) error) {
	select {
	case o.slots <- struct{}{}:
	default:
		timer := time.NewTimer(o.wait)
		defer timer.Stop()
		select {
		case o.slots <- struct{}{}:
		case <-timer.C:
			slog.WarnContext(ctx, "mail dropped: too many sends in flight", "mail", what, "slots", cap(o.slots))
			return
		case <-ctx.Done():
			slog.WarnContext(ctx, "mail dropped: the request ended while waiting for a send slot", "mail", what)
			return
		}
	}
	o.wg.Add(1)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
	go func() {
		defer o.wg.Done()
		defer func() { <-o.slots }()
		defer cancel()
		time.Sleep(sendAfter)
		if err := send(bg); err != nil {
			slog.ErrorContext(bg, "mail not sent", "mail", what, "err", addresses.ReplaceAllString(err.Error(), "<address>"))
		}
	}()
}

// Wait waits for the sends in flight, at most until ctx ends (at shutdown).
func (o *Outbox) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addresses finds email addresses in an error (an SMTP server's refusal may
// quote the recipient), which logs must not carry.
var addresses = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)

package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/appointments"
)

// Seats gives back the seat of an appointment a request no longer has, so
// its slot is offered to others again. The workflow is the one caller: it
// knows when a request loses its appointment (cancelled, moved, missed,
// withdrawn, archived), whatever door the change came through.
type Seats struct {
	DB *pgxpool.Pool
}

// What became of the appointment whose seat is given back.
const (
	SeatCancelled   = "cancelled"
	SeatRescheduled = "rescheduled"
	SeatReleased    = "released" // missed, withdrawn or archived
)

// ReleaseInput names the request's appointment by its time, so a retried
// release never frees a newer appointment's seat.
type ReleaseInput struct {
	TrackingCode string
	At           time.Time
	Outcome      string
}

// Release frees the seat once: a second call finds the appointment no
// longer booked and changes nothing.
func (s *Seats) Release(ctx context.Context, in ReleaseInput) error {
	err := appointments.ReleaseSeat(ctx, s.DB, appointments.Seat{TrackingCode: in.TrackingCode, At: in.At,
		From: appointments.Booked, To: in.Outcome})
	if err != nil {
		return fmt.Errorf("release the seat of %s: %w", in.TrackingCode, err)
	}
	return nil
}

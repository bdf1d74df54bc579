package consular

import (
	"errors"
	"strings"
)

// The outcomes every door words alike. Domain code returns these (or its own
// typed errors, such as submission.Refused); api/web.AnswerFor is the one
// table that turns them into HTTP statuses and catalogue messages.
var (
	// ErrNotFound: no request with this tracking code that the caller may
	// see. A request of another mission is not found either, in the same
	// words, so an answer never tells that a code exists.
	ErrNotFound = errors.New("no request with this tracking code")
	// ErrUnauthenticated: the caller did not show who they are (no token,
	// or one nobody holds).
	ErrUnauthenticated = errors.New("a valid token is required")
)

// ClosedError says the request has ended in Status: nothing more can be done
// with it. The status is for staff; applicants are told less.
type ClosedError struct{ Status Status }

func (e *ClosedError) Error() string {
	return "the request is " + string(e.Status) + "; nothing more can be done with it"
}

// RoleError says a staff member's role does not allow the action.
type RoleError struct{ Role, Action string }

func (e *RoleError) Error() string {
	return "a member with the role " + e.Role + " may not " + e.Action
}

// MissionError says the caller (an API client) may not act for the mission;
// Allowed are the missions it may.
type MissionError struct {
	Mission string
	Allowed []string
}

func (e *MissionError) Error() string {
	return "may not submit to mission " + e.Mission + "; allowed: " + strings.Join(e.Allowed, ", ")
}

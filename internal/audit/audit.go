// Package audit writes the append-only audit log (table audit_log): one
// line per staff action, sign-in and lockout, per API client submission and
// per operator command, whichever door it came through (dashboard, JSON
// staff API, command line), so the log reads the same for all of them.
package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer is what writing needs of a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Outcomes of an action.
const (
	OK      = "ok"
	Refused = "refused" // by the role policy or by the request's workflow
	Failed  = "failed"
	Locked  = "locked"
)

// Entry is one line. Actor is who acted as the log names them: a staff
// member's email, "client:<name>" for an API client, the operator's name on
// the command line. Nothing personal goes in Detail.
type Entry struct {
	StaffID  int64  // the staff member acting; 0 for none (an unknown email, a client, an operator)
	ClientID int64  // the API client acting; 0 for none
	Actor    string // email, "client:<name>" or the operator
	Role     string // officer, supervisor, admin, api_client, operator; "unknown" when empty
	Mission  string // the actor's mission; "" for none (admins, operators)
	Action   string
	Code     string // tracking code; "" for none
	IP       string // "local" when empty (the command line)
	Outcome  string
	Detail   string
}

// Write appends e to the log.
func Write(ctx context.Context, db Execer, e Entry) error {
	optional := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	id := func(n int64) *int64 {
		if n == 0 {
			return nil
		}
		return &n
	}
	if e.Role == "" {
		e.Role = "unknown"
	}
	if e.IP == "" {
		e.IP = "local"
	}
	_, err := db.Exec(ctx, `INSERT INTO audit_log (staff_id, api_client_id, staff_email, role, mission_code, action, tracking_code, source_ip, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		id(e.StaffID), id(e.ClientID), e.Actor, e.Role, optional(e.Mission), e.Action, optional(e.Code), e.IP, e.Outcome, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

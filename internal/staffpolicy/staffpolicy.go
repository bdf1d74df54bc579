// Package staffpolicy owns the staff roles and the one table of which role
// may take which action on a request. The dashboard (api/staff) and the JSON
// staff API (api/requests) both ask it, so a role cannot do through one door
// what the other refuses. The workflow still decides whether the request's
// state allows an action; this table decides only who may ask.
package staffpolicy

// Roles of staff members.
const (
	Officer    = "officer"    // one mission
	Supervisor = "supervisor" // one mission, with its audit log
	Admin      = "admin"      // every mission
)

// Roles lists every role, least trusted first.
var Roles = []string{Officer, Supervisor, Admin}

// Action is something staff do to a request. The words are the request
// workflow's update names (workflows.Update*), plus note, which only the
// audit log hears of.
type Action string

const (
	Book       Action = "book_appointment"
	Reschedule Action = "reschedule_appointment"
	Cancel     Action = "cancel_appointment"
	Attend     Action = "record_attendance"
	NoShow     Action = "mark_no_show"
	Decide     Action = "decide"
	Confirm    Action = "confirm_decision"
	Extend     Action = "extend_deadline"
	Withdraw   Action = "withdraw"
	Note       Action = "note"
	// Correct changes a field of the request at the visit (corrections are
	// made only in person, at the mission).
	Correct Action = "correct_request"
)

// Actions lists every action, in the table's order.
var Actions = []Action{Book, Reschedule, Cancel, Attend, NoShow, Decide, Confirm, Extend, Withdraw, Note, Correct}

// Permission is a role's answer for an action.
type Permission int

const (
	// Refused: the role may not take the action (403, audited as refused).
	Refused Permission = iota
	// Allowed: the action is the role's to take, final.
	Allowed
	// Proposed: a decision sent unconfirmed. The workflow holds it for a
	// supervisor where the service's four-eyes rule asks for a second pair
	// of eyes, and applies it at once where the rule does not.
	Proposed
)

func (p Permission) String() string {
	switch p {
	case Allowed:
		return "allowed"
	case Proposed:
		return "proposed"
	}
	return "refused"
}

// Permitted says whether the action may be sent at all.
func (p Permission) Permitted() bool { return p != Refused }

// rule is one row: what each role may do.
type rule struct{ officer, supervisor, admin Permission }

// table is the policy. Officers serve the counter: appointments,
// attendance, no-shows, extensions, and decisions that a supervisor confirms
// where the service says so. Confirming a decision needs a supervisor (or an
// admin), never the officer who proposed it (the workflow checks that).
// Officers correct the request at the counter, with the applicant there.
// Withdrawal is the applicant's act; staff record it for them only with a
// supervisor's authority.
var table = map[Action]rule{
	Book:       {Allowed, Allowed, Allowed},
	Reschedule: {Allowed, Allowed, Allowed},
	Cancel:     {Allowed, Allowed, Allowed},
	Attend:     {Allowed, Allowed, Allowed},
	NoShow:     {Allowed, Allowed, Allowed},
	Decide:     {Proposed, Allowed, Allowed},
	Confirm:    {Refused, Allowed, Allowed},
	Extend:     {Allowed, Allowed, Allowed},
	Withdraw:   {Refused, Allowed, Allowed},
	Note:       {Allowed, Allowed, Allowed},
	Correct:    {Allowed, Allowed, Allowed},
}

// May is the permission of role for action; an unknown role or action is
// refused.
func May(role string, a Action) Permission {
	r, ok := table[a]
	if !ok {
		return Refused
	}
	switch role {
	case Officer:
		return r.officer
	case Supervisor:
		return r.supervisor
	case Admin:
		return r.admin
	}
	return Refused
}

// Known reports whether role is one of Roles.
func Known(role string) bool {
	return role == Officer || role == Supervisor || role == Admin
}

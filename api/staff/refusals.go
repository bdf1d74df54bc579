package staff

import (
	"strings"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/workflows/request"
)

// The workflow is the authority on what a request's state allows: its
// validators refuse an action with a reason in English (for the audit log
// and the JSON API). The desk words the refusals an officer meets every day
// in the page's language; any other reason is shown as the workflow gave it.

// refusals are the common refusals: a phrase of the workflow's reason
// (workflows/updates.go, workflows/corrections.go) and the catalogue key
// that words it. The first that matches wins.
var refusals = []struct{ phrase, key string }{
	{"nothing more can be done with it", "staff.refusal.closed"},
	{"a decision is waiting for confirmation", "staff.refusal.awaiting_confirmation"},
	{"once attendance is recorded", "staff.refusal.not_attended"},
	{"needs the applicant's attendance first", "staff.refusal.not_attended"},
	{"the appointment has not started yet", "staff.actions.no_show_later"},
	{"confirmed by someone other than the officer who proposed it", "staff.refusal.own_proposal"},
}

// refusalKey is the catalogue key of a refusal the desk words itself, or ""
// when the workflow's own reason is to be shown.
func refusalKey(refused *request.RefusedError) string {
	if refused.Closed { // the workflow has ended
		return "staff.refusal.closed"
	}
	for _, r := range refusals {
		if strings.Contains(refused.Reason, r.phrase) {
			return r.key
		}
	}
	return ""
}

// refusalWords is the workflow's refusal of an action on request r, in the
// page's language where the desk knows its words; the request's status is
// named as the page names it.
func refusalWords(pg *web.Page, r Detail, refused *request.RefusedError) string {
	key := refusalKey(refused)
	if key == "" {
		return pg.T("request.refused", web.Literal(refused.Reason))
	}
	return pg.T(key, pg.T("status."+r.Status))
}

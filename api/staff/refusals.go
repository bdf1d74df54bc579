package staff

import (
	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/workflows/request"
)

// The workflow is the authority on what a request's state allows: its
// validators refuse an action with a reason in English (for the audit log
// and the JSON API) and, for the refusals an officer meets every day, the
// rule it is under (request.Rule), which the desk words in the page's
// language; any other reason is shown as the workflow gave it.

// refusals are the catalogue keys of the rules the desk words itself.
var refusals = map[request.Rule]string{
	request.RuleClosed:               "staff.refusal.closed",
	request.RuleAwaitingConfirmation: "staff.refusal.awaiting_confirmation",
	request.RuleNotAttended:          "staff.refusal.not_attended",
	request.RuleNotYetDue:            "staff.actions.no_show_later",
	request.RuleOwnProposal:          "staff.refusal.own_proposal",
}

// refusalKey is the catalogue key of a refusal the desk words itself, or ""
// when the workflow's own reason is to be shown.
func refusalKey(refused *request.RefusedError) string {
	if refused.Closed { // the workflow has ended
		return "staff.refusal.closed"
	}
	return refusals[refused.Broken.Rule]
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

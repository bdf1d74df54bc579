package staffpolicy

import "testing"

func TestOfficersProposeDecisionsAndCannotConfirmOrWithdraw(t *testing.T) {
	for _, c := range []struct {
		role   string
		action Action
		want   Permission
	}{
		{Officer, Attend, Allowed},
		{Officer, Decide, Proposed},
		{Officer, Confirm, Refused},
		{Officer, Withdraw, Refused},
		{Supervisor, Decide, Allowed},
		{Supervisor, Confirm, Allowed},
		{Supervisor, Withdraw, Allowed},
		{Admin, Withdraw, Allowed},
		{"", Attend, Refused},
		{"api_client", Book, Refused},
		{Admin, Action("delete_everything"), Refused},
	} {
		if got := May(c.role, c.action); got != c.want {
			t.Errorf("May(%q, %s) = %s, want %s", c.role, c.action, got, c.want)
		}
	}
}

func TestEveryActionHasARule(t *testing.T) {
	for _, a := range Actions {
		if _, ok := table[a]; !ok {
			t.Errorf("%s has no rule", a)
		}
	}
	if len(table) != len(Actions) {
		t.Errorf("%d rules for %d actions", len(table), len(Actions))
	}
}

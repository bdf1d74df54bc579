package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/apiclients"
)

// APIClient registers an API client for missions (every test mission when
// none is named) on db, at a rate no test reaches, and returns its token:
// POST /api/v1/requests takes no anonymous submission.
func APIClient(t testing.TB, db apiclients.DB, missions ...string) string {
	t.Helper()
	if len(missions) == 0 {
		rows, err := db.Query(context.Background(), "SELECT code FROM missions ORDER BY code")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var code string
			_ = rows.Scan(&code)
			missions = append(missions, code)
		}
		rows.Close()
	}
	name := fmt.Sprintf("test %s %d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	_, token, err := apiclients.Create(context.Background(), db, apiclients.Spec{Name: name, Missions: missions, PerHour: apiclients.MaxPerHour})
	if err != nil {
		t.Fatalf("register an API client: %v", err)
	}
	return token
}

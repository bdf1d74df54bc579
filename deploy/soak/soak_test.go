package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/documents"
)

// The documents of one submission differ from every other's by a JPEG
// comment: they still pass the documents rule, and the SHA-256 the client
// notes is the one the API computes.
func TestUniqueDocumentsPassTheRuleAndDiffer(t *testing.T) {
	docs, err := loadkit.Documents(1)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := &submission{n: 1, who: loadkit.Applicant{NationalID: "0013542419"}}, &submission{n: 2, who: loadkit.Applicant{NationalID: "0013542419"}}
	if _, _, err := s1.body(docs, "run"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.body(docs, "run"); err != nil {
		t.Fatal(err)
	}
	for i, kind := range loadkit.DocumentKinds {
		doc := loadkit.Unique(docs[i], "consular soak run submission 1 "+kind)
		checked, _, err := documents.Check(kind+".jpg", bytes.NewReader(doc), documents.DefaultRule)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		sum := sha256.Sum256(doc)
		if checked.SHA256 != hex.EncodeToString(sum[:]) || checked.SHA256 != s1.docs[i].sha256 {
			t.Errorf("%s: the API would record %s, the client noted %s", kind, checked.SHA256, s1.docs[i].sha256)
		}
		if s1.docs[i].sha256 == s2.docs[i].sha256 {
			t.Errorf("%s: two submissions sent the same bytes", kind)
		}
	}
}

func TestRetriesOnlyWhatARetryCanFix(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{{0, true}, {500, true}, {503, true}, {429, true}, {201, false}, {200, false}, {400, false}, {422, false}} {
		if got := (attempt{status: tc.status}).retryable(); got != tc.retry {
			t.Errorf("status %d: retryable %v, want %v", tc.status, got, tc.retry)
		}
	}
}

// t0 plus seconds.
func at(t0 time.Time, s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func answers(t0 time.Time, from, to, every float64, status int, down ...string) []sample {
	var out []sample
	for s := from; s < to; s += every {
		out = append(out, sample{start: at(t0, s), end: at(t0, s+0.05), status: status, down: down})
	}
	return out
}

func TestReadyzOutageAnalysis(t *testing.T) {
	t0 := time.Now()
	w := outageWindow{check: "minio", code: 200, stopAt: at(t0, 10), stoppedAt: at(t0, 10.5), readyAt: at(t0, 40), next: at(t0, 60)}
	join := func(parts ...[]sample) []sample {
		var out []sample
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name     string
		samples  []sample
		ok       bool
		firstAt  float64 // seconds, 0: never
		recovers bool
	}{
		{"named while down, ready after", join(answers(t0, 0, 10.8, 0.25, 200), answers(t0, 10.8, 40.2, 0.25, 200, "minio"), answers(t0, 40.2, 70, 0.25, 200)),
			true, 10.85, true},
		{"named with the wrong code", join(answers(t0, 0, 10.8, 0.25, 200), answers(t0, 10.8, 40.2, 0.25, 503, "minio"), answers(t0, 40.2, 70, 0.25, 200)),
			false, 0, true},
		{"never named", answers(t0, 0, 70, 0.25, 200), false, 0, true},
		{"ready from the cache just after the stop, then named", join(answers(t0, 0, 12.4, 0.25, 200), answers(t0, 12.4, 40.2, 0.25, 200, "minio"), answers(t0, 40.2, 70, 0.25, 200)),
			true, 12.45, true},
		{"another dependency named too", join(answers(t0, 0, 10.8, 0.25, 200), answers(t0, 10.8, 40.2, 0.25, 200, "minio", "smtp"), answers(t0, 40.2, 70, 0.25, 200)),
			false, 10.85, true},
		{"ready for a while although down", join(answers(t0, 0, 10.8, 0.25, 200), answers(t0, 10.8, 20, 0.25, 200, "minio"), answers(t0, 20, 70, 0.25, 200)),
			false, 10.85, true},
		{"not ready again before the next fault", join(answers(t0, 0, 10.8, 0.25, 200), answers(t0, 10.8, 70, 0.25, 200, "minio")),
			false, 10.85, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := seen(tc.samples, w)
			if o.ok() != tc.ok {
				t.Errorf("ok %v, want %v (%+v)", o.ok(), tc.ok, o)
			}
			if tc.firstAt == 0 && !o.firstSeen.IsZero() || tc.firstAt != 0 && !o.firstSeen.Equal(at(t0, tc.firstAt)) {
				t.Errorf("first seen %v, want +%.2fs", o.firstSeen.Sub(t0), tc.firstAt)
			}
			if o.recovered.IsZero() == tc.recovers {
				t.Errorf("recovered at %v, want recovered %v", o.recovered, tc.recovers)
			}
		})
	}
}

func TestTransitionsKeepOnlyChanges(t *testing.T) {
	t0 := time.Now()
	s := append(answers(t0, 0, 1, 0.25, 200), answers(t0, 1, 2, 0.25, 503, "smtp")...)
	s = append(s, sample{start: at(t0, 2), end: at(t0, 2.1), err: "connection refused"})
	s = append(s, answers(t0, 3, 4, 0.25, 200)...)
	var got []string
	for _, tr := range transitions(s) {
		got = append(got, tr.state)
	}
	want := []string{"200", "503 naming smtp", "no answer", "200"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// The faults come one after the other, and the submissions are spread to
// the planned end of the last one, so some are in flight during each. On
// the production-shaped stack they are PostgreSQL (503, naming postgres and
// perhaps temporal, whose persistence it holds), the history service, then
// the rolling restart, during which nothing should be named.
func TestSubmissionsCoverEveryFault(t *testing.T) {
	o := options{lead: 10 * time.Second, outage: 30 * time.Second, gap: 15 * time.Second, temporalDown: 15 * time.Second}
	for _, tc := range []struct {
		rig    *rig
		checks string
	}{
		{&rig{}, "smtp,minio,temporal"},
		{&rig{cluster: true, apis: make([]stack.Replica, 2), workers: make([]stack.Replica, 3)}, "postgres,temporal,"},
	} {
		faults := tc.rig.faults(o, &mailCheck{})
		window := submissionWindow(faults, 10*time.Second)
		var checks []string
		for i, f := range faults {
			if f.at+f.down+f.starting >= window {
				t.Errorf("%s is due back at %s, after the last submission at %s", f.name, f.at+f.down+f.starting, window)
			}
			if i > 0 && f.at < faults[i-1].at+faults[i-1].down+faults[i-1].starting+o.gap {
				t.Errorf("%s starts at %s, before %s is due back and a gap has passed", f.name, f.at, faults[i-1].name)
			}
			checks = append(checks, f.check)
		}
		if strings.Join(checks, ",") != tc.checks {
			t.Errorf("faults name the checks %v, want %s", checks, tc.checks)
		}
		if tc.rig.cluster && (faults[0].code != http.StatusServiceUnavailable || !slices.Equal(faults[0].also, []string{"temporal"})) {
			t.Errorf("PostgreSQL's fault expects %d naming %s and %v", faults[0].code, faults[0].check, faults[0].also)
		}
	}
}

// During a rolling restart nothing /readyz checks is down: any answer but
// 200 naming nothing (a 502 from the proxy, no answer) fails it. During
// PostgreSQL's outage, temporal may be named beside postgres.
func TestReadyzDuringRollingRestartAndPostgresOutage(t *testing.T) {
	t0 := time.Now()
	rolling := outageWindow{code: 200, stopAt: at(t0, 10), stoppedAt: at(t0, 10), readyAt: at(t0, 40)}
	if o := seen(answers(t0, 0, 50, 0.25, 200), rolling); !o.ok() || o.inWindow == 0 {
		t.Errorf("200 throughout: %+v, want ok", o)
	}
	bad := append(answers(t0, 0, 20, 0.25, 200), sample{start: at(t0, 20), end: at(t0, 20.1), status: 502})
	bad = append(bad, answers(t0, 20.25, 50, 0.25, 200)...)
	if o := seen(bad, rolling); o.ok() || !slices.Equal(o.others, []string{"502"}) {
		t.Errorf("one 502 from the proxy: %+v, want not ok, naming 502", o)
	}
	pg := outageWindow{check: "postgres", also: []string{"temporal"}, code: 503, stopAt: at(t0, 10), stoppedAt: at(t0, 10.5), readyAt: at(t0, 40)}
	both := append(append(answers(t0, 0, 10.8, 0.25, 200), answers(t0, 10.8, 40.2, 0.25, 503, "postgres", "temporal")...), answers(t0, 40.2, 70, 0.25, 200)...)
	if o := seen(both, pg); !o.ok() {
		t.Errorf("postgres and temporal named: %+v, want ok", o)
	}
	pg.also = nil
	if o := seen(both, pg); o.ok() {
		t.Errorf("temporal named though not allowed: %+v, want not ok", o)
	}
}

func TestAttemptOutcomes(t *testing.T) {
	for status, want := range map[int]string{201: outcomeAccepted, 200: outcomeAccepted, 422: outcomeRefused, 429: outcomeRefused,
		503: outcomeRefused, 0: outcomeFailed, 500: outcomeFailed, 502: outcomeFailed, 504: outcomeFailed} {
		if got := (attempt{status: status}).outcome(); got != want {
			t.Errorf("%d: %s, want %s", status, got, want)
		}
	}
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/deploy/loadkit"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
)

// check is one verdict of the report.
type check struct {
	name   string
	pass   bool
	detail string   // the numbers behind the verdict
	items  []string // what failed, one per line (the first few are printed)
}

// expected is the state every request should reach: its documents were
// valid, so the workflow validated them, issued the receipt, moved to
// awaiting_appointment (the projection) and sent the receipt email (recorded
// in sent_mail), and now waits for a booking with no activity pending.
const expected = consular.StatusAwaitingAppointment

// drain waits, at most limit, until every request has settled: in the
// expected state in PostgreSQL with its receipt recorded as sent, or in a
// final state it will not leave (the checks then fail it). Then it waits
// until Temporal shows none of the running workflows with an activity still
// pending (a completion lost in the Temporal restart is retried after its
// timeout, and the retry must find the email sent). It returns the requests
// not settled when it gave up.
func drain(ctx context.Context, db *pgxpool.Pool, tc client.Client, codes []string, limit time.Duration) ([]string, error) {
	deadline := time.Now().Add(limit)
	for {
		states, err := requestStates(ctx, db, codes)
		if err != nil {
			return nil, err
		}
		var unsettled []string
		for _, st := range states {
			if !st.settled() {
				unsettled = append(unsettled, st.String())
			}
		}
		if len(unsettled) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return unsettled, nil
		}
		sleepUntil(ctx, time.Now().Add(time.Second))
	}
	pending := codes
	for {
		var still []string
		for _, d := range describeAll(ctx, tc, pending) {
			if d.err != nil || d.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && d.pending > 0 {
				still = append(still, d.code)
			}
		}
		if len(still) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return still, nil
		}
		pending = still
		sleepUntil(ctx, time.Now().Add(2*time.Second))
	}
}

// requestState is a request as PostgreSQL shows it.
type requestState struct {
	code        string
	status      consular.Status // empty when the projection has no row
	receiptSent bool
}

func (st requestState) settled() bool {
	return st.status == expected && st.receiptSent || st.status.Final()
}

func (st requestState) String() string {
	status := string(st.status)
	if status == "" {
		status = "(no projection)"
	}
	return fmt.Sprintf("%s: %s, receipt recorded as sent: %v", st.code, status, st.receiptSent)
}

func requestStates(ctx context.Context, db *pgxpool.Pool, codes []string) ([]requestState, error) {
	rows, err := db.Query(ctx, `SELECT c, COALESCE(r.status, ''),
			EXISTS (SELECT 1 FROM sent_mail m WHERE m.tracking_code = c AND m.kind = $2)
		FROM unnest($1::text[]) WITH ORDINALITY AS u(c, i) LEFT JOIN requests r ON r.tracking_code = c ORDER BY i`, codes, string(activities.MailReceipt))
	if err != nil {
		return nil, fmt.Errorf("read the requests' states: %w", err)
	}
	defer rows.Close()
	var out []requestState
	for rows.Next() {
		var st requestState
		var status string
		if err := rows.Scan(&st.code, &status, &st.receiptSent); err != nil {
			return nil, err
		}
		st.status = consular.Status(status)
		out = append(out, st)
	}
	return out, rows.Err()
}

// described is one workflow as Temporal shows it.
type described struct {
	code        string
	status      enumspb.WorkflowExecutionStatus
	pending     int    // activities still pending
	pendingInfo string // the first one: type, attempt, last failure
	err         error
}

// describeAll describes the workflows, eight at a time.
func describeAll(ctx context.Context, tc client.Client, codes []string) []described {
	out := make([]described, len(codes))
	loadkit.Each(8, len(codes), func(i int) {
		out[i] = described{code: codes[i]}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err := tc.DescribeWorkflowExecution(cctx, codes[i], "")
		if out[i].err = err; err != nil {
			return
		}
		out[i].status, out[i].pending = resp.GetWorkflowExecutionInfo().GetStatus(), len(resp.GetPendingActivities())
		if out[i].pending > 0 {
			a := resp.GetPendingActivities()[0]
			out[i].pendingInfo = fmt.Sprintf("%s attempt %d: %s", a.GetActivityType().GetName(), a.GetAttempt(), a.GetLastFailure().GetMessage())
		}
	})
	return out
}

// verifier runs the checks after the drain.
type verifier struct {
	db        *pgxpool.Pool
	temporal  client.Client
	namespace string
	objects   *minio.Client
	documents string // bucket
	receipts  string // bucket
	mail      *loadkit.Mailpit
	subs      []*submission
}

// accepted are the submissions that got a tracking code.
func accepted(subs []*submission) []*submission {
	var out []*submission
	for _, s := range subs {
		if s.code != "" {
			out = append(out, s)
		}
	}
	return out
}

func codesOf(subs []*submission) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.code)
	}
	return out
}

func (v *verifier) submissions() check {
	c := check{name: "every submission accepted, each with its own tracking code"}
	seen := map[string]int{}
	for _, s := range v.subs {
		if s.code == "" {
			c.items = append(c.items, fmt.Sprintf("submission %d (%s): %s", s.n, s.key, s.failure))
			continue
		}
		seen[s.code]++
	}
	for code, n := range seen {
		if n > 1 {
			c.items = append(c.items, fmt.Sprintf("tracking code %s given to %d submissions", code, n))
		}
	}
	sort.Strings(c.items)
	c.pass = len(c.items) == 0
	c.detail = fmt.Sprintf("%d of %d accepted, %d distinct tracking codes", len(accepted(v.subs)), len(v.subs), len(seen))
	return c
}

func (v *verifier) projection(ctx context.Context) check {
	c := check{name: "every request " + string(expected) + " in the projection (requests.status)"}
	subs := accepted(v.subs)
	states, err := requestStates(ctx, v.db, codesOf(subs))
	if err != nil {
		c.detail = err.Error()
		return c
	}
	counts := map[string]int{}
	for i, st := range states { // in the order of the codes asked for
		counts[string(st.status)]++
		if st.status != expected {
			c.items = append(c.items, fmt.Sprintf("%s (submission %d, its attempts answered: %s)", st, subs[i].n, subs[i].answers()))
		}
	}
	c.pass = len(c.items) == 0 && counts[string(expected)] == len(subs)
	c.detail = fmt.Sprintf("%v", counts)
	return c
}

func (v *verifier) workflows(ctx context.Context) check {
	c := check{name: "every workflow running, none failed, terminated or timed out, no activity pending"}
	subs := accepted(v.subs)
	statuses := map[string]int{}
	for _, d := range describeAll(ctx, v.temporal, codesOf(subs)) {
		switch {
		case d.err != nil:
			statuses["describe failed"]++
			c.items = append(c.items, d.code+": "+d.err.Error())
		case d.status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			statuses[d.status.String()]++
			c.items = append(c.items, d.code+": "+d.status.String())
		case d.pending > 0:
			statuses["Running, activity pending"]++
			c.items = append(c.items, d.code+": "+d.pendingInfo)
		default:
			statuses["Running"]++
		}
	}
	// The namespace as a whole: no closed workflow at all, and one per request.
	closed, errClosed := v.list(ctx, "ExecutionStatus != 'Running'")
	all, errAll := v.list(ctx, "WorkflowType = 'Request'")
	if errClosed != nil || errAll != nil {
		c.items = append(c.items, fmt.Sprintf("list workflows: %v %v", errClosed, errAll))
	}
	for _, id := range closed {
		c.items = append(c.items, "closed in the namespace: "+id)
	}
	c.pass = len(c.items) == 0 && statuses["Running"] == len(subs) && len(all) == len(subs)
	c.detail = fmt.Sprintf("%v; namespace: %d request workflows, %d closed", statuses, len(all), len(closed))
	return c
}

// list returns "workflowID status" of the workflows matching a visibility query.
func (v *verifier) list(ctx context.Context, query string) ([]string, error) {
	var out []string
	var token []byte
	for {
		resp, err := v.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: v.namespace, Query: query, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return out, err
		}
		for _, e := range resp.GetExecutions() {
			out = append(out, e.GetExecution().GetWorkflowId()+" "+e.GetStatus().String())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// receiptSubject is how the receipt email's subject names the request
// (activities/letters.go, English half).
func receiptSubject(code string) string { return "Receipt for request " + code }

func (v *verifier) mails(ctx context.Context) check {
	c := check{name: "exactly one receipt email per request in Mailpit, and no other email"}
	subs := accepted(v.subs)
	msgs, err := v.mail.All(ctx)
	if err != nil {
		c.detail = err.Error()
		return c
	}
	byRecipient := map[string][]loadkit.Mail{}
	for _, m := range msgs {
		for _, to := range m.To {
			byRecipient[strings.ToLower(to.Address)] = append(byRecipient[strings.ToLower(to.Address)], m)
		}
	}
	counts := map[int]int{} // receipts per request -> requests
	for _, s := range subs {
		got := byRecipient[strings.ToLower(s.who.Email)]
		receipts, ids := 0, map[string]bool{}
		for _, m := range got {
			if strings.Contains(m.Subject, receiptSubject(s.code)) {
				receipts++
				ids[m.MessageID] = true
			}
		}
		// And as the brief asks: search Mailpit for the tracking code itself.
		found, _, err := v.mail.Search(ctx, `"`+s.code+`"`)
		if err != nil {
			c.items = append(c.items, s.code+": search: "+err.Error())
			continue
		}
		counts[receipts]++
		if receipts != 1 || len(got) != 1 || found != 1 {
			c.items = append(c.items, fmt.Sprintf("%s (%s): %d receipt(s) (%d distinct Message-IDs), %d email(s) to the applicant, %d found by searching the tracking code",
				s.code, s.who.Email, receipts, len(ids), len(got), found))
		}
	}
	c.pass = len(c.items) == 0 && len(msgs) == len(subs)
	c.detail = fmt.Sprintf("%d emails in Mailpit for %d requests; requests by number of receipts: %v", len(msgs), len(subs), counts)
	return c
}

func (v *verifier) sentMail(ctx context.Context) check {
	c := check{name: "one receipt recorded as sent per request (sent_mail), nothing else sent"}
	subs := accepted(v.subs)
	rows, err := v.db.Query(ctx, `SELECT tracking_code, kind, count(*) FROM sent_mail WHERE tracking_code = ANY($1)
		GROUP BY tracking_code, kind`, codesOf(subs))
	if err != nil {
		c.detail = err.Error()
		return c
	}
	defer rows.Close()
	receipts := 0
	for rows.Next() {
		var code, kind string
		var n int
		if err := rows.Scan(&code, &kind, &n); err != nil {
			c.detail = err.Error()
			return c
		}
		if kind == string(activities.MailReceipt) && n == 1 {
			receipts++
		} else {
			c.items = append(c.items, fmt.Sprintf("%s: %d x %s", code, n, kind))
		}
	}
	if err := rows.Err(); err != nil {
		c.detail = err.Error()
		return c
	}
	c.pass = len(c.items) == 0 && receipts == len(subs)
	c.detail = fmt.Sprintf("%d receipts recorded for %d requests", receipts, len(subs))
	return c
}

// documentsKept checks every document the clients sent: the request lists
// it (request_documents) with the SHA-256 the client computed, and the
// object it names in MinIO has exactly those bytes; no other object sits
// under the request's prefix; the receipt PDF is there.
func (v *verifier) documentsKept(ctx context.Context) check {
	c := check{name: "every document of every request in MinIO, byte for byte, and its receipt PDF"}
	subs := accepted(v.subs)
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		c.items = append(c.items, fmt.Sprintf(format, args...))
	}
	var checked atomic.Int64
	loadkit.Each(8, len(subs), func(i int) {
		s := subs[i]
		stored := map[string][2]string{} // kind -> object key, sha256
		rows, _ := v.db.Query(ctx, `SELECT kind, object_key, sha256 FROM request_documents WHERE tracking_code = $1`, s.code)
		var kind, key, sum string
		_, err := pgx.ForEachRow(rows, []any{&kind, &key, &sum}, func() error { stored[kind] = [2]string{key, sum}; return nil })
		if err != nil {
			fail("%s: %v", s.code, err)
			return
		}
		for _, d := range s.docs {
			rec := stored[d.kind]
			if got, err := v.objectSHA(ctx, v.documents, rec[0]); err != nil || rec[1] != d.sha256 || got != d.sha256 {
				fail("%s: %s recorded as %q with SHA-256 %.12s, object's %.12s (%v); the client sent %.12s", s.code, d.kind, rec[0], rec[1], got, err, d.sha256)
				continue
			}
			checked.Add(1)
		}
		n := 0
		for obj := range v.objects.ListObjects(ctx, v.documents, minio.ListObjectsOptions{Prefix: s.code + "/", Recursive: true}) {
			if obj.Err != nil {
				fail("%s: list: %v", s.code, obj.Err)
				break
			}
			n++
		}
		if n != len(s.docs) {
			fail("%s: %d objects under %s/, want %d (submission %d, its attempts answered: %s)", s.code, n, s.code, len(s.docs), s.n, s.answers())
		}
		if _, err := v.objects.StatObject(ctx, v.receipts, storage.ReceiptKey(s.code), minio.StatObjectOptions{}); err != nil {
			fail("%s: receipt PDF: %v", s.code, err)
		}
	})
	sort.Strings(c.items)
	want := len(subs) * len(loadkit.DocumentKinds)
	c.pass = len(c.items) == 0 && int(checked.Load()) == want
	c.detail = fmt.Sprintf("%d of %d documents match the bytes sent", checked.Load(), want)
	return c
}

func (v *verifier) objectSHA(ctx context.Context, bucket, key string) (string, error) {
	obj, err := v.objects.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// mailCheck is what Mailpit held just before its stop, and how many of
// those messages were still there once it was back (its SQLite file is kept).
type mailCheck struct {
	mail *loadkit.Mailpit
	held map[string]bool
	kept int
	done bool
}

func (m *mailCheck) before(ctx context.Context) error {
	msgs, err := m.mail.All(ctx)
	if err != nil {
		return fmt.Errorf("list Mailpit's messages before the stop: %w", err)
	}
	m.held = map[string]bool{}
	for _, msg := range msgs {
		m.held[msg.ID] = true
	}
	return nil
}

func (m *mailCheck) after(ctx context.Context) error {
	msgs, err := m.mail.All(ctx)
	if err != nil {
		return fmt.Errorf("list Mailpit's messages after the restart: %w", err)
	}
	for _, msg := range msgs {
		if m.held[msg.ID] {
			m.kept++
		}
	}
	m.done = true
	return nil
}

func (m *mailCheck) check() check {
	c := check{name: "Mailpit kept the messages it held across its restart (SQLite file)", pass: m.done && m.kept == len(m.held)}
	c.detail = fmt.Sprintf("%d of %d kept", m.kept, len(m.held))
	return c
}

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/workflows/request"
)

// step is one event of a booking Update's history, from UpdateAccepted to
// UpdateCompleted, and how long after the previous event it came.
type step struct {
	name string // the event type, with the activity's name for activity events
	took time.Duration
}

// bookingSteps reads a booked request's history and returns what happened
// from the client's call to its answer: before the Update was accepted
// (HTTP, lookup, seat, the Update's workflow task), each event of the
// Update, and from its completion to the client's answer. It reads
// whatever the workflow does now, and fails when the history holds no
// booking Update, rather than report nothing.
func bookingSteps(ctx context.Context, c client.Client, b booked) ([]step, error) {
	it := c.GetWorkflowHistory(ctx, b.code, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", b.code, err)
		}
		events = append(events, e)
	}
	activities := map[int64]string{} // scheduled event ID -> activity type
	var out []step
	var updateID string
	var last time.Time
	for _, e := range events {
		at := e.GetEventTime().AsTime()
		name := strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_")
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			req := e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
			if updateID != "" || req.GetInput().GetName() != request.UpdateBookAppointment {
				continue
			}
			updateID = req.GetMeta().GetUpdateId()
			out = append(out, step{"client call to " + name, at.Sub(b.sent)})
			last = at
			continue
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activities[e.GetEventId()] = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			name += " " + activities[e.GetEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			name += " " + activities[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			name += " " + activities[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
		case enumspb.EVENT_TYPE_MARKER_RECORDED: // a local activity, or a version marker
			name += " " + e.GetMarkerRecordedEventAttributes().GetMarkerName()
		}
		if updateID == "" {
			continue
		}
		out = append(out, step{name, at.Sub(last)})
		last = at
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED &&
			e.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId() == updateID {
			return append(out, step{"UpdateCompleted to the client's answer", b.done.Sub(at)}), nil
		}
	}
	return nil, fmt.Errorf("history of %s (%d events): no completed %s Update", b.code, len(events), request.UpdateBookAppointment)
}

// medianSteps reads up to k bookings' histories and returns each step's
// median, in the order of the first booking's steps. Any history that does
// not read is an error: a table of zeros would say nothing.
func medianSteps(ctx context.Context, c client.Client, sample []booked, k int) ([]step, int, error) {
	took := map[string][]time.Duration{}
	var order []string
	for _, b := range sample[:min(k, len(sample))] {
		steps, err := bookingSteps(ctx, c, b)
		if err != nil {
			return nil, 0, err
		}
		seen := map[string]int{}
		for _, s := range steps {
			seen[s.name]++
			key := s.name
			if seen[s.name] > 1 {
				key = fmt.Sprintf("%s (%d)", s.name, seen[s.name])
			}
			if _, ok := took[key]; !ok {
				order = append(order, key)
			}
			took[key] = append(took[key], s.took)
		}
	}
	if len(order) == 0 {
		return nil, 0, fmt.Errorf("no booking to read the history of")
	}
	out := make([]step, len(order))
	for i, key := range order {
		slices.Sort(took[key])
		out[i] = step{key, pct(took[key], 0.5)}
	}
	return out, min(k, len(sample)), nil
}

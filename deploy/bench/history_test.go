package main

import (
	"context"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/openconsular/consular/workflows/request"
)

// history is a client that knows one workflow history.
type history struct {
	client.Client
	events []*historypb.HistoryEvent
}

func (h *history) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return h
}
func (h *history) HasNext() bool { return len(h.events) > 0 }
func (h *history) Next() (*historypb.HistoryEvent, error) {
	e := h.events[0]
	h.events = h.events[1:]
	return e, nil
}

// event is an event of type t at t0 + ms milliseconds, set up by attrs.
func event(t0 time.Time, ms int, t enumspb.EventType, id int64, attrs func(*historypb.HistoryEvent)) *historypb.HistoryEvent {
	e := &historypb.HistoryEvent{EventId: id, EventType: t, EventTime: timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))}
	if attrs != nil {
		attrs(e)
	}
	return e
}

func bookingHistory(t0 time.Time, update string) []*historypb.HistoryEvent {
	meta := &updatepb.Meta{UpdateId: "u1"}
	return []*historypb.HistoryEvent{
		event(t0, 0, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 1, nil),
		event(t0, 20, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 5, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{
				AcceptedRequest: &updatepb.Request{Meta: meta, Input: &updatepb.Input{Name: update}}}}
		}),
		event(t0, 21, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 6, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
				ActivityType: &commonpb.ActivityType{Name: "Record"}}}
		}),
		event(t0, 31, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, 7, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{ScheduledEventId: 6}}
		}),
		event(t0, 36, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, 8, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionUpdateCompletedEventAttributes{WorkflowExecutionUpdateCompletedEventAttributes: &historypb.WorkflowExecutionUpdateCompletedEventAttributes{Meta: meta}}
		}),
	}
}

func TestBookingStepsReadTheBookingUpdatesEvents(t *testing.T) {
	t0 := time.Now()
	b := booked{code: "x", sent: t0.Add(-5 * time.Millisecond), done: t0.Add(40 * time.Millisecond)}
	steps, err := bookingSteps(context.Background(), &history{events: bookingHistory(t0, request.UpdateBookAppointment)}, b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.name+"="+s.took.String())
	}
	want := "client call to WorkflowExecutionUpdateAccepted=25ms ActivityTaskScheduled Record=1ms ActivityTaskStarted Record=10ms " +
		"WorkflowExecutionUpdateCompleted=5ms UpdateCompleted to the client's answer=4ms"
	if strings.Join(got, " ") != want {
		t.Errorf("steps\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// A history without a booking Update is an error, never a row of zeros.
func TestBookingStepsRefuseAHistoryWithoutABooking(t *testing.T) {
	t0 := time.Now()
	_, err := bookingSteps(context.Background(), &history{events: bookingHistory(t0, request.UpdateCancelAppointment)}, booked{code: "x", sent: t0})
	if err == nil || !strings.Contains(err.Error(), "no completed "+request.UpdateBookAppointment) {
		t.Fatalf("err = %v, want no completed booking", err)
	}
	if _, _, err := medianSteps(context.Background(), &history{}, nil, 20); err == nil {
		t.Fatal("no bookings read, and no error")
	}
}

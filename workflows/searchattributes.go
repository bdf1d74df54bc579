package workflows

import "go.temporal.io/sdk/temporal"

// Search attributes the request workflow upserts on every transition, so
// operators can list requests in the Temporal Web UI by status, mission,
// service, deadline and appointment. They carry codes and dates only, never
// personal data: Temporal stores them unencrypted.
var (
	StatusAttribute      = temporal.NewSearchAttributeKeyKeyword("RequestStatus")
	MissionAttribute     = temporal.NewSearchAttributeKeyKeyword("MissionCode")
	ServiceAttribute     = temporal.NewSearchAttributeKeyKeyword("ServiceCode")
	DeadlineAttribute    = temporal.NewSearchAttributeKeyTime("RequestDeadline")
	AppointmentAttribute = temporal.NewSearchAttributeKeyTime("AppointmentAt")
)

// SearchAttributes lists every custom attribute the Temporal server must have
// registered; the dev and test stacks register exactly these.
var SearchAttributes = []temporal.SearchAttributeKey{
	StatusAttribute, MissionAttribute, ServiceAttribute, DeadlineAttribute, AppointmentAttribute,
}

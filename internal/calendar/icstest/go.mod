module github.com/openconsular/consular/internal/calendar/icstest

go 1.26.0

require (
	github.com/emersion/go-ical v0.0.0-20250329121855-f41e73efc392
	github.com/openconsular/consular v0.0.0
)

require github.com/teambition/rrule-go v1.8.2 // indirect

replace github.com/openconsular/consular => ../../..

// Package icstest parses the files internal/calendar writes with a real
// iCalendar parser (github.com/emersion/go-ical) and evaluates their
// VTIMEZONE rules. It is a module of its own so that the parser stays out of
// the main module's dependencies; run it with
//
//	cd internal/calendar/icstest && go test ./...
package icstest

// Package calendar writes the iCalendar (RFC 5545) attachment of an
// appointment email: one VEVENT in the mission's own time zone, with the
// VTIMEZONE that defines that zone, so a calendar app shows a 09:30 Tokyo
// appointment at 09:30 Tokyo time wherever the applicant lives.
//
// It owns only the file format; what the email says and when it is sent are
// decided elsewhere.
package calendar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ProdID names this system in every file it writes (RFC 5545 3.7.3).
const ProdID = "-//OpenConsular//Consular Appointments//EN"

// Event is one appointment at a mission.
type Event struct {
	// UID is stable for the appointment (e.g. "<tracking-code>-<n>@consular.example"):
	// a calendar replaces the event it holds under this UID when a file with a
	// higher Sequence arrives, which is how a reschedule or cancellation lands.
	UID      string
	Sequence int
	// Start and End are instants; they are written in Location's wall clock.
	Start, End time.Time
	// Location is the mission's IANA zone (e.g. Asia/Tokyo).
	Location    *time.Location
	Summary     string
	Description string
	// Place is the mission's name and address.
	Place string
	// Organizer is a mail address, with or without "mailto:"; optional, but
	// Outlook and Gmail only offer to update or remove an event from an
	// invitation whose ORGANIZER matches the one they stored.
	Organizer string
	// Cancelled writes METHOD:CANCEL and STATUS:CANCELLED; send it with the
	// same UID and a higher Sequence than the booking it cancels.
	Cancelled bool
	// Stamp is DTSTAMP, when this version of the event was made; the current
	// time when zero.
	Stamp time.Time
}

// Method is the iTIP method of e's file, REQUEST or CANCEL.
func (e Event) Method() string {
	if e.Cancelled {
		return "CANCEL"
	}
	return "REQUEST"
}

// ContentType is the MIME type for the attachment. Outlook and Gmail look for
// the method parameter before they treat the part as an invitation.
func (e Event) ContentType() string {
	return "text/calendar; charset=UTF-8; method=" + e.Method()
}

// Bytes returns the whole file.
func Bytes(e Event) ([]byte, error) {
	var b bytes.Buffer
	if err := Write(&b, e); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes e as a VCALENDAR to w. Nothing is written when e is invalid.
func Write(w io.Writer, e Event) error {
	if err := e.validate(); err != nil {
		return fmt.Errorf("calendar event %q: %w", e.UID, err)
	}
	stamp := e.Stamp
	if stamp.IsZero() {
		stamp = time.Now()
	}
	tzid := e.Location.String()
	local := func(t time.Time) string { return t.In(e.Location).Format(localFormat) }

	var b contentWriter
	b.line("BEGIN:VCALENDAR")
	b.line("PRODID:" + ProdID)
	b.line("VERSION:2.0")
	b.line("CALSCALE:GREGORIAN")
	b.line("METHOD:" + e.Method())
	writeTimezone(&b, e.Location, e.Start, e.End)
	b.line("BEGIN:VEVENT")
	b.line("UID:" + escapeText(e.UID))
	b.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
	b.line("DTSTAMP:" + stamp.UTC().Format(utcFormat))
	b.line("DTSTART;TZID=" + paramValue(tzid) + ":" + local(e.Start))
	b.line("DTEND;TZID=" + paramValue(tzid) + ":" + local(e.End))
	b.line("SUMMARY:" + escapeText(e.Summary))
	if e.Description != "" {
		b.line("DESCRIPTION:" + escapeText(e.Description))
	}
	if e.Place != "" {
		b.line("LOCATION:" + escapeText(e.Place))
	}
	if e.Organizer != "" {
		b.line("ORGANIZER:" + mailto(e.Organizer))
	}
	if e.Cancelled {
		b.line("STATUS:CANCELLED")
	} else {
		b.line("STATUS:CONFIRMED")
		b.line("TRANSP:OPAQUE")
		// A day's notice leaves time to gather the documents the visit needs.
		b.line("BEGIN:VALARM")
		b.line("ACTION:DISPLAY")
		b.line("DESCRIPTION:" + escapeText(e.Summary))
		b.line("TRIGGER:-PT24H")
		b.line("END:VALARM")
	}
	b.line("END:VEVENT")
	b.line("END:VCALENDAR")

	_, err := w.Write(b.Bytes())
	return err
}

const (
	localFormat = "20060102T150405"
	utcFormat   = "20060102T150405Z"
)

func (e Event) validate() error {
	switch {
	case strings.TrimSpace(e.UID) == "":
		return errors.New("no UID")
	case e.Location == nil:
		return errors.New("no location")
	case e.Location == time.Local || e.Location.String() == "Local" || e.Location.String() == "":
		// "Local" means the server's zone, which no calendar app knows.
		return errors.New("location must be a named IANA zone")
	case e.Start.IsZero() || !e.End.After(e.Start):
		return errors.New("end must be after start")
	case e.Sequence < 0:
		return errors.New("negative sequence")
	case strings.ContainsFunc(e.Organizer, isControl) || strings.ContainsAny(e.Organizer, " \"<>"):
		return errors.New("organizer is not a plain mail address")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func mailto(addr string) string {
	if len(addr) >= 7 && strings.EqualFold(addr[:7], "mailto:") {
		return "mailto:" + addr[7:]
	}
	return "mailto:" + addr
}

// paramValue quotes a parameter value when it holds a character that would
// end the parameter; IANA names never do, but a quoted name is still valid.
func paramValue(v string) string {
	if strings.ContainsAny(v, ";:,") {
		return `"` + strings.ReplaceAll(v, `"`, "") + `"`
	}
	return v
}

// escapeText escapes a TEXT value (RFC 5545 3.3.11). Line breaks of any kind
// become \n; other control characters are not allowed in TEXT and are dropped.
func escapeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r':
			b.WriteString(`\n`)
		case '\t':
			b.WriteRune(r)
		default:
			if !isControl(r) {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// maxLine is the longest a content line may be, in octets, without its CRLF
// (RFC 5545 3.1).
const maxLine = 75

// contentWriter collects content lines, folded and CRLF-terminated.
type contentWriter struct{ bytes.Buffer }

func (w *contentWriter) line(s string) { w.WriteString(fold(s)) }

// fold splits s into lines of at most maxLine octets, each continuation
// starting with a space, and cuts only between runes: a cut inside a
// multi-byte rune (Persian is two octets a letter) leaves each line invalid
// UTF-8, which some clients reject even though unfolding would repair it.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/maxLine*3 + 2)
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 { // not UTF-8 at all: any cut is as good as another
			cut = limit
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLine - 1 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}

// Package receipt owns the paper an applicant gets after submitting a
// request: the signed verification link printed on it as a QR code, the key
// set that staff and the public verify that link against, and the one-page
// bilingual (Persian and English) PDF itself.
//
// It is pure logic: no network, no database, and no personal data. A receipt
// names a request only by its tracking code, so a lost or photographed
// receipt reveals nothing about the applicant.
package receipt

import "time"

// Receipt is what a receipt shows. Codes are the system's identifiers
// (printed and signed); the Fa and En names are for people to read.
type Receipt struct {
	TrackingCode string // e.g. 4821-7730-9152-06
	ServiceCode  string
	ServiceFa    string
	ServiceEn    string
	MissionCode  string
	MissionFa    string
	MissionEn    string
	SubmittedAt  time.Time
	DeadlineAt   time.Time // decided by the request's workflow (90 days after submission today)
	// Location is the mission's time zone, so the printed dates are the
	// ones the applicant sees on the mission's calendar; nil means UTC.
	Location *time.Location
	// Contact is how to reach the mission, printed beside the QR code. It
	// is not signed: the mission's address may change after the receipt.
	Contact Contact
}

// Contact is a mission's details as missions.json has them; an unknown one
// is empty and left off the page, and the receipt then sends the reader to
// the mission's page (Page, always printed).
type Contact struct {
	Address string
	Phone   string
	Email   string
	HoursFa string
	HoursEn string
	Page    string // the portal's page of the mission, e.g. https://…/missions/AT-VIE
}

// known reports whether any way to reach the mission is printed.
func (c Contact) known() bool { return c.Address != "" || c.Phone != "" || c.Email != "" }

// detailed reports whether anything but the page is to be printed.
func (c Contact) detailed() bool { return c.known() || c.HoursFa != "" || c.HoursEn != "" }

// fields returns the part of r that a verification link carries and signs.
func (r Receipt) fields(keyID string) Fields {
	return Fields{
		TrackingCode: r.TrackingCode,
		ServiceCode:  r.ServiceCode,
		MissionCode:  r.MissionCode,
		SubmittedAt:  r.SubmittedAt,
		DeadlineAt:   r.DeadlineAt,
		KeyID:        keyID,
	}
}

package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
)

// CorrectInput is one correction the workflow accepted: the field of
// request_applicants to change, its new value as stored, and who and why.
// UpdateID is the workflow Update that made it, so a retry records it once.
type CorrectInput struct {
	TrackingCode string
	UpdateID     string
	Field        string // "<section>.<name>", as consular.Correctable names it
	Value        string // "" removes the answer
	Reason       string
	StaffID      string
}

// ErrNoApplicant is the type of the error for a request whose applicant's
// data is gone (purged): there is nothing to correct.
const ErrNoApplicant = "NoApplicant"

// correctSQL changes one answer of one section; the section is one of three
// column names, chosen from this table, never from input.
var correctSQL = map[string]string{
	consular.SectionForm:      correctSection("form"),
	consular.SectionIdentity:  correctSection("identity"),
	consular.SectionResidence: correctSection("residence"),
}

func correctSection(column string) string {
	return `UPDATE request_applicants SET ` + column + ` = CASE WHEN $3 = '' THEN ` + column + ` - $2::text
		ELSE jsonb_set(` + column + `, ARRAY[$2::text], to_jsonb($3::text)) END
	WHERE tracking_code = $1`
}

// fullNameSQL writes the applicant's name again from the corrected identity,
// as the portal wrote it at submission (api/portal/apply.go: the Persian
// first and last names), so the queue, the desk and every later email
// greet the applicant by the corrected name (the requests.applicant_name
// trigger follows full_name).
const fullNameSQL = `
UPDATE request_applicants
SET full_name = btrim(COALESCE(identity->>'first_name_fa', '') || ' ' || COALESCE(identity->>'last_name_fa', ''))
WHERE tracking_code = $1 AND btrim(COALESCE(identity->>'first_name_fa', '') || ' ' || COALESCE(identity->>'last_name_fa', '')) <> ''`

// oldValueSQL reads the answer a correction replaces, locking the row so
// corrections of one request follow each other, each reading the value the
// one before it wrote.
const oldValueSQL = `
SELECT COALESCE(CASE $2 WHEN 'form' THEN form WHEN 'identity' THEN identity ELSE residence END ->> $3::text, '')
FROM request_applicants WHERE tracking_code = $1 FOR UPDATE`

// Correct writes the new value into the request's answers and records the
// correction (old value, new value, field, reason, who, when) in
// request_corrections, in one transaction. It is idempotent: a retry finds
// the correction recorded under its update ID and changes nothing again.
func (p *Projection) Correct(ctx context.Context, in CorrectInput) error {
	section, name, ok := splitField(in.Field)
	if !ok {
		return temporal.NewNonRetryableApplicationError("no such field "+in.Field, "BadField", nil)
	}
	staffID, err := strconv.ParseInt(in.StaffID, 10, 64)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("a correction needs the officer's staff ID", "BadStaff", err)
	}
	tx, err := p.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("correct %s: %w", in.TrackingCode, err)
	}
	defer tx.Rollback(ctx)
	var old string
	err = tx.QueryRow(ctx, oldValueSQL, in.TrackingCode, section, name).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return temporal.NewNonRetryableApplicationError("no applicant on record for "+in.TrackingCode, ErrNoApplicant, err)
	}
	if err != nil {
		return fmt.Errorf("lock applicant of %s: %w", in.TrackingCode, err)
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM request_corrections WHERE tracking_code = $1 AND update_id = $2)`,
		in.TrackingCode, in.UpdateID).Scan(&done); err != nil {
		return fmt.Errorf("look up correction of %s: %w", in.TrackingCode, err)
	}
	if done {
		return nil
	}
	if _, err := tx.Exec(ctx, correctSQL[section], in.TrackingCode, name, in.Value); err != nil {
		return fmt.Errorf("correct %s of %s: %w", in.Field, in.TrackingCode, err)
	}
	if section == consular.SectionIdentity && (name == "first_name_fa" || name == "last_name_fa") {
		if _, err := tx.Exec(ctx, fullNameSQL, in.TrackingCode); err != nil {
			return fmt.Errorf("correct the name of %s: %w", in.TrackingCode, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO request_corrections (tracking_code, update_id, field, old_value, new_value, reason, staff_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, in.TrackingCode, in.UpdateID, in.Field, old, in.Value, in.Reason, staffID); err != nil {
		return fmt.Errorf("record correction of %s: %w", in.TrackingCode, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("correct %s: %w", in.TrackingCode, err)
	}
	return nil
}

// splitField reads "<section>.<name>" for one of the three sections.
func splitField(field string) (section, name string, ok bool) {
	for s := range correctSQL {
		if len(field) > len(s)+1 && field[:len(s)+1] == s+"." {
			return s, field[len(s)+1:], true
		}
	}
	return "", "", false
}

// correctionFacts is one correction as its email tells it.
type correctionFacts struct {
	Field    consular.Correctable
	Old, New string
	Reason   string
}

// correction loads the correction the email is about, by its update ID.
func (m *Mail) correction(ctx context.Context, in MailInput, service consular.Service) (correctionFacts, error) {
	var c correctionFacts
	var field string
	err := m.DB.QueryRow(ctx, `SELECT field, old_value, new_value, reason FROM request_corrections WHERE tracking_code = $1 AND update_id = $2`,
		in.TrackingCode, in.Key).Scan(&field, &c.Old, &c.New, &c.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, temporal.NewNonRetryableApplicationError("no correction "+in.Key+" of "+in.TrackingCode, "NoCorrection", err)
	}
	if err != nil {
		return c, fmt.Errorf("load correction of %s: %w", in.TrackingCode, err)
	}
	var ok bool
	if c.Field, ok = service.CorrectableField(field); !ok {
		return c, temporal.NewNonRetryableApplicationError("unknown field "+field, "BadField", nil)
	}
	return c, nil
}

// correctionLetter tells the applicant which field of their request the
// mission corrected at the visit, from what to what, and why.
func correctionLetter(f letterFacts, lang string, w words) letter {
	c := f.Correction
	shown := func(v string) string {
		if v == "" {
			return w.pick("(خالی)", "(empty)")
		}
		if c.Field.Spec.Type == "date" || c.Field.Spec.Type == "date_any" || c.Field.Spec.Type == "future_date" {
			if t, err := time.Parse("2006-01-02", v); err == nil {
				return i18n.Date(t, lang)
			}
		}
		v = c.Field.Shown(v, lang)
		if lang == i18n.Persian && !strings.ContainsFunc(v, func(r rune) bool { return unicode.In(r, unicode.Arabic) }) {
			return "\u2066" + v + "\u2069" // an answer in Latin script stays left to right inside Persian text
		}
		return v
	}
	label := c.Field.Spec.Label.In(lang)
	return letter{
		Subject: w.pick("اصلاح درخواست "+f.code(lang), "Correction to request "+f.code(lang)),
		Paragraphs: []string{w.greeting,
			w.pick("در مراجعه‌ی حضوری شما، «"+label+"» در "+w.about+" اصلاح شد:",
				"During your visit, the field “"+label+"” of "+w.about+" was corrected:"),
			label + ": " + shown(c.Old) + w.pick(" ← ", " → ") + shown(c.New),
			w.pick("دلیل اصلاح: ", "Reason: ") + c.Reason,
			w.pick("اگر این اصلاح درست نیست، با "+f.Mission.Fa+" تماس بگیرید.",
				"If this correction is not right, please contact the "+f.Mission.En+"."),
		},
	}
}

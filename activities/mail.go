package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	simplemail "github.com/xhit/go-simple-mail/v2"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/calendar"
	"github.com/openconsular/consular/internal/consular"
	smtp "github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/metrics"
)

// MailKind is what an email tells the applicant.
type MailKind string

const (
	MailReceipt              MailKind = "receipt"
	MailDocumentsRejected    MailKind = "documents_rejected"
	MailReminder             MailKind = "reminder"
	MailDeadlineExtended     MailKind = "deadline_extended"
	MailArchived             MailKind = "archived"
	MailAppointmentBooked    MailKind = "appointment_booked"
	MailAppointmentCancelled MailKind = "appointment_cancelled"
	MailAppointmentReminder  MailKind = "appointment_reminder"
	MailNoShow               MailKind = "no_show"
	MailDecision             MailKind = "decision"
	MailWithdrawn            MailKind = "withdrawn"
	// MailCorrection tells what an officer corrected at the visit; its key
	// is the correction's update ID (request_corrections.update_id).
	MailCorrection MailKind = "correction"
)

// Mail writes to applicants. It knows their address from PostgreSQL; the
// workflow names only the request and what to say.
type Mail struct {
	DB             *pgxpool.Pool
	SMTP           *smtp.Server
	Objects        *minio.Client
	ReceiptsBucket string
	// LinkKey signs the reschedule-or-cancel link of booking emails, which
	// open PublicURL's appointment pages.
	LinkKey   []byte
	PublicURL string
	// afterRecord runs once a send is recorded; tests use it to fail the
	// activity at the worst moment.
	afterRecord func() error
}

// MailInput says which email to send about which request. Several emails of
// one kind (reminders, extensions) differ by Key.
type MailInput struct {
	TrackingCode string
	Kind         MailKind
	Key          string
	Deadline     time.Time
	Appointment  time.Time // zero when there is none
	Problems     []DocumentProblem
	Decision     consular.Status
	Reason       string
	ReceiptKey   string // object key of the receipt PDF to attach
	// ChangeCutoff is how long before the appointment it can no longer be
	// changed online (the request's policy); zero reads the default.
	ChangeCutoff time.Duration
}

// MailResult tells whether this call sent the email or found it sent already.
type MailResult struct {
	MessageID   string
	AlreadySent bool
}

// Send sends one email at most once per (request, kind, key): a send is
// recorded in sent_mail after the SMTP server accepts it, and a retried
// activity or a restarted worker finds the record and stops. The Message-ID
// derives from the same triple, so in the rare crash between acceptance and
// record the duplicate that follows is one mail clients fold into the first.
func (m *Mail) Send(ctx context.Context, in MailInput) (MailResult, error) {
	outboxKind := string(in.Kind)
	if in.Key != "" {
		outboxKind += ":" + in.Key
	}
	messageID := m.messageID(in.TrackingCode, outboxKind)
	var sent bool
	if err := m.DB.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM sent_mail WHERE tracking_code = $1 AND kind = $2)",
		in.TrackingCode, outboxKind).Scan(&sent); err != nil {
		return MailResult{}, fmt.Errorf("look up sent mail: %w", err)
	}
	if sent {
		metrics.Emails.WithLabelValues(string(in.Kind), "already_sent").Inc()
		return MailResult{MessageID: messageID, AlreadySent: true}, nil
	}

	f, err := m.facts(ctx, in)
	if err != nil {
		return MailResult{}, err
	}
	f.PublicURL = m.PublicURL // the mission's page in the footer
	if in.Kind == MailCorrection {
		if f.Correction, err = m.correction(ctx, in, f.Service); err != nil {
			return MailResult{}, err
		}
	}
	if in.Kind == MailAppointmentBooked && m.PublicURL != "" {
		f.ChangeLink = m.PublicURL + "/appointments?t=" + consular.SignLink(m.LinkKey, in.TrackingCode, in.Appointment)
	}
	email := simplemail.NewMSG().SetFrom(m.SMTP.From()).AddTo(f.Email)
	email.AddHeader("Message-ID", messageID)
	email.AddHeader("Auto-Submitted", "auto-generated")
	fa, en := compose(in.Kind, f, "fa"), compose(in.Kind, f, "en")
	email.SetSubject(fa.Subject + " | " + en.Subject)
	email.SetBody(simplemail.TextPlain, plainText(fa, en))
	html, err := htmlBody(fa, en)
	if err != nil {
		return MailResult{}, err
	}
	email.AddAlternative(simplemail.TextHTML, html)
	if in.ReceiptKey != "" {
		pdf, err := m.receipt(ctx, in.ReceiptKey)
		if err != nil {
			return MailResult{}, err
		}
		email.Attach(&simplemail.File{Name: "receipt-" + in.TrackingCode + ".pdf", MimeType: "application/pdf", Data: pdf})
	}
	if in.Kind == MailAppointmentBooked || in.Kind == MailAppointmentCancelled {
		ics, contentType, err := m.invitation(ctx, in, f, outboxKind)
		if err != nil {
			return MailResult{}, err
		}
		email.Attach(&simplemail.File{Name: "appointment.ics", MimeType: contentType, Data: ics})
	}
	if email.Error != nil {
		return MailResult{}, temporal.NewNonRetryableApplicationError("compose email", "BadEmail", email.Error)
	}

	client, err := m.SMTP.Connect(ctx)
	if err != nil {
		return MailResult{}, err
	}
	defer client.Close()
	if err := email.Send(client); err != nil {
		metrics.Emails.WithLabelValues(string(in.Kind), "failed").Inc()
		return MailResult{}, fmt.Errorf("send %s email: %w", outboxKind, err)
	}
	metrics.Emails.WithLabelValues(string(in.Kind), "sent").Inc()
	if _, err := m.DB.Exec(ctx, "INSERT INTO sent_mail (tracking_code, kind, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		in.TrackingCode, outboxKind, messageID); err != nil {
		return MailResult{}, fmt.Errorf("record sent %s email: %w", outboxKind, err)
	}
	if m.afterRecord != nil {
		if err := m.afterRecord(); err != nil {
			return MailResult{}, err
		}
	}
	return MailResult{MessageID: messageID}, nil
}

// messageID is the same for every attempt at one email.
func (m *Mail) messageID(trackingCode, kind string) string {
	sum := sha256.Sum256([]byte(trackingCode + "\x00" + kind))
	return "<" + hex.EncodeToString(sum[:16]) + "@" + m.domain() + ">"
}

// facts gathers what the email says: the applicant's address and name, the
// mission and the service, with dates in the mission's time zone.
func (m *Mail) facts(ctx context.Context, in MailInput) (letterFacts, error) {
	f := letterFacts{MailInput: in}
	var missionCode, serviceCode, timeZone string
	err := m.DB.QueryRow(ctx, `
		SELECT a.email, a.full_name, r.mission_code, r.service_code, ms.name_fa, ms.name_en, ms.time_zone
		FROM request_applicants a
		JOIN requests r USING (tracking_code)
		JOIN missions ms ON ms.code = r.mission_code
		WHERE a.tracking_code = $1`, in.TrackingCode).
		Scan(&f.Email, &f.Name, &missionCode, &serviceCode, &f.Mission.Fa, &f.Mission.En, &timeZone)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, temporal.NewNonRetryableApplicationError("no applicant on record for "+in.TrackingCode, "NoApplicant", err)
	}
	if err != nil {
		return f, fmt.Errorf("load applicant of %s: %w", in.TrackingCode, err)
	}
	service, ok := consular.ServiceByCode(serviceCode)
	if !ok {
		return f, temporal.NewNonRetryableApplicationError("unknown service "+serviceCode, "UnknownService", nil)
	}
	f.Service, f.MissionCode = service, missionCode
	if f.Location, err = time.LoadLocation(timeZone); err != nil {
		return f, temporal.NewNonRetryableApplicationError("mission time zone "+timeZone, "BadTimeZone", err)
	}
	return f, nil
}

// invitation is the appointment as a calendar event in the mission's time
// zone. One UID per request, so a rescheduled appointment replaces the event
// in the applicant's calendar and a cancellation removes it.
func (m *Mail) invitation(ctx context.Context, in MailInput, f letterFacts, outboxKind string) ([]byte, string, error) {
	at := in.Appointment
	if in.Kind == MailAppointmentCancelled {
		if t, err := time.Parse(time.RFC3339, in.Key); err == nil {
			at = t // the cancelled appointment's time travels in the key
		}
	}
	end := at.Add(30 * time.Minute)
	_ = m.DB.QueryRow(ctx, `SELECT ends_at FROM appointments WHERE tracking_code = $1 AND starts_at = $2 ORDER BY id DESC LIMIT 1`,
		in.TrackingCode, at).Scan(&end)
	var sequence int
	_ = m.DB.QueryRow(ctx, `SELECT count(*) FROM sent_mail WHERE tracking_code = $1 AND kind LIKE 'appointment_%'`, in.TrackingCode).Scan(&sequence)
	e := calendar.Event{
		UID: in.TrackingCode + "@" + m.domain(), Sequence: sequence, Start: at, End: end, Location: f.Location,
		Summary:     "نوبت کنسولی / Consular appointment " + in.TrackingCode,
		Description: f.Service.Name.Fa + " / " + f.Service.Name.En + "\n" + "با اصل مدرک شناسایی عکس‌دار ایرانی حاضر شوید. / Bring your original Iranian photo ID.",
		Place:       f.Mission.Fa + " / " + f.Mission.En, Organizer: m.senderAddress(), Cancelled: in.Kind == MailAppointmentCancelled,
	}
	b, err := calendar.Bytes(e)
	if err != nil {
		return nil, "", temporal.NewNonRetryableApplicationError("calendar event for "+outboxKind, "BadEvent", err)
	}
	return b, e.ContentType(), nil
}

func (m *Mail) senderAddress() string {
	if addr, err := mail.ParseAddress(m.SMTP.From()); err == nil {
		return addr.Address
	}
	return ""
}

func (m *Mail) domain() string {
	if _, d, ok := strings.Cut(m.senderAddress(), "@"); ok {
		return d
	}
	return "consular.invalid"
}

func (m *Mail) receipt(ctx context.Context, key string) ([]byte, error) {
	obj, err := m.Objects.GetObject(ctx, m.ReceiptsBucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get receipt %s: %w", key, err)
	}
	defer obj.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, obj); err != nil {
		return nil, fmt.Errorf("read receipt %s: %w", key, err)
	}
	return buf.Bytes(), nil
}

package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/receipt"
	"github.com/openconsular/consular/internal/storage"
)

// Receipts issues the PDF receipt of a request and keeps it in MinIO.
type Receipts struct {
	DB        *pgxpool.Pool
	Objects   *minio.Client
	Bucket    string
	Signer    receipt.Signer
	VerifyURL string // the page the QR code opens
}

// IssueInput is what a receipt states.
type IssueInput struct {
	TrackingCode string
	ServiceCode  string
	MissionCode  string
	SubmittedAt  time.Time
	Deadline     time.Time
}

// IssueResult says where the receipt is.
type IssueResult struct {
	ObjectKey string
}

// Issue renders the receipt and stores it; a retry overwrites the same object
// (its key is the tracking code's), so a request has one receipt however
// often it runs. Requests started from receipt-by-local-activities run it
// as a local activity right after Validate, in the same workflow task: the
// receipt's email is scheduled only once both have succeeded.
func (a *Receipts) Issue(ctx context.Context, in IssueInput) (IssueResult, error) {
	service, ok := consular.ServiceByCode(in.ServiceCode)
	if !ok {
		return IssueResult{}, temporal.NewNonRetryableApplicationError("unknown service "+in.ServiceCode, "UnknownService", nil)
	}
	r := receipt.Receipt{TrackingCode: in.TrackingCode, ServiceCode: in.ServiceCode, ServiceFa: service.Name.Fa,
		ServiceEn: service.Name.En, MissionCode: in.MissionCode, SubmittedAt: in.SubmittedAt, DeadlineAt: in.Deadline}
	var zone string
	err := a.DB.QueryRow(ctx, "SELECT name_fa, name_en, time_zone FROM missions WHERE code = $1", in.MissionCode).
		Scan(&r.MissionFa, &r.MissionEn, &zone)
	if errors.Is(err, pgx.ErrNoRows) {
		return IssueResult{}, temporal.NewNonRetryableApplicationError("unknown mission "+in.MissionCode, "UnknownMission", err)
	}
	if err != nil {
		return IssueResult{}, fmt.Errorf("load mission %s: %w", in.MissionCode, err)
	}
	if r.Location, err = time.LoadLocation(zone); err != nil {
		return IssueResult{}, temporal.NewNonRetryableApplicationError("mission time zone "+zone, "BadTimeZone", err)
	}
	r.Contact = a.contact(in.MissionCode)
	pdf, err := receipt.Render(r, a.Signer.Link(a.VerifyURL, r))
	if err != nil { // the same input renders the same way every time: retrying cannot help
		return IssueResult{}, temporal.NewNonRetryableApplicationError("receipt of "+in.TrackingCode, "ReceiptRender", err)
	}
	key := storage.ReceiptKey(in.TrackingCode)
	if _, err := a.Objects.PutObject(ctx, a.Bucket, key, bytes.NewReader(pdf), int64(len(pdf)),
		minio.PutObjectOptions{ContentType: "application/pdf"}); err != nil {
		return IssueResult{}, fmt.Errorf("store receipt: %w", err)
	}
	return IssueResult{ObjectKey: key}, nil
}

// contact is how to reach the mission, as missions.json knows it, and its
// page on the portal. The portal's address is the verification page's,
// without its path.
func (a *Receipts) contact(missionCode string) receipt.Contact {
	m, _ := consular.Missions.Mission(missionCode)
	c := receipt.Contact{Address: m.Address, Phone: m.Phone, Email: m.Email, HoursFa: m.Hours.Fa, HoursEn: m.Hours.En}
	if base, ok := strings.CutSuffix(a.VerifyURL, receiptsVerifyPath); ok {
		c.Page = base + "/missions/" + missionCode
	}
	return c
}

// receiptsVerifyPath is where the worker points VerifyURL, under the
// portal's public address (workers/register.go).
const receiptsVerifyPath = "/receipts/verify"

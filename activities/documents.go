package activities

import (
	"context"
	"errors"
	"fmt"
	"github.com/openconsular/consular/internal/consular"
	"path"

	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/documents"
)

// Documents checks and deletes the applicant's documents in MinIO.
type Documents struct {
	Objects *minio.Client
	Bucket  string
}

// DocumentProblem says why one document was refused, in both languages.
type DocumentProblem struct {
	Kind   string
	Reason string
	Fa     string
	En     string
}

// ErrBadDocuments is the application error type of a refused set of
// documents; its details are the []DocumentProblem.
const ErrBadDocuments = "BadDocuments"

// ValidateInput names the documents of one request.
type ValidateInput struct {
	TrackingCode string
	Documents    []consular.Document
}

// Validate checks every stored document again with the same rules the API
// applied at upload, short of decoding its pixels again (the bytes must be
// those the API decoded): this activity is the authority for what reaches
// the workflow. A refused document is a non-retryable error carrying every
// problem; a storage failure is retried. Requests started from
// receipt-by-local-activities run it as a local activity, inside a
// workflow task: it must stay short (MinIO reads, no pixel decoding) and
// may run again when that task is lost.
func (d *Documents) Validate(ctx context.Context, in ValidateInput) error {
	var problems []DocumentProblem
	for _, ref := range in.Documents {
		if _, err := d.Objects.StatObject(ctx, d.Bucket, ref.ObjectKey, minio.StatObjectOptions{}); isNotFound(err) {
			problems = append(problems, DocumentProblem{Kind: ref.Kind, Reason: "missing",
				Fa: "فایل این مدرک به دست ما نرسید.", En: "This document's file did not reach us."})
			continue
		} else if err != nil {
			return fmt.Errorf("find document %s: %w", ref.ObjectKey, err)
		}
		obj, err := d.Objects.GetObject(ctx, d.Bucket, ref.ObjectKey, minio.GetObjectOptions{})
		if err != nil {
			return fmt.Errorf("get document %s: %w", ref.ObjectKey, err)
		}
		// ref.SHA256 is what the API's check (documents.CheckContext) found
		// for the bytes it accepted, pixels decoded: CheckStored holds the
		// stored bytes to it and to every rule that needs no decoding, so a
		// document is decoded once per request, at upload.
		_, err = documents.CheckStored(ctx, path.Base(ref.ObjectKey), obj, documents.DefaultRule, ref.SHA256)
		obj.Close()
		var problem *documents.Problem
		switch {
		case errors.As(err, &problem) && problem.Reason == documents.ReasonChanged:
			problems = append(problems, DocumentProblem{Kind: ref.Kind, Reason: problem.Reason,
				Fa: "فایل این مدرک پس از بارگذاری تغییر کرده است.", En: "This document's file changed after it was uploaded."})
		case errors.As(err, &problem):
			problems = append(problems, DocumentProblem{Kind: ref.Kind, Reason: problem.Reason, Fa: problem.Message("fa"), En: problem.Message("en")})
		case err != nil:
			return fmt.Errorf("read document %s: %w", ref.ObjectKey, err)
		}
	}
	if len(problems) > 0 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%d document(s) refused", len(problems)), ErrBadDocuments, nil, problems)
	}
	return nil
}

// DeleteInput names the objects to delete.
type DeleteInput struct {
	ObjectKeys []string
}

// Delete removes documents; objects already gone count as deleted, so a retry is harmless.
func (d *Documents) Delete(ctx context.Context, in DeleteInput) error {
	for _, key := range in.ObjectKeys {
		if err := d.Objects.RemoveObject(ctx, d.Bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete document %s: %w", key, err)
		}
	}
	return nil
}

func isNotFound(err error) bool {
	return err != nil && minio.ToErrorResponse(err).Code == minio.NoSuchKey
}

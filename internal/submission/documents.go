package submission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/storage"
)

// ErrUnreadable says a document's bytes could not be read (the body broke
// off): the sender's fault, not a problem with the document.
var ErrUnreadable = errors.New("could not read document")

// StoreDocument checks one document with the validator the workflow uses
// and, if it passes, puts it in MinIO under the request's tracking code.
// A refused document is a *documents.Problem (nothing stored); fileName is
// as the sender gave it, path included, so a name such as ../../x.jpg is
// refused with its reason.
func (s *Submitter) StoreDocument(ctx context.Context, code consular.TrackingCode, kind, fileName string, content io.Reader) (StoredDocument, error) {
	doc, data, err := documents.CheckContext(ctx, fileName, content, documents.DefaultRule)
	var problem *documents.Problem
	if errors.As(err, &problem) {
		return StoredDocument{}, err
	}
	if err != nil {
		return StoredDocument{}, fmt.Errorf("%w %s: %w", ErrUnreadable, kind, err)
	}
	key := storage.DocumentKey(string(code), kind, doc.Format)
	if _, err := s.Objects.PutObject(ctx, s.Config.Storage.DocumentsBucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "image/" + doc.Format}); err != nil {
		return StoredDocument{}, fmt.Errorf("store document: %w", err)
	}
	return StoredDocument{Kind: kind, ObjectKey: key, FileName: doc.Name, Format: doc.Format, Size: doc.Size, SHA256: doc.SHA256}, nil
}

// Discard deletes what a refused or repeated submission stored; it runs
// after the caller's context may have ended, so it has its own.
func (s *Submitter) Discard(code consular.TrackingCode, docs []StoredDocument) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range docs {
		if err := s.Objects.RemoveObject(ctx, s.Config.Storage.DocumentsBucket, d.ObjectKey, minio.RemoveObjectOptions{}); err != nil {
			s.Logger.Error("could not delete a refused submission's document", "tracking_code", code, "err", err)
		}
	}
}

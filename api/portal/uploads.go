package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/documents"
	"github.com/openconsular/consular/internal/storage"
)

// Upload is a document the applicant uploaded and we kept.
type Upload = web.Upload

// multipartForm is a form read part by part: its fields, and for each file
// either the stored upload or why it was refused.
type multipartForm struct {
	Values   map[string]string
	Problems map[string]*documents.Problem // by document kind
}

// readMultipart streams a multipart form within web.DefaultFormLimits:
// text fields are kept (a field too long, or too many, refuse the form
// with 413), each file "document.<kind>" of an allowed kind is checked with
// the documents' rules and stored at once, replacing the applicant's earlier
// upload of that kind; a file under any other name refuses the form (400).
// An empty file input keeps the earlier upload, so a form shown again after
// an error loses nothing already accepted.
func (p *Portal) readMultipart(c *fiber.Ctx, accountID int64, owner string, allowed map[string]bool) (*multipartForm, error) {
	fr, err := web.NewFormReader(c, func(name string) bool {
		kind, ok := strings.CutPrefix(name, "document.")
		return ok && allowed[kind]
	}, web.DefaultFormLimits)
	if err != nil {
		return nil, err
	}
	form := &multipartForm{Values: map[string]string{}, Problems: map[string]*documents.Problem{}}
	for {
		part, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return form, nil
		}
		if err != nil {
			return nil, err
		}
		if !part.IsFile {
			form.Values[part.Name] = strings.TrimSpace(part.Value)
			continue
		}
		if part.FileName == "" {
			continue // an empty file input: the earlier upload stays
		}
		kind := strings.TrimPrefix(part.Name, "document.")
		doc, content, err := documents.CheckContext(c.UserContext(), part.FileName, part.File, documents.DefaultRule)
		var problem *documents.Problem
		if errors.As(err, &problem) {
			form.Problems[kind] = problem
			continue // the reader skips the rest of the file
		}
		if err != nil {
			return nil, err
		}
		if err := p.keep(c.UserContext(), accountID, owner, kind, doc, content); err != nil {
			return nil, err
		}
	}
}

// keep stores an accepted upload and records it.
func (p *Portal) keep(ctx context.Context, accountID int64, owner, kind string, doc documents.Document, content []byte) error {
	key := storage.UploadKey(accountID, owner, kind, doc.Format)
	if _, err := p.Objects.PutObject(ctx, p.Config.Storage.DocumentsBucket, key, bytes.NewReader(content), int64(len(content)),
		minio.PutObjectOptions{ContentType: "image/" + doc.Format}); err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	_, err := p.DB.Exec(ctx, `INSERT INTO uploads (account_id, owner, kind, object_key, file_name, format, size_bytes, sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (account_id, owner, kind) DO UPDATE SET object_key = EXCLUDED.object_key, file_name = EXCLUDED.file_name,
		format = EXCLUDED.format, size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, uploaded_at = now()`,
		accountID, owner, kind, key, doc.Name, doc.Format, doc.Size, doc.SHA256)
	return err
}

// uploads lists what the applicant has uploaded for owner, by kind.
func (p *Portal) uploads(ctx context.Context, accountID int64, owner string) (map[string]Upload, error) {
	rows, err := p.DB.Query(ctx, `SELECT kind, object_key, file_name, format, size_bytes, sha256 FROM uploads
		WHERE account_id = $1 AND owner = $2`, accountID, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Upload{}
	for rows.Next() {
		var u Upload
		if err := rows.Scan(&u.Kind, &u.ObjectKey, &u.FileName, &u.Format, &u.Size, &u.SHA256); err != nil {
			return nil, err
		}
		out[u.Kind] = u
	}
	return out, rows.Err()
}

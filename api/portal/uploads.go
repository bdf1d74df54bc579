package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/documents"
)

// Upload is a document the applicant uploaded and we kept.
type Upload = web.Upload

// multipartForm is a form read part by part: its fields, and for each file
// either the stored upload or why it was refused.
type multipartForm struct {
	Values   map[string]string
	Problems map[string]*documents.Problem // by document kind
}

// readMultipart streams a multipart form: text fields are kept (1 KB each
// at most), each file "document.<kind>" of an allowed kind is checked with
// the documents' rules and stored at once, replacing the applicant's earlier
// upload of that kind. An empty file input keeps the earlier upload, so a
// form shown again after an error loses nothing already accepted.
func (p *Portal) readMultipart(c *fiber.Ctx, accountID int64, owner string, allowed map[string]bool) (*multipartForm, error) {
	_, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || params["boundary"] == "" {
		return nil, fiber.NewError(fiber.StatusBadRequest, "multipart/form-data expected")
	}
	body := c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	form := &multipartForm{Values: map[string]string{}, Problems: map[string]*documents.Problem{}}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return form, nil
		}
		if err != nil {
			return nil, fiber.NewError(fiber.StatusBadRequest, "malformed form")
		}
		kind, isFile := strings.CutPrefix(part.FormName(), "document.")
		if !isFile {
			v, err := io.ReadAll(io.LimitReader(part, 2048))
			if err != nil {
				return nil, fiber.NewError(fiber.StatusBadRequest, "malformed form")
			}
			form.Values[part.FormName()] = strings.TrimSpace(string(v))
			continue
		}
		_, disposition, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if !allowed[kind] || disposition["filename"] == "" {
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		doc, content, err := documents.CheckContext(c.UserContext(), disposition["filename"], part, documents.DefaultRule)
		var problem *documents.Problem
		if errors.As(err, &problem) {
			form.Problems[kind] = problem
			_, _ = io.Copy(io.Discard, part)
			continue
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
	ext := map[string]string{documents.FormatJPEG: ".jpg", documents.FormatBMP: ".bmp"}[doc.Format]
	key := fmt.Sprintf("uploads/%d/%s/%s%s", accountID, owner, kind, ext)
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

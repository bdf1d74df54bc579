package staff

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/internal/consular"
)

// maxDocumentBytes bounds what one document read may hold in memory. Uploads
// are checked far below it (internal/documents); it guards against an
// object that grew in storage behind the application's back.
const maxDocumentBytes = 8 << 20

// documentTypes are the content types of the formats the portal accepts.
var documentTypes = map[string]string{"jpeg": "image/jpeg", "bmp": "image/bmp"}

// document serves one of a request's documents to staff, inline, from the
// documents bucket: only to a member of the request's mission (another
// mission's request is not found, as on its detail page), with the type
// its stored format says (checked against its bytes) and never cached, so
// a signed-out browser or a shared computer keeps no copy.
func (d *Dashboard) document(c *fiber.Ctx, m Member) error {
	ctx := c.UserContext()
	code, err := consular.ParseTrackingCode(c.Params("code"))
	if err != nil {
		return fiber.ErrNotFound
	}
	var key, name, format string
	err = d.DB.QueryRow(ctx, `SELECT d.object_key, d.file_name, d.format FROM request_documents d
		JOIN requests r USING (tracking_code)
		WHERE d.tracking_code = $1 AND d.kind = $2 AND ($3::text IS NULL OR r.mission_code = $3)`,
		string(code), c.Params("kind"), m.scope()).Scan(&key, &name, &format)
	if errors.Is(err, pgx.ErrNoRows) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("find document of %s: %w", code, err)
	}
	contentType, ok := documentTypes[format]
	if !ok {
		return fiber.ErrNotFound
	}
	obj, err := d.Objects.GetObject(ctx, d.Config.Storage.DocumentsBucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("open document of %s: %w", code, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, maxDocumentBytes+1))
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" { // purged after the decision
			return fiber.ErrNotFound
		}
		return fmt.Errorf("read document of %s: %w", code, err)
	}
	if len(b) > maxDocumentBytes || http.DetectContentType(b) != contentType {
		d.Logger.ErrorContext(ctx, "stored document does not match its record", "tracking_code", string(code), "bytes", len(b))
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentDisposition, "inline; filename*=UTF-8''"+url.PathEscape(name))
	c.Set(fiber.HeaderContentLength, strconv.Itoa(len(b)))
	return c.Send(b)
}

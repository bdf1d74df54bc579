package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/api/requests"
	"github.com/openconsular/consular/api/server"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents"
)

// bodyLimits is every route's body limit, in one place. Pages post small
// urlencoded forms (the longest, a staff schedule or a 1,000-character
// textarea in Persian, is a few KB); the JSON API takes a few fields; only
// the three upload routes take documents, and each takes what its
// documents allow: their number times the largest document, plus room for
// the text fields and part headers (which web.FormReader bounds).
func bodyLimits() server.BodyLimits {
	uploads := func(documentCount int) int64 {
		return int64(documentCount)*documents.DefaultRule.MaxBytes + 64<<10
	}
	routes := []server.BodyRoute{
		{Method: fiber.MethodPost, Path: "/api/v1/requests", Type: fiber.MIMEMultipartForm, Limit: uploads(requests.MaxDocuments)},
		// The identity step of the profile: passport and birth certificate.
		{Method: fiber.MethodPost, Path: "/profile/identity", Type: fiber.MIMEMultipartForm, Limit: uploads(2)},
		// The codec of the Temporal Web UI (operators only): a page of
		// encrypted payloads, each small (documents live in MinIO).
		{Method: fiber.MethodPost, Path: "/codec/encode", Type: fiber.MIMEApplicationJSON, Limit: 4 << 20},
		{Method: fiber.MethodPost, Path: "/codec/decode", Type: fiber.MIMEApplicationJSON, Limit: 4 << 20},
	}
	for _, s := range consular.Services {
		routes = append(routes, server.BodyRoute{Method: fiber.MethodPost, Path: "/services/" + s.Code + "/apply",
			Type: fiber.MIMEMultipartForm, Limit: uploads(len(s.Documents))})
	}
	return server.BodyLimits{Form: 16 << 10, JSON: 32 << 10, Routes: routes}
}

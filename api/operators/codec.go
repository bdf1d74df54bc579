// Package operators serves what operators use beside the Temporal Web UI:
// the codec endpoints that let the UI show decrypted payloads, to authorised
// operators only.
package operators

import (
	"crypto/subtle"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"go.temporal.io/sdk/converter"

	"github.com/openconsular/consular/internal/codec"
)

// Codec serves /codec/encode and /codec/decode (Temporal's remote codec
// protocol). Without authorisation it answers 401 and the UI keeps showing
// ciphertext. Authorised are: the operator token as a bearer token (the UI's
// "pass access token" setting, or tools), or a staff admin's session cookie
// sent along by the UI ("include credentials"), checked by IsAdmin.
type Codec struct {
	Codec         *codec.Codec
	OperatorToken string
	UIOrigin      string // the Temporal UI's origin, the only one CORS allows
	IsAdmin       func(*fiber.Ctx) bool
}

func (h *Codec) Register(app fiber.Router) {
	handler := adaptor.HTTPHandler(converter.NewPayloadCodecHTTPHandler(h.Codec))
	g := app.Group("/codec", h.cors)
	g.Options("/*", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	g.Post("/encode", h.authorised, handler)
	g.Post("/decode", h.authorised, handler)
}

func (h *Codec) cors(c *fiber.Ctx) error {
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && origin == h.UIOrigin {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Content-Type, X-Namespace, Authorization")
		c.Set(fiber.HeaderAccessControlAllowMethods, "POST, OPTIONS")
		c.Set(fiber.HeaderVary, fiber.HeaderOrigin)
	}
	return c.Next()
}

func (h *Codec) authorised(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if ok && h.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.OperatorToken)) == 1 {
		return c.Next()
	}
	if h.IsAdmin != nil && h.IsAdmin(c) {
		return c.Next()
	}
	return fiber.NewError(fiber.StatusUnauthorized, "operators only: an operator token or a staff admin session is required")
}

// Package health serves the probes: /healthz says the process is alive,
// /readyz says whether every dependency answers, naming the ones that do not.
package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Check probes one dependency; a nil error means it answers.
type Check struct {
	Name  string
	Probe func(context.Context) error
}

// Status is one dependency's line in the /readyz answer.
type Status struct {
	Status string `json:"status"` // "ok" or "unavailable"
	Error  string `json:"error,omitempty"`
}

// Report is the /readyz answer.
type Report struct {
	Status string            `json:"status"` // "ready" or "unavailable"
	Checks map[string]Status `json:"checks"`
}

// Handlers serves the two probes. Details of a failure are logged always and
// shown in the answer only when ShowErrors is set (not in production, where
// they would tell strangers our internal addresses).
type Handlers struct {
	Checks     []Check
	Timeout    time.Duration
	ShowErrors bool
	Logger     *slog.Logger
}

func (h *Handlers) Register(r fiber.Router) {
	r.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "alive"})
	})
	r.Get("/readyz", h.ready)
}

func (h *Handlers) ready(c *fiber.Ctx) error {
	report := h.Probe(c.UserContext())
	code := fiber.StatusOK
	if report.Status != "ready" {
		code = fiber.StatusServiceUnavailable
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(report)
}

// Probe runs every check at once, each within the timeout.
func (h *Handlers) Probe(ctx context.Context) Report {
	report := Report{Status: "ready", Checks: make(map[string]Status, len(h.Checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, check := range h.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, h.Timeout)
			defer cancel()
			err := check.Probe(ctx)
			st := Status{Status: "ok"}
			if err != nil {
				h.Logger.WarnContext(ctx, "dependency unavailable", "dependency", check.Name, "err", err)
				st.Status = "unavailable"
				if h.ShowErrors {
					st.Error = err.Error()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			report.Checks[check.Name] = st
			if err != nil {
				report.Status = "unavailable"
			}
		})
	}
	wg.Wait()
	return report
}

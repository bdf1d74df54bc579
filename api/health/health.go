// Package health serves the probes: /healthz says the process is alive,
// /readyz says whether every dependency answers, naming the ones that do not.
//
// Only an essential dependency (PostgreSQL: without it no page works) makes
// /readyz answer 503. The others are shared by every API replica: a 503 for
// an SMTP, MinIO or Temporal outage would take every replica out of the
// load balancer at once, and applicants would get the balancer's bare error
// instead of our page saying what failed and keeping what they typed. So
// those answer 200 "degraded", still naming the dependency, and
// consular_dependency_up says it to Prometheus for alerting.
package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/internal/metrics"
)

// Check probes one dependency; a nil error means it answers.
type Check struct {
	Name  string
	Probe func(context.Context) error
	// Essential: without it this process can serve nothing, so /readyz
	// answers 503 and the process leaves the load balancer.
	Essential bool
}

// Status is one dependency's line in the /readyz answer.
type Status struct {
	Status string `json:"status"` // "ok" or "unavailable"
	Error  string `json:"error,omitempty"`
}

// Report is the /readyz answer.
type Report struct {
	// "ready"; "degraded" (200) when only dependencies that are not
	// essential fail; "unavailable" (503) when an essential one does.
	Status string            `json:"status"`
	Checks map[string]Status `json:"checks"`
}

// Handlers serves the two probes. Details of a failure are logged always and
// shown in the answer only when ShowErrors is set (not in production, where
// they would tell strangers our internal addresses).
//
// /readyz answers from the last probe while it is younger than MaxAge, and
// callers arriving while a probe runs share it: anyone on the internet can
// call /readyz, and each probe opens an SMTP session and a MinIO request.
type Handlers struct {
	Checks     []Check
	Timeout    time.Duration
	MaxAge     time.Duration // how long a probe's result answers; 0: 2 s
	ShowErrors bool
	Logger     *slog.Logger

	mu      sync.Mutex
	last    Report
	at      time.Time
	probing chan struct{} // closed when the running probe ends; nil when none runs
}

func (h *Handlers) Register(r fiber.Router) {
	r.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "alive"})
	})
	r.Get("/readyz", h.ready)
}

func (h *Handlers) ready(c *fiber.Ctx) error {
	report := h.Current(c.UserContext())
	code := fiber.StatusOK
	if report.Status == "unavailable" {
		code = fiber.StatusServiceUnavailable
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(report)
}

// Current is the latest probe's report: a fresh one when the last is older
// than MaxAge, shared with every caller asking meanwhile.
func (h *Handlers) Current(ctx context.Context) Report {
	maxAge := h.MaxAge
	if maxAge == 0 {
		maxAge = 2 * time.Second
	}
	h.mu.Lock()
	if !h.at.IsZero() && time.Since(h.at) < maxAge {
		defer h.mu.Unlock()
		return h.last
	}
	if running := h.probing; running != nil {
		h.mu.Unlock()
		select {
		case <-running:
		case <-ctx.Done():
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.at.IsZero() { // the first probe has not finished yet
			return Report{Status: "unavailable", Checks: map[string]Status{}}
		}
		return h.last
	}
	done := make(chan struct{})
	h.probing = done
	h.mu.Unlock()
	// Not the caller's context: a caller who leaves must not cut short the
	// probe others wait for.
	report := h.Probe(context.WithoutCancel(ctx))
	h.mu.Lock()
	h.last, h.at, h.probing = report, time.Now(), nil
	h.mu.Unlock()
	close(done)
	return report
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
			up, st := 1.0, Status{Status: "ok"}
			if err != nil {
				up = 0
				h.Logger.WarnContext(ctx, "dependency unavailable", "dependency", check.Name, "err", err)
				st.Status = "unavailable"
				if h.ShowErrors {
					st.Error = err.Error()
				}
			}
			metrics.DependencyUp.WithLabelValues(check.Name).Set(up)
			mu.Lock()
			defer mu.Unlock()
			report.Checks[check.Name] = st
			switch {
			case err == nil:
			case check.Essential:
				report.Status = "unavailable"
			case report.Status == "ready":
				report.Status = "degraded"
			}
		})
	}
	wg.Wait()
	return report
}

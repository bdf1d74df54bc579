// Package metrics holds the Prometheus metrics of both processes: HTTP
// latency and status by route (API), the Temporal SDK's metrics (worker,
// through tally), and the business's: emails sent and failed, bookings,
// archives, and requests by service, mission and status.
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Registry is this process's metrics.
var Registry = prometheus.NewRegistry()

var (
	// HTTPRequests is every HTTP request's duration by method, route and status.
	HTTPRequests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "consular_http_request_duration_seconds", Help: "HTTP requests by method, route and status.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})
	// Emails counts emails by kind and outcome (sent, already_sent, failed).
	Emails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "consular_emails_total", Help: "Emails to applicants by kind and outcome.",
	}, []string{"kind", "outcome"})
	// Bookings counts appointment changes by action and outcome.
	Bookings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "consular_bookings_total", Help: "Appointment bookings, reschedules and cancellations by outcome.",
	}, []string{"action", "outcome"})
	// DependencyUp is each dependency's last /readyz probe: 1 answered, 0 not.
	DependencyUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "consular_dependency_up", Help: "Whether a dependency answered the last readiness probe (1) or not (0).",
	}, []string{"dependency"})
	// Transitions counts requests entering each status (archived among them).
	Transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "consular_request_transitions_total", Help: "Requests entering a status.",
	}, []string{"status"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		HTTPRequests, Emails, Bookings, Transitions, DependencyUp)
}

// Handler serves the registry in Prometheus's text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// TemporalHandler reports the Temporal SDK's metrics (workflow task latency,
// activity failures, poller counts, sticky cache...) into Registry.
func TemporalHandler() client.MetricsHandler {
	reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: Registry})
	scope, _ := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       "_",
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		Prefix:          "temporal",
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope))
}

// RequestsByStatus exposes the projection's counts by service, mission and
// status as a gauge, read from PostgreSQL at most every 30 seconds: from
// the counts a trigger keeps beside the projection (request_counts), not by
// counting the projection. A count that fell to zero stays, as 0.
//
// With it, consular_submissions_start_pending: submissions saved whose
// workflow has not started (Temporal was unreachable); the API starts them
// once it answers, so a number that stays above zero wants a look.
func RequestsByStatus(db *pgxpool.Pool) prometheus.Collector {
	return &requestsCollector{db: db,
		desc: prometheus.NewDesc("consular_requests",
			"Requests by service, mission and status (from the projection).", []string{"service", "mission", "status"}, nil),
		pendingDesc: prometheus.NewDesc("consular_submissions_start_pending",
			"Submissions saved whose workflow has not started yet (Temporal unreachable).", nil, nil)}
}

type requestsCollector struct {
	db          *pgxpool.Pool
	desc        *prometheus.Desc
	pendingDesc *prometheus.Desc
	mu          sync.Mutex
	at          time.Time
	rows        []requestCount
	pending     float64
}

type requestCount struct {
	service, mission, status string
	n                        float64
}

func (c *requestsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.pendingDesc
}

func (c *requestsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > 30*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if rows, err := c.db.Query(ctx, `SELECT service_code, mission_code, status, n FROM request_counts`); err == nil {
			c.rows = c.rows[:0]
			for rows.Next() {
				var r requestCount
				if rows.Scan(&r.service, &r.mission, &r.status, &r.n) == nil {
					c.rows = append(c.rows, r)
				}
			}
			rows.Close()
			c.at = time.Now()
		}
		_ = c.db.QueryRow(ctx, `SELECT count(*) FROM submissions WHERE start_pending`).Scan(&c.pending)
	}
	for _, r := range c.rows {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, r.n, r.service, r.mission, r.status)
	}
	ch <- prometheus.MustNewConstMetric(c.pendingDesc, prometheus.GaugeValue, c.pending)
}

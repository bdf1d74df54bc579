// Command api serves the HTTP side of the system: the applicant portal, the
// appointment system, the staff dashboard and the JSON API. `api migrate`
// applies the database migrations and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/openconsular/consular/internal/appointments"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/api/booking"
	"github.com/openconsular/consular/api/health"
	"github.com/openconsular/consular/api/operators"
	"github.com/openconsular/consular/api/portal"
	"github.com/openconsular/consular/api/receipts"
	"github.com/openconsular/consular/api/requests"
	"github.com/openconsular/consular/api/server"
	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/database"
	"github.com/openconsular/consular/internal/logging"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/metrics"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/submission"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/internal/tracing"
	"github.com/openconsular/consular/internal/tracing/fibertracing"
)

const usage = `usage: api [serve | migrate | staff | clients | schedules | closures | verify-receipt [-keys FILE|URL] LINK]
  serve           serve HTTP (the default)
  migrate         apply the database migrations and exit
  staff add --email E --role officer|supervisor|admin [--mission CODE]
                  add a staff member; prints the first password and the TOTP secret
  staff token --email E
                  a new API token for the JSON staff endpoints (printed once)
  staff encrypt-totp
                  encrypt staff TOTP secrets still in clear, or under an older
                  CONSULAR_TOTP_KEY key, with the first one
  clients add --name N --missions A,B [--per-hour N]
                  register an API client (a mission's kiosk) that may submit
                  requests to those missions; prints its token once
  clients list | clients revoke --id ID
                  list the API clients, or revoke one's token at once
  schedules set MISSION FILE.json
                  replace a mission's weekly templates (lists bookings they no longer cover)
  closures add MISSION YYYY-MM-DD [HH:MM HH:MM] REASON
                  close a mission for a day or part of one
  verify-receipt  check a receipt's QR link against the published keys (a saved
                  receipt-keys.json works offline); exit status 0 when genuine`

func main() {
	cfg := config.ForProgram()
	logger := logging.ForProgram(cfg.Log.Format, cfg.Log.Level)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, logger)
	case "migrate":
		err = database.Migrate(ctx, cfg.Database.URL, logger)
	case "staff":
		err = withDatabase(ctx, cfg, func(db *pgxpool.Pool) error { return addStaff(ctx, os.Stdout, db, cfg.Keys.TOTP, os.Args[2:]) })
	case "clients":
		err = withDatabase(ctx, cfg, func(db *pgxpool.Pool) error { return clients(ctx, os.Stdout, db, os.Args[2:]) })
	case "schedules", "closures":
		err = withDatabase(ctx, cfg, func(db *pgxpool.Pool) error { return schedules(ctx, os.Stdout, db, os.Args[2:]) })
	case "verify-receipt":
		err = verifyReceipt(ctx, os.Stdout, cfg.HTTP.PublicURL+receipts.KeysPath, os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		logger.Error(cmd+" failed", "err", err)
		os.Exit(1)
	}
}

func withDatabase(ctx context.Context, cfg config.Config, do func(*pgxpool.Pool) error) error {
	db, err := database.Open(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	return do(db)
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	d, err := open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	app, background, err := newApp(cfg, logger, d)
	if err != nil {
		return err
	}
	go background(ctx)

	errc := make(chan error, 2)
	go func() { errc <- app.Listen(cfg.HTTP.Addr) }()
	logger.Info("api listening", "addr", cfg.HTTP.Addr, "public_url", cfg.HTTP.PublicURL)
	if cfg.HTTP.MetricsAddr != "" {
		// Prometheus scrapes this listener; the public one has no /metrics.
		internal := &http.Server{Addr: cfg.HTTP.MetricsAddr, Handler: metrics.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- internal.ListenAndServe() }()
		defer internal.Close()
		logger.Info("api metrics listening", "addr", cfg.HTTP.MetricsAddr)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	case <-ctx.Done():
	}
	logger.Info("api shutting down: finishing in-flight requests", "timeout", cfg.HTTP.ShutdownTimeout)
	if err := app.ShutdownWithTimeout(cfg.HTTP.ShutdownTimeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Mail queued by the last answers (codes, receipts sent again) goes out before the process ends.
	sent, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := web.Mail.Wait(sent); err != nil {
		logger.Warn("api stopped with mail still queued", "err", err)
	}
	logger.Info("api stopped")
	return nil
}

// dependencies are the clients of the four servers the API talks to.
type dependencies struct {
	db       *pgxpool.Pool
	temporal client.Client
	objects  *minio.Client
	smtp     *mail.Server
	tracing  *tracing.Tracing // nil: tracing off
}

// open makes the clients; none connects yet, so a server that is down shows
// in /readyz instead of stopping the API.
func open(ctx context.Context, cfg config.Config, logger *slog.Logger) (dependencies, error) {
	tr, err := tracing.Start(ctx, cfg.Tracing, "consular-api", logger)
	if err != nil {
		return dependencies{}, err
	}
	return openWith(ctx, cfg, logger, tr)
}

// openWith is open with a tracer of the caller's (nil: none).
func openWith(ctx context.Context, cfg config.Config, logger *slog.Logger, tr *tracing.Tracing) (dependencies, error) {
	d := dependencies{tracing: tr}
	var err error
	if d.db, err = database.Open(ctx, cfg.Database.URL); err != nil {
		_ = tr.Shutdown(ctx)
		return d, err
	}
	if d.temporal, err = temporalclient.New(cfg.Temporal, cfg.Keys.Payload, logger, nil, tr.TemporalInterceptors()...); err != nil {
		d.close()
		return d, err
	}
	if d.objects, err = storage.New(cfg.Storage); err != nil {
		d.close()
		return d, err
	}
	d.smtp = mail.New(cfg.Mail)
	return d, nil
}

func (d dependencies) close() {
	if d.temporal != nil {
		d.temporal.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.tracing.Shutdown(ctx) // the spans still buffered
}

// newApp mounts every route on the shared middleware, and returns the work
// the API does in the background (the appointments' reconciliation, and
// starting requests saved while Temporal was unreachable).
func newApp(cfg config.Config, logger *slog.Logger, d dependencies) (*fiber.App, func(context.Context), error) {
	messages, err := web.LoadCatalogue()
	if err != nil {
		return nil, nil, err
	}
	renderer, err := web.NewRenderer(messages)
	if err != nil {
		return nil, nil, err
	}
	limits := &web.Limiter{DB: d.db, Key: cfg.Keys.Limits}
	submissions := &submission.Submitter{Config: cfg, DB: d.db, Temporal: d.temporal, Objects: d.objects, Logger: logger}
	pages := &portal.Portal{Config: cfg, DB: d.db, Objects: d.objects, SMTP: d.smtp, Render: renderer, Logger: logger, Submissions: submissions,
		Sessions: &web.Sessions{DB: d.db, Cookie: "consular_session", Idle: cfg.Portal.SessionIdle, Lifetime: web.ApplicantLifetime,
			Secure: cfg.Portal.CookieSecure, CSRFKey: cfg.Keys.CSRF},
		Captchas: &web.Captchas{DB: d.db, TestAnswer: cfg.Portal.CaptchaTestAnswer},
		Limits:   limits,
	}
	pages.Sessions.Expired = pages.SignInAgain
	app := server.New(server.Options{Logger: logger, RequestTimeout: cfg.HTTP.RequestTimeout, TrustedProxies: cfg.HTTP.TrustedProxies,
		HSTS: cfg.Env == config.Production, Bodies: bodyLimits(), HTMLErrors: pages.ErrorPage})
	if d.tracing != nil {
		app.Use(fibertracing.Middleware(d.tracing)) // after server.New's, which set the request's context
	}
	probes := &health.Handlers{
		Timeout:    3 * time.Second,
		ShowErrors: cfg.Env != config.Production,
		Logger:     logger,
		Checks: []health.Check{
			{Name: "postgres", Probe: d.db.Ping, Essential: true},
			{Name: "temporal", Probe: func(ctx context.Context) error {
				return temporalclient.Ping(ctx, d.temporal, cfg.Temporal.Namespace)
			}},
			{Name: "minio", Probe: func(ctx context.Context) error {
				return storage.Ping(ctx, d.objects, storage.Buckets(cfg.Storage)...)
			}},
			{Name: "smtp", Probe: d.smtp.Ping},
		},
	}
	probes.Register(app)
	if err := metrics.Registry.Register(metrics.RequestsByStatus(d.db)); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		return nil, nil, err
	}
	if cfg.HTTP.MetricsAddr == "" { // development: on the public listener, which is loopback there
		app.Get("/metrics", adaptor.HTTPHandler(metrics.Handler()))
	}
	booker := &appointments.Booker{DB: d.db, Temporal: d.temporal, Limits: pages.Limits, Config: cfg.Booking, Logger: logger}
	(&requests.Handlers{Config: cfg, DB: d.db, Temporal: d.temporal, Objects: d.objects, Limits: limits, Logger: logger,
		Submissions: submissions, Appointments: booker, Messages: renderer.Messages}).Register(app)
	(&receipts.Handlers{Keys: cfg.Keys.ReceiptKeys, DB: d.db}).Register(app)
	(&booking.API{Booker: booker, Messages: renderer.Messages}).Register(app)
	web.Static(app)
	// The dashboard before the applicants' pages: their middleware, on every
	// route registered after it, must not run for /staff.
	dashboard := &staff.Dashboard{Config: cfg, DB: d.db, Temporal: d.temporal, Objects: d.objects, Render: renderer, Logger: logger, SMTP: d.smtp,
		Sessions: &web.Sessions{DB: d.db, Table: "staff_sessions", Owner: "staff_id", Cookie: "consular_staff",
			Idle: 15 * time.Minute, Lifetime: web.StaffLifetime, Secure: cfg.Portal.CookieSecure, CSRFKey: cfg.Keys.CSRF}}
	dashboard.Register(app)
	payloads, err := codec.New(cfg.Keys.Payload)
	if err != nil {
		return nil, nil, err
	}
	(&operators.Codec{Codec: payloads, OperatorToken: cfg.Keys.Operator, UIOrigin: cfg.Temporal.UIOrigin, IsAdmin: dashboard.IsAdmin}).Register(app)
	site := app.Group("", web.SecurityHeaders, pages.Sessions.Middleware)
	pages.Register(site)
	(&booking.Pages{Booker: booker, Render: renderer, Sessions: pages.Sessions, Captchas: pages.Captchas, Limits: pages.Limits, LinkKey: cfg.Keys.Links,
		Receipts: func(ctx context.Context, code, _ string) error { return booker.SendReceiptAgain(ctx, code) }}).Register(site)
	return app, func(ctx context.Context) {
		go encryptTOTPAtStart(ctx, d.db, cfg.Keys.TOTP, logger)
		go submissions.KeepStartingPending(ctx, time.Minute)
		booker.RunReconciliation(ctx, time.Minute)
	}, nil
}

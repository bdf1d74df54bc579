// Package config reads the process configuration from environment variables,
// once, at start. Every variable has a development default; a value that does
// not parse stops the process with a message naming the variable. No other
// package reads the environment.
package config

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/receipt"
)

// Environment says where the process runs; production refuses development
// shortcuts such as default secrets.
type Environment string

const (
	Development Environment = "development"
	Test        Environment = "test"
	Production  Environment = "production"
)

// Config is everything the API and the worker need to know about their surroundings.
type Config struct {
	Env      Environment
	Log      Log
	HTTP     HTTP
	Database Database
	Temporal Temporal
	Storage  Storage
	Mail     Mail
	Requests Requests
	Keys     Keys
	Portal   Portal
	Booking  Booking
	Tracing  Tracing
}

// Tracing is where OpenTelemetry spans go. It is off (no exporter, no
// interceptor, no middleware) unless an OTLP endpoint is set. The variables
// are OpenTelemetry's own, so a collector's usual setup (or the OpenTelemetry
// operator's injection) works unchanged; the exporter also reads the
// standard's other OTEL_EXPORTER_OTLP_* variables (headers, certificate,
// timeout) and the SDK reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and
// OTEL_TRACES_SAMPLER itself.
type Tracing struct {
	Endpoint string // base URL of the OTLP receiver, e.g. http://collector:4318; empty: tracing off
	Protocol string // "http/protobuf" or "grpc"
}

// Booking is the appointment system's rules.
type Booking struct {
	LeadTime           time.Duration // the earliest slot offered is this far ahead
	ChangeCutoff       time.Duration // no online reschedule or cancel closer than this to the appointment
	MaxReschedules     int
	LookupsPerIP       int // national ID + tracking code lookups per IP per 15 minutes
	LookupsPerCode     int // per tracking code per 15 minutes
	FailuresBeforeLock int // failed lookups of one tracking code that lock it for 30 minutes
}

// Portal is how the applicants' pages behave.
type Portal struct {
	CookieSecure bool          // session cookies only over HTTPS
	SessionIdle  time.Duration // a session unused this long ends
	// CaptchaTestAnswer is accepted for every captcha: for development and
	// browser tests only; refused in production.
	CaptchaTestAnswer string
}

// Requests is the timing every new request lives by.
type Requests struct {
	Deadline  time.Duration   // from submission to archive without a visit (90 days)
	Reminders []time.Duration // before the deadline, to applicants without an appointment
	Retention time.Duration   // documents kept after a decision
	// PurgeAfter is how long a finished request keeps the applicant's
	// personal data and documents; the daily purge removes them after it.
	PurgeAfter time.Duration
	// DraftsKept is how long an unsubmitted draft (and the documents
	// uploaded to it) is kept after its last change; the daily purge
	// deletes it after.
	DraftsKept time.Duration
}

// Keys are the secrets: payload encryption, receipt signing, link signing, staff API access.
type Keys struct {
	Payload     []codec.Key    // the first encrypts; all decrypt
	Receipt     receipt.Signer // signs new receipts' QR links
	ReceiptKeys receipt.KeySet // every public key a receipt may be signed with (published)
	// One HMAC key per purpose, each derived from CONSULAR_LINK_KEY with a
	// label of its own (HKDF-SHA256), so a token made for one purpose is
	// worth nothing for another; rotating that variable rotates them all.
	OTP       []byte // one-time sign-in codes, as stored
	Receipts  []byte // receipt download links
	Submitted []byte // the success page right after a submission
	Links     []byte // signed links in appointment emails (reschedule or cancel)
	CSRF      []byte // form tokens of visitors who have no session yet
	Kept      []byte // encrypts forms kept in a session across a timeout
	Limits    []byte // names rate limits kept per email address
	// TOTP encrypts staff members' TOTP secrets at rest (package
	// totpsecret), apart from every other key: the first encrypts, all decrypt.
	TOTP     []codec.Key
	StaffAPI string // bearer key of the staff JSON API until staff accounts exist
	Operator string // bearer token of the codec endpoints (Temporal UI)
}

type Log struct {
	Format string // "text" or "json"
	Level  string // "debug", "info", "warn" or "error"
}

type HTTP struct {
	Addr       string // where the API listens
	WorkerAddr string // where the worker serves /healthz and /metrics
	// MetricsAddr is the API's own listener for /metrics, apart from the
	// public one; empty: /metrics on the public listener (development only).
	MetricsAddr     string
	PublicURL       string        // how applicants reach the API; used in emails and receipts
	ShutdownTimeout time.Duration // how long in-flight requests get to finish on SIGTERM
	RequestTimeout  time.Duration // deadline of each request's context
	// TrustedProxies are the reverse proxies (ingress, load balancer) whose
	// X-Forwarded-For is believed; from any other peer the header is
	// ignored. Empty: the peer itself is the client.
	TrustedProxies []netip.Prefix
}

type Database struct {
	URL string
}

type Temporal struct {
	// Worker tuning (see the README for how the defaults were chosen).
	WorkflowPollers int
	ActivityPollers int
	MaxActivities   int // activities running at once per worker
	StickyCacheSize int // workflows kept in memory between tasks, per process
	Address         string
	Namespace       string
	TaskQueue       string
	UIOrigin        string // the Temporal Web UI, allowed to call the codec endpoints
	TLS             TemporalTLS
}

// TemporalTLS is how the client secures its connection to the Temporal
// frontend. The files are paths, not contents: the client reads the
// certificate and key again when they change, so a rotated certificate is used
// from the next connection on without a restart.
type TemporalTLS struct {
	CAFile     string // PEM CA certificates the server's certificate must chain to; empty: the system's roots
	CertFile   string // PEM client certificate (mTLS); with KeyFile
	KeyFile    string // PEM private key of CertFile
	ServerName string // the name the server's certificate must carry; empty: the host of the address
}

// Enabled says whether the connection uses TLS: it does as soon as any of
// the settings is given.
func (t TemporalTLS) Enabled() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

type Storage struct {
	Endpoint        string // host:port of MinIO (or another S3-compatible server)
	AccessKey       string
	SecretKey       string
	UseTLS          bool
	DocumentsBucket string
	ReceiptsBucket  string
}

type Mail struct {
	Host       string
	Port       int
	Username   string
	Password   string
	Encryption string // "none", "starttls" or "tls"
	From       string
	Timeout    time.Duration
	// RootCAs are the certificate authorities the SMTP server's certificate
	// must chain to (CONSULAR_SMTP_CA_FILE); nil: the system's roots.
	RootCAs *x509.CertPool
}

// ForProgram is FromEnvironment for a program's main: a configuration that
// does not read is printed, every problem named, and the program exits 2.
func ForProgram() Config {
	cfg, err := FromEnvironment()
	if err != nil {
		fmt.Fprintf(os.Stderr, "configuration:\n%v\n", err)
		os.Exit(2)
	}
	return cfg
}

// FromEnvironment reads the configuration from the process environment.
func FromEnvironment() (Config, error) {
	return Load(os.LookupEnv)
}

// Load reads the configuration through lookup, so tests can pass a map.
func Load(lookup func(string) (string, bool)) (Config, error) {
	return loadWith(&reader{lookup: lookup})
}

func loadWith(r *reader) (Config, error) {
	var c Config
	// No default: a forgotten variable must not quietly mean "development",
	// whose keys derive from strings anyone can read in this repository.
	c.Env = Environment(r.oneOf("CONSULAR_ENV", "", string(Development), string(Test), string(Production)))
	r.production = c.Env == Production

	c.Log = r.log()
	c.HTTP = r.http()
	c.Database.URL = r.url("CONSULAR_DATABASE_URL", "postgres://postgres@127.0.0.1:55432/consular?sslmode=disable")
	c.Temporal = r.temporal()
	c.Storage = r.storage()
	c.Mail = r.mail()
	c.Requests = r.requests()
	c.Keys = r.keys()
	// Read beside the operator token: the Web UI at this origin calls the
	// codec endpoints that token guards.
	c.Temporal.UIOrigin = strings.TrimSuffix(r.url("CONSULAR_TEMPORAL_UI_ORIGIN", "http://127.0.0.1:8233"), "/")
	c.Booking = r.booking()
	c.Tracing = r.tracing()
	c.Portal = r.portal()

	// Last, once every secret has been read and its default noted.
	r.refuseDevDefaultsBeyondLoopback(c.HTTP)
	if r.production && c.Mail.Encryption == "none" {
		r.fail("CONSULAR_SMTP_ENCRYPTION", c.Mail.Encryption, "production mail must be encrypted (starttls or tls)")
	}
	return c, errors.Join(r.errs...)
}

func (r *reader) log() Log {
	defaultFormat := "text"
	if r.production {
		defaultFormat = "json"
	}
	return Log{
		Format: r.oneOf("CONSULAR_LOG_FORMAT", defaultFormat, "text", "json"),
		Level:  r.oneOf("CONSULAR_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
	}
}

func (r *reader) http() HTTP {
	var h HTTP
	h.Addr = r.hostPort("CONSULAR_HTTP_ADDR", "127.0.0.1:8080")
	h.PublicURL = strings.TrimSuffix(r.url("CONSULAR_PUBLIC_URL", "http://127.0.0.1:8080"), "/")
	h.WorkerAddr = r.hostPort("CONSULAR_WORKER_HTTP_ADDR", "127.0.0.1:8081")
	h.ShutdownTimeout = r.duration("CONSULAR_SHUTDOWN_TIMEOUT", 20*time.Second)
	h.RequestTimeout = r.duration("CONSULAR_REQUEST_TIMEOUT", 30*time.Second)
	h.TrustedProxies = r.prefixes("CONSULAR_TRUSTED_PROXIES")
	defaultMetrics := ""
	if r.production {
		defaultMetrics = "0.0.0.0:9090"
	}
	if h.MetricsAddr = r.string("CONSULAR_METRICS_ADDR", defaultMetrics); h.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(h.MetricsAddr); err != nil || port == "" {
			r.fail("CONSULAR_METRICS_ADDR", h.MetricsAddr, "must be host:port")
		} else if h.MetricsAddr == h.Addr {
			r.fail("CONSULAR_METRICS_ADDR", h.MetricsAddr, "must differ from CONSULAR_HTTP_ADDR: /metrics stays off the public listener")
		}
	}
	return h
}

// temporal reads the connection and the worker's tuning; UIOrigin is read
// with the keys.
func (r *reader) temporal() Temporal {
	return Temporal{
		Address:   r.hostPort("CONSULAR_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		Namespace: r.name("CONSULAR_TEMPORAL_NAMESPACE", "consular"),
		TaskQueue: r.name("CONSULAR_TEMPORAL_TASK_QUEUE", "consular-requests"),
		TLS: r.temporalTLS("CONSULAR_TEMPORAL_TLS_CA_FILE", "CONSULAR_TEMPORAL_TLS_CERT_FILE",
			"CONSULAR_TEMPORAL_TLS_KEY_FILE", "CONSULAR_TEMPORAL_TLS_SERVER_NAME"),
		WorkflowPollers: r.count("CONSULAR_WORKER_WORKFLOW_POLLERS", 8),
		ActivityPollers: r.count("CONSULAR_WORKER_ACTIVITY_POLLERS", 2),
		MaxActivities:   r.count("CONSULAR_WORKER_MAX_ACTIVITIES", 50),
		StickyCacheSize: r.count("CONSULAR_WORKER_STICKY_CACHE", 2000),
	}
}

func (r *reader) storage() Storage {
	return Storage{
		Endpoint:        r.hostPort("CONSULAR_MINIO_ENDPOINT", "127.0.0.1:9000"),
		AccessKey:       r.secret("CONSULAR_MINIO_ACCESS_KEY", "consular"),
		SecretKey:       r.secret("CONSULAR_MINIO_SECRET_KEY", "consular-dev-secret"),
		UseTLS:          r.bool("CONSULAR_MINIO_TLS", false),
		DocumentsBucket: r.name("CONSULAR_MINIO_DOCUMENTS_BUCKET", "consular-documents"),
		ReceiptsBucket:  r.name("CONSULAR_MINIO_RECEIPTS_BUCKET", "consular-receipts"),
	}
}

func (r *reader) mail() Mail {
	return Mail{
		Host:       r.name("CONSULAR_SMTP_HOST", "127.0.0.1"),
		Port:       r.port("CONSULAR_SMTP_PORT", 1025),
		Username:   r.string("CONSULAR_SMTP_USERNAME", ""),
		Password:   r.string("CONSULAR_SMTP_PASSWORD", ""),
		Encryption: r.oneOf("CONSULAR_SMTP_ENCRYPTION", "none", "none", "starttls", "tls"),
		From:       r.email("CONSULAR_MAIL_FROM", "Consular Services <no-reply@consular.example>"),
		Timeout:    r.duration("CONSULAR_SMTP_TIMEOUT", 10*time.Second),
		RootCAs:    r.certPool("CONSULAR_SMTP_CA_FILE"),
	}
}

func (r *reader) requests() Requests {
	return Requests{
		Deadline:   r.duration("CONSULAR_REQUEST_DEADLINE", 90*24*time.Hour),
		Reminders:  r.durations("CONSULAR_REMINDERS", "720h,168h,24h"),
		Retention:  r.duration("CONSULAR_DOCUMENT_RETENTION", 30*24*time.Hour),
		PurgeAfter: r.duration("CONSULAR_PURGE_AFTER", 365*24*time.Hour),
		DraftsKept: r.duration("CONSULAR_DRAFTS_KEPT", 30*24*time.Hour),
	}
}

func (r *reader) keys() Keys {
	var k Keys
	k.Payload = r.payloadKeys("CONSULAR_PAYLOAD_KEYS", "dev-1:"+devSecret("payload", 32))
	k.Receipt, k.ReceiptKeys = r.receiptKeys("CONSULAR_RECEIPT_SIGNING_KEY", "dev-1:"+devSecret("receipt", ed25519.SeedSize),
		"CONSULAR_RECEIPT_PREVIOUS_KEYS")
	links := r.base64Key("CONSULAR_LINK_KEY", devSecret("links", 32))
	k.OTP = subKey(links, "consular one-time codes v1")
	k.Receipts = subKey(links, "consular receipt downloads v1")
	k.Submitted = subKey(links, "consular submission pages v1")
	k.Links = subKey(links, "consular appointment links v1")
	k.CSRF = subKey(links, "consular form tokens v1")
	k.Kept = subKey(links, "consular kept forms v1")
	k.Limits = subKey(links, "consular rate limit names v1")
	k.TOTP = r.payloadKeys("CONSULAR_TOTP_KEY", "dev-1:"+devSecret("totp", 32))
	if !r.production { // staff use their own tokens in production
		k.StaffAPI = r.secret("CONSULAR_STAFF_API_KEY", "dev-staff-key")
	}
	k.Operator = r.secret("CONSULAR_OPERATOR_TOKEN", "dev-operator-token")
	return k
}

func (r *reader) booking() Booking {
	return Booking{
		LeadTime:           r.duration("CONSULAR_BOOKING_LEAD_TIME", 24*time.Hour),
		ChangeCutoff:       r.duration("CONSULAR_BOOKING_CHANGE_CUTOFF", 24*time.Hour),
		MaxReschedules:     r.count("CONSULAR_BOOKING_MAX_RESCHEDULES", 2),
		LookupsPerIP:       r.count("CONSULAR_BOOKING_LOOKUPS_PER_IP", 30),
		LookupsPerCode:     r.count("CONSULAR_BOOKING_LOOKUPS_PER_CODE", 10),
		FailuresBeforeLock: r.count("CONSULAR_BOOKING_FAILURES_BEFORE_LOCK", 5),
	}
}

func (r *reader) tracing() Tracing {
	var t Tracing
	t.Endpoint = r.string("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if t.Endpoint != "" {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail("OTEL_EXPORTER_OTLP_ENDPOINT", t.Endpoint, "must be an http:// or https:// URL such as http://collector:4318")
		}
	}
	t.Protocol = r.oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf", "grpc")
	return t
}

func (r *reader) portal() Portal {
	p := Portal{
		CookieSecure:      r.bool("CONSULAR_COOKIE_SECURE", r.production),
		SessionIdle:       r.duration("CONSULAR_SESSION_IDLE", 30*time.Minute),
		CaptchaTestAnswer: r.string("CONSULAR_CAPTCHA_TEST_ANSWER", ""),
	}
	if r.production && p.CaptchaTestAnswer != "" {
		r.fail("CONSULAR_CAPTCHA_TEST_ANSWER", "(hidden)", "is for development and tests only; unset it in production")
	}
	if r.production && !p.CookieSecure {
		r.fail("CONSULAR_COOKIE_SECURE", "false", "production cookies must be Secure (HTTPS only)")
	}
	return p
}

// refuseDevDefaultsBeyondLoopback: development defaults are public, fine on
// this machine's loopback, never on a port others can reach.
func (r *reader) refuseDevDefaultsBeyondLoopback(h HTTP) {
	if len(r.devDefaults) == 0 {
		return
	}
	for _, listener := range []struct{ name, addr string }{{"CONSULAR_HTTP_ADDR", h.Addr}, {"CONSULAR_WORKER_HTTP_ADDR", h.WorkerAddr}} {
		if !loopback(listener.addr) {
			r.fail(listener.name, listener.addr, "listens beyond this machine while "+strings.Join(r.devDefaults, ", ")+
				" use development defaults that anyone can read in the source: set them (and CONSULAR_ENV=production), or listen on 127.0.0.1")
		}
	}
}

// reader collects every bad variable, so one start reports them all.
type reader struct {
	lookup      func(string) (string, bool)
	production  bool
	devDefaults []string // secrets left at their development default
	errs        []error
	names       []string // every variable read, in order; the README documents each
}

func (r *reader) fail(name, value, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

func (r *reader) string(name, def string) string {
	r.names = append(r.names, name)
	if v, ok := r.lookup(name); ok && v != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// secret is a string whose development default is refused in production.
func (r *reader) secret(name, devDefault string) string {
	v := r.string(name, "")
	if v != "" {
		return v
	}
	if r.production {
		r.fail(name, "", "must be set in production")
	}
	r.devDefaults = append(r.devDefaults, name)
	return devDefault
}

// certPool reads a PEM file of CA certificates; unset: nil (the system's roots).
func (r *reader) certPool(name string) *x509.CertPool {
	path := r.string(name, "")
	if path == "" {
		return nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		r.fail(name, path, "cannot be read: "+err.Error())
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		r.fail(name, path, "holds no PEM certificate")
		return nil
	}
	return pool
}

// loopback says whether a host:port listens on this machine only.
func loopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.string(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	if v == "" {
		r.fail(name, v, "must be set, to one of "+strings.Join(allowed, ", "))
	} else {
		r.fail(name, v, "must be one of "+strings.Join(allowed, ", "))
	}
	return def
}

func (r *reader) name(name, def string) string {
	v := r.string(name, def)
	if v == "" || strings.ContainsAny(v, " \t/") {
		r.fail(name, v, "must be a non-empty name without spaces or slashes")
	}
	return v
}

func (r *reader) hostPort(name, def string) string {
	v := r.string(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		r.fail(name, v, "must be host:port")
	}
	return v
}

func (r *reader) port(name string, def int) int {
	v := r.string(name, strconv.Itoa(def))
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		r.fail(name, v, "must be a port number from 1 to 65535")
		return def
	}
	return p
}

func (r *reader) count(name string, def int) int {
	v := r.string(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.fail(name, v, "must be a whole number, 0 or more")
		return def
	}
	return n
}

func (r *reader) url(name, def string) string {
	v := r.string(name, def)
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		r.fail(name, v, "must be an absolute URL")
	}
	return v
}

func (r *reader) email(name, def string) string {
	v := r.string(name, def)
	if !strings.Contains(v, "@") {
		r.fail(name, v, "must be an email address, optionally with a display name")
	}
	return v
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.string(name, def.String())
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "must be a positive duration such as 30s or 5m")
		return def
	}
	return d
}

func (r *reader) durations(name, def string) []time.Duration {
	v := r.string(name, def)
	var out []time.Duration
	for _, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			r.fail(name, v, "must be a comma-separated list of positive durations such as 720h,168h,24h")
			return nil
		}
		out = append(out, d)
	}
	return out
}

// subKey derives the key of one purpose from a master key.
func subKey(master []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF cannot give; 32 bytes it always can
	}
	return key
}

// devSecret is a development default key: fixed, so make dev keeps reading
// what it wrote, and refused in production like every default secret.
func devSecret(purpose string, size int) string {
	sum := sha512.Sum512([]byte("consular development key: " + purpose))
	return base64.StdEncoding.EncodeToString(sum[:size])
}

func (r *reader) payloadKeys(name, devDefault string) []codec.Key {
	v := r.secret(name, devDefault)
	keys, err := codec.ParseKeys(v)
	if err != nil {
		r.fail(name, "(hidden)", err.Error())
	}
	return keys
}

func (r *reader) base64Key(name, devDefault string) []byte {
	v := r.secret(name, devDefault)
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) < 32 {
		r.fail(name, "(hidden)", "must be at least 32 bytes, base64")
	}
	return key
}

// receiptKeys reads the active signing key ("kid:base64 Ed25519 seed") and
// the public keys of earlier ones ("kid:base64 public key,..."), which still
// verify receipts printed before a rotation.
func (r *reader) receiptKeys(name, devDefault, previousName string) (receipt.Signer, receipt.KeySet) {
	keys := receipt.KeySet{}
	var signer receipt.Signer
	v := r.secret(name, devDefault)
	kid, b64, ok := strings.Cut(v, ":")
	seed, err := base64.StdEncoding.DecodeString(b64)
	if !ok || kid == "" || err != nil || len(seed) != ed25519.SeedSize {
		r.fail(name, "(hidden)", "must be kid:base64 of a 32-byte Ed25519 seed")
	} else {
		signer = receipt.Signer{KeyID: kid, Key: ed25519.NewKeyFromSeed(seed)}
		keys[kid] = signer.Key.Public().(ed25519.PublicKey)
	}
	if prev := r.string(previousName, ""); prev != "" {
		for _, part := range strings.Split(prev, ",") {
			kid, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
			pub, err := base64.StdEncoding.DecodeString(b64)
			if !ok || kid == "" || err != nil || len(pub) != ed25519.PublicKeySize {
				r.fail(previousName, prev, "must be kid:base64 of a 32-byte Ed25519 public key, comma-separated")
				break
			}
			keys[kid] = ed25519.PublicKey(pub)
		}
	}
	return signer, keys
}

// temporalTLS reads the Temporal client's TLS files and checks them now, so
// a wrong path or a certificate without its key stops the process at start
// rather than showing up as a failed handshake later.
func (r *reader) temporalTLS(caName, certName, keyName, serverName string) TemporalTLS {
	t := TemporalTLS{
		CAFile:     r.string(caName, ""),
		CertFile:   r.string(certName, ""),
		KeyFile:    r.string(keyName, ""),
		ServerName: r.string(serverName, ""),
	}
	if t.ServerName != "" && strings.ContainsAny(t.ServerName, " \t/:") {
		r.fail(serverName, t.ServerName, "must be a host name (no port)")
	}
	if t.CAFile != "" {
		if pem, err := os.ReadFile(t.CAFile); err != nil {
			r.fail(caName, t.CAFile, "cannot read: "+err.Error())
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			r.fail(caName, t.CAFile, "holds no PEM certificate")
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		r.fail(keyName, "", "must be set with "+certName+" (the client certificate's private key)")
	case t.CertFile == "" && t.KeyFile != "":
		r.fail(certName, "", "must be set with "+keyName+" (the client certificate for that key)")
	case t.CertFile != "":
		cert, certErr := os.ReadFile(t.CertFile)
		if certErr != nil {
			r.fail(certName, t.CertFile, "cannot read: "+certErr.Error())
		}
		key, keyErr := os.ReadFile(t.KeyFile)
		if keyErr != nil {
			r.fail(keyName, t.KeyFile, "cannot read: "+keyErr.Error())
		}
		if certErr == nil && keyErr == nil {
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				r.fail(certName, t.CertFile, "is not a PEM certificate matching "+keyName+": "+err.Error())
			}
		}
	}
	return t
}

// prefixes reads a comma-separated list of CIDRs; a bare address stands for itself.
func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, item := range strings.Split(r.string(name, ""), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				r.fail(name, item, "must be a comma-separated list of CIDRs or addresses, such as 10.0.0.0/8,192.168.1.10")
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

func (r *reader) bool(name string, def bool) bool {
	v := r.string(name, strconv.FormatBool(def))
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "must be true or false")
		return def
	}
	return b
}

package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is a process environment of kv, in development unless kv says otherwise.
func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		if !ok && k == "CONSULAR_ENV" {
			return string(Development), true
		}
		return v, ok
	}
}

func TestStartingWithoutAnEnvironmentIsRefused(t *testing.T) {
	_, err := Load(func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "CONSULAR_ENV") {
		t.Fatalf("no CONSULAR_ENV: %v, want an error naming it", err)
	}
}

func TestDevelopmentKeysAreRefusedBeyondLoopback(t *testing.T) {
	for _, name := range []string{"CONSULAR_HTTP_ADDR", "CONSULAR_WORKER_HTTP_ADDR"} {
		_, err := Load(env(map[string]string{name: "0.0.0.0:8080"}))
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "CONSULAR_LINK_KEY") {
			t.Errorf("development defaults on %s=0.0.0.0: %v, want an error naming it and the default keys", name, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:8080"} {
		if _, err := Load(env(map[string]string{"CONSULAR_HTTP_ADDR": addr})); err != nil {
			t.Errorf("development on loopback %s refused: %v", addr, err)
		}
	}
	// Every secret set: any address will do, in development too (compose).
	secrets := map[string]string{"CONSULAR_HTTP_ADDR": "0.0.0.0:8080",
		"CONSULAR_MINIO_ACCESS_KEY": "k", "CONSULAR_MINIO_SECRET_KEY": "s", "CONSULAR_STAFF_API_KEY": "staff", "CONSULAR_OPERATOR_TOKEN": "op",
		"CONSULAR_PAYLOAD_KEYS":        "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"CONSULAR_RECEIPT_SIGNING_KEY": "r1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"CONSULAR_LINK_KEY":            base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"CONSULAR_TOTP_KEY":            "t1:" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
	if _, err := Load(env(secrets)); err != nil {
		t.Errorf("development with its own secrets on 0.0.0.0 refused: %v", err)
	}
}

func TestDefaultsAreTheDevStacks(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != Development || c.Log.Format != "text" || c.HTTP.Addr != "127.0.0.1:8080" ||
		c.Temporal.Namespace != "consular" || c.Mail.Port != 1025 || c.HTTP.ShutdownTimeout != 20*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if !strings.Contains(c.Database.URL, ":55432/") {
		t.Errorf("database default %q does not point at the dev stack's PostgreSQL (port 55432)", c.Database.URL)
	}
}

func TestBadValuesAreAllNamedAtOnce(t *testing.T) {
	_, err := Load(env(map[string]string{
		"CONSULAR_HTTP_ADDR":          "8080",
		"CONSULAR_SMTP_PORT":          "70000",
		"CONSULAR_SHUTDOWN_TIMEOUT":   "soon",
		"CONSULAR_LOG_FORMAT":         "xml",
		"CONSULAR_MINIO_TLS":          "maybe",
		"CONSULAR_PUBLIC_URL":         "example.org",
		"CONSULAR_TEMPORAL_NAMESPACE": "a b",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, name := range []string{"CONSULAR_HTTP_ADDR", "CONSULAR_SMTP_PORT", "CONSULAR_SHUTDOWN_TIMEOUT",
		"CONSULAR_LOG_FORMAT", "CONSULAR_MINIO_TLS", "CONSULAR_PUBLIC_URL", "CONSULAR_TEMPORAL_NAMESPACE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestProductionRefusesDevelopmentSecretsAndPlainSMTP(t *testing.T) {
	_, err := Load(env(map[string]string{"CONSULAR_ENV": "production"}))
	if err == nil {
		t.Fatal("production started with development secrets")
	}
	for _, name := range []string{"CONSULAR_MINIO_ACCESS_KEY", "CONSULAR_MINIO_SECRET_KEY", "CONSULAR_SMTP_ENCRYPTION",
		"CONSULAR_PAYLOAD_KEYS", "CONSULAR_RECEIPT_SIGNING_KEY", "CONSULAR_LINK_KEY", "CONSULAR_OPERATOR_TOKEN", "CONSULAR_TOTP_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	c, err := Load(env(map[string]string{"CONSULAR_ENV": "production", "CONSULAR_MINIO_ACCESS_KEY": "k",
		"CONSULAR_MINIO_SECRET_KEY": "s", "CONSULAR_SMTP_ENCRYPTION": "starttls", "CONSULAR_PAYLOAD_KEYS": "p1:" + key,
		"CONSULAR_RECEIPT_SIGNING_KEY": "r1:" + key, "CONSULAR_LINK_KEY": key, "CONSULAR_STAFF_API_KEY": "s3cret",
		"CONSULAR_OPERATOR_TOKEN": "op", "CONSULAR_TOTP_KEY": "t1:" + key}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Format != "json" {
		t.Errorf("production logs as %q, want json", c.Log.Format)
	}
}

// Every variable the code reads has a row in the README's configuration table.
func TestEveryVariableIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{lookup: env(nil)}
	_, _ = loadWith(r)
	if len(r.names) < 10 {
		t.Fatalf("only %d variables recorded", len(r.names))
	}
	for _, name := range r.names {
		if !strings.Contains(string(readme), "| `"+name+"`") {
			t.Errorf("README.md has no row for %s", name)
		}
	}
}

func TestReceiptKeysPublishTheActiveAndPreviousKeys(t *testing.T) {
	seed := base64.StdEncoding.EncodeToString(make([]byte, 32))
	pub := base64.StdEncoding.EncodeToString(make([]byte, 32))
	c, err := Load(env(map[string]string{"CONSULAR_RECEIPT_SIGNING_KEY": "2026-11:" + seed, "CONSULAR_RECEIPT_PREVIOUS_KEYS": "2026-01:" + pub}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys.Receipt.KeyID != "2026-11" || len(c.Keys.ReceiptKeys) != 2 || c.Keys.ReceiptKeys["2026-01"] == nil {
		t.Fatalf("signer %q, published keys %v", c.Keys.Receipt.KeyID, c.Keys.ReceiptKeys)
	}
	if _, err := Load(env(map[string]string{"CONSULAR_RECEIPT_SIGNING_KEY": "no-colon"})); err == nil {
		t.Fatal("a malformed signing key was accepted")
	}
}

func TestTemporalTLSIsOffUntilConfigured(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.TLS.Enabled() {
		t.Fatalf("TLS on by default: %+v", c.Temporal.TLS)
	}
	dir := t.TempDir()
	ca, cert, key := writePEM(t, dir, "ca"), writePEM(t, dir, "client"), filepath.Join(dir, "client.key")
	c, err = Load(env(map[string]string{"CONSULAR_TEMPORAL_TLS_CA_FILE": ca, "CONSULAR_TEMPORAL_TLS_CERT_FILE": cert,
		"CONSULAR_TEMPORAL_TLS_KEY_FILE": key, "CONSULAR_TEMPORAL_TLS_SERVER_NAME": "temporal.example.internal"}))
	if err != nil {
		t.Fatal(err)
	}
	want := TemporalTLS{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "temporal.example.internal"}
	if !c.Temporal.TLS.Enabled() || c.Temporal.TLS != want {
		t.Fatalf("TLS %+v, want %+v on", c.Temporal.TLS, want)
	}
}

func TestTemporalTLSNamesTheVariableThatIsWrong(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writePEM(t, dir, "ca"), writePEM(t, dir, "client"), filepath.Join(dir, "client.key")
	otherKey := filepath.Join(dir, "other.key")
	writePEM(t, dir, "other")
	notPEM := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"certificate without key", map[string]string{"CONSULAR_TEMPORAL_TLS_CERT_FILE": cert},
			`CONSULAR_TEMPORAL_TLS_KEY_FILE="": must be set with CONSULAR_TEMPORAL_TLS_CERT_FILE`},
		{"key without certificate", map[string]string{"CONSULAR_TEMPORAL_TLS_KEY_FILE": key},
			`CONSULAR_TEMPORAL_TLS_CERT_FILE="": must be set with CONSULAR_TEMPORAL_TLS_KEY_FILE`},
		{"CA file missing", map[string]string{"CONSULAR_TEMPORAL_TLS_CA_FILE": filepath.Join(dir, "nope.crt")},
			"CONSULAR_TEMPORAL_TLS_CA_FILE=" + `"` + filepath.Join(dir, "nope.crt") + `": cannot read`},
		{"CA file without a certificate", map[string]string{"CONSULAR_TEMPORAL_TLS_CA_FILE": notPEM},
			"CONSULAR_TEMPORAL_TLS_CA_FILE=" + `"` + notPEM + `": holds no PEM certificate`},
		{"key file missing", map[string]string{"CONSULAR_TEMPORAL_TLS_CA_FILE": ca, "CONSULAR_TEMPORAL_TLS_CERT_FILE": cert,
			"CONSULAR_TEMPORAL_TLS_KEY_FILE": filepath.Join(dir, "nope.key")}, "CONSULAR_TEMPORAL_TLS_KEY_FILE=" + `"` + filepath.Join(dir, "nope.key") + `": cannot read`},
		{"key of another certificate", map[string]string{"CONSULAR_TEMPORAL_TLS_CERT_FILE": cert, "CONSULAR_TEMPORAL_TLS_KEY_FILE": otherKey},
			"CONSULAR_TEMPORAL_TLS_CERT_FILE=" + `"` + cert + `": is not a PEM certificate matching CONSULAR_TEMPORAL_TLS_KEY_FILE`},
		{"server name with a port", map[string]string{"CONSULAR_TEMPORAL_TLS_SERVER_NAME": "temporal:7233"},
			`CONSULAR_TEMPORAL_TLS_SERVER_NAME="temporal:7233": must be a host name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %s", err, tc.want)
			}
		})
	}
}

// writePEM writes a self-signed certificate and its key as NAME.crt and
// NAME.key in dir and returns the certificate's path.
func writePEM(t *testing.T, dir, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, name+".crt")
	for path, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der},
		filepath.Join(dir, name+".key"): {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile
}

func TestTracingIsOffUntilAnOTLPEndpointIsSet(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tracing.Endpoint != "" || c.Tracing.Protocol != "http/protobuf" {
		t.Fatalf("tracing defaults %+v, want off over http/protobuf", c.Tracing)
	}
	c, err = Load(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}))
	if err != nil || c.Tracing != (Tracing{Endpoint: "http://collector:4317", Protocol: "grpc"}) {
		t.Fatalf("tracing %+v, %v", c.Tracing, err)
	}
	_, err = Load(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}))
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

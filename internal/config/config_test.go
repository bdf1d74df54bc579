package config

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
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
		"CONSULAR_PAYLOAD_KEYS", "CONSULAR_RECEIPT_SIGNING_KEY", "CONSULAR_LINK_KEY", "CONSULAR_OPERATOR_TOKEN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	c, err := Load(env(map[string]string{"CONSULAR_ENV": "production", "CONSULAR_MINIO_ACCESS_KEY": "k",
		"CONSULAR_MINIO_SECRET_KEY": "s", "CONSULAR_SMTP_ENCRYPTION": "starttls", "CONSULAR_PAYLOAD_KEYS": "p1:" + key,
		"CONSULAR_RECEIPT_SIGNING_KEY": "r1:" + key, "CONSULAR_LINK_KEY": key, "CONSULAR_STAFF_API_KEY": "s3cret",
		"CONSULAR_OPERATOR_TOKEN": "op"}))
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

package temporalclient_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/internal/testenv"
)

// The dev server speaks plain gRPC, so these tests put what a production
// frontend does in front of it: a TLS listener that requires a client
// certificate from the ministry's CA. Everything else (gRPC, the namespace)
// is the test stack's real Temporal.

const serverName = "temporal.consular.test"

func TestClientReachesTemporalOverMutualTLS(t *testing.T) {
	ca := newCA(t, "Consular test CA")
	proxy := startProxy(t, ca, ca.issue(t, serverName, false))
	dir := t.TempDir()
	files := config.TemporalTLS{
		CAFile:     ca.writeCA(t, dir),
		ServerName: serverName,
	}
	files.CertFile, files.KeyFile = write(t, dir, "client", ca.issue(t, "consular-api", true))

	c, _ := connect(t, proxy.addr, files)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := temporalclient.Ping(ctx, c, testenv.Config(t).Temporal.Namespace); err != nil {
		t.Fatalf("ping over mTLS: %v", err)
	}
	if got := proxy.clients(); len(got) == 0 || got[len(got)-1] != "consular-api" {
		t.Fatalf("the proxy saw client certificates %v, want consular-api", got)
	}
}

func TestClientRefusesOrIsRefusedWithoutTheRightCertificates(t *testing.T) {
	ca := newCA(t, "Consular test CA")
	other := newCA(t, "Someone else's CA")
	proxy := startProxy(t, ca, ca.issue(t, serverName, false))
	dir := t.TempDir()
	caFile := ca.writeCA(t, dir)
	goodCert, goodKey := write(t, dir, "good", ca.issue(t, "consular-api", true))
	strangerCert, strangerKey := write(t, dir, "stranger", other.issue(t, "consular-api", true))

	// With TLS 1.3 the server refuses a client certificate after the client
	// has finished its side of the handshake: the client's error is then the
	// server's alert or just a broken connection, and the log says why.
	for _, tc := range []struct {
		name      string
		files     config.TemporalTLS
		wantErr   string // in the client's error; empty when it depends on timing (see above)
		wantLog   string // in the client's log
		wantProxy string // in the proxy's handshake error; empty when the client gives up first
	}{
		{"no client certificate", config.TemporalTLS{CAFile: caFile, ServerName: serverName},
			"", "none is configured; set CONSULAR_TEMPORAL_TLS_CERT_FILE", "didn't provide a certificate"},
		{"client certificate from another CA", config.TemporalTLS{CAFile: caFile, ServerName: serverName, CertFile: strangerCert, KeyFile: strangerKey},
			"", "temporal will likely refuse the client certificate", "unknown authority"},
		{"server name the certificate does not carry", config.TemporalTLS{CAFile: caFile, ServerName: "other.consular.test", CertFile: goodCert, KeyFile: goodKey},
			"certificate is valid for " + serverName + ", not other.consular.test", "", ""},
		{"server certificate from a CA we do not trust", config.TemporalTLS{CAFile: other.writeCA(t, t.TempDir()), ServerName: serverName, CertFile: goodCert, KeyFile: goodKey},
			"certificate signed by unknown authority", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proxy.refusalCount()
			c, logs := connect(t, proxy.addr, tc.files)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := temporalclient.Ping(ctx, c, testenv.Config(t).Temporal.Namespace)
			if err == nil {
				t.Fatal("connected without the right certificates")
			}
			t.Logf("client: %v", err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("client error %q does not say %q", err, tc.wantErr)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("client log does not say %q:\n%s", tc.wantLog, logs)
			}
			if tc.wantProxy != "" {
				if err := proxy.refusedSince(before, tc.wantProxy); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// A ministry rotates client certificates (cert-manager rewrites the mounted
// Secret); the next connection must present the new one without a restart.
func TestClientPresentsARotatedCertificateOnItsNextConnection(t *testing.T) {
	ca := newCA(t, "Consular test CA")
	proxy := startProxy(t, ca, ca.issue(t, serverName, false))
	dir := t.TempDir()
	files := config.TemporalTLS{CAFile: ca.writeCA(t, dir), ServerName: serverName}
	files.CertFile, files.KeyFile = write(t, dir, "client", ca.issue(t, "consular-worker-2026-01", true))
	namespace := testenv.Config(t).Temporal.Namespace

	c, logs := connect(t, proxy.addr, files)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// reconnect drops the client's connection, as a frontend restart or a
	// load balancer would, and pings until the client is back.
	reconnect := func() {
		t.Helper()
		proxy.dropConnections()
		var err error
		for ctx.Err() == nil {
			if err = temporalclient.Ping(ctx, c, namespace); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("no ping after reconnecting: %v", err)
	}
	if err := temporalclient.Ping(ctx, c, namespace); err != nil {
		t.Fatal(err)
	}

	// Halfway through a rotation (the new certificate written, the old key
	// still there) the client keeps the last good pair.
	next := ca.issue(t, "consular-worker-2026-04", true)
	write(t, dir, "client", keyPEM{cert: next.cert, key: mustRead(t, files.KeyFile)})
	reconnect()
	if got := proxy.clients(); got[len(got)-1] != "consular-worker-2026-01" {
		t.Fatalf("mid-rotation the client presented %v, want the old certificate still", got)
	}
	if !strings.Contains(logs.String(), "temporal client certificate not reloaded; using the previous one") {
		t.Errorf("the half-written rotation was not logged:\n%s", logs)
	}

	write(t, dir, "client", next)
	reconnect()
	if got := proxy.clients(); got[len(got)-1] != "consular-worker-2026-04" {
		t.Fatalf("client certificates seen by the proxy: %v, want the rotated one last", got)
	}
	if !strings.Contains(logs.String(), "temporal client certificate reloaded") {
		t.Errorf("the reload was not logged:\n%s", logs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// connect makes a client of the proxy with the given TLS files; its log goes
// to the test's log and to the returned buffer.
func connect(t *testing.T, addr string, files config.TemporalTLS) (client.Client, *syncBuffer) {
	t.Helper()
	cfg := testenv.Config(t)
	cfg.Temporal.Address = addr
	cfg.Temporal.TLS = files
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, testLog{t}), nil))
	c, err := temporalclient.New(cfg.Temporal, cfg.Keys.Payload, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, logs
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// proxy terminates TLS the way a Temporal frontend with mTLS does, then
// passes the bytes to the test stack's Temporal.
type proxy struct {
	addr     string
	upstream string

	mu       sync.Mutex
	conns    []net.Conn
	seen     []string // client certificates' common names, in order
	refusals []error
}

func startProxy(t *testing.T, ca *authority, server keyPEM) *proxy {
	t.Helper()
	cert, err := tls.X509KeyPair(server.cert, server.key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"}, // gRPC refuses a TLS server without ALPN
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), upstream: testenv.Config(t).Temporal.Address}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(conn.(*tls.Conn))
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.dropConnections()
	})
	return p
}

func (p *proxy) serve(conn *tls.Conn) {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		p.mu.Lock()
		p.refusals = append(p.refusals, err)
		p.mu.Unlock()
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		conn.Close()
		return
	}
	p.mu.Lock()
	p.seen = append(p.seen, conn.ConnectionState().PeerCertificates[0].Subject.CommonName)
	p.conns = append(p.conns, conn, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, conn); up.Close() }()
	_, _ = io.Copy(conn, up)
	conn.Close()
}

func (p *proxy) dropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) clients() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *proxy) refusalCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.refusals)
}

// refusedSince waits for the proxy to refuse a handshake, after its first n
// refusals, with an error saying want: the client may read the alert before
// the proxy's goroutine records it.
func (p *proxy) refusedSince(n int, want string) error {
	var got []error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		got = append([]error(nil), p.refusals[n:]...)
		p.mu.Unlock()
		for _, err := range got {
			if strings.Contains(err.Error(), want) {
				return nil
			}
		}
	}
	return fmt.Errorf("proxy refused no handshake with %q; its refusals: %v", want, errors.Join(got...))
}

// authority is a CA made for one test.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

type keyPEM struct{ cert, key []byte }

func newCA(t *testing.T, name string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{cert: cert, key: key}
}

// issue signs a server certificate for name, or a client certificate with
// name as its common name.
func (a *authority) issue(t *testing.T, name string, client bool) keyPEM {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.DNSNames = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return keyPEM{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

func (a *authority) writeCA(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// write puts a key pair in dir as NAME.crt and NAME.key, replacing the
// files the way a rotation does.
func write(t *testing.T, dir, name string, kp keyPEM) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	for path, b := range map[string][]byte{certFile: kp.cert, keyFile: kp.key} {
		if err := os.WriteFile(path+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

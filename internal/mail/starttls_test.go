package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	simplemail "github.com/xhit/go-simple-mail/v2"

	"github.com/openconsular/consular/deploy/stack"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/testenv"
)

// As in production (and compose): the SMTP server requires STARTTLS with a
// certificate from an authority the operator names (CONSULAR_SMTP_CA_FILE).
func TestSendsOverSTARTTLSToAServerOfTheNamedAuthority(t *testing.T) {
	ctx := context.Background()
	tools, err := stack.InstallTools(ctx, os.Stderr) // cached: returns at once
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca, caKey := certificate(t, nil, nil, true)
	server, serverKey := certificate(t, ca, caKey, false)
	write := func(name string, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER, _ := x509.MarshalECPrivateKey(serverKey)
	m := stack.Mailpit{Bin: tools.Mailpit, DBFile: filepath.Join(dir, "mailpit.db"), SMTPPort: port(t), UIPort: port(t),
		TLSCert: write("server.pem", "CERTIFICATE", server.Raw), TLSKey: write("server-key.pem", "EC PRIVATE KEY", keyDER)}
	p, err := m.Start(ctx, filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()

	cfg := testenv.Config(t).Mail
	cfg.Host, cfg.Port, cfg.Encryption = "127.0.0.1", m.SMTPPort, "starttls"
	if err := mail.New(cfg).Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the authority: %v, want the certificate refused", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AddCert(ca)
	client, err := mail.New(cfg).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	to := fmt.Sprintf("starttls-%d@example.org", time.Now().UnixNano())
	if err := simplemail.NewMSG().SetFrom(cfg.From).AddTo(to).SetSubject("over STARTTLS").SetBody(simplemail.TextPlain, "x").Send(client); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/messages", m.UIPort))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct{ Messages []struct{ Subject string } }
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || len(got.Messages) != 1 || got.Messages[0].Subject != "over STARTTLS" {
		t.Fatalf("the server holds %+v (%v)", got, err)
	}
}

// certificate makes a CA (parent nil) or a server certificate for 127.0.0.1 signed by parent.
func certificate(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "mail test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func port(t *testing.T) int {
	p, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

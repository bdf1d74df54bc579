package temporalclient

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/openconsular/consular/internal/config"
)

// tlsConfig is the client side of the connection to Temporal: the server is
// verified against the CA file (or the system's roots), and the client
// certificate, when there is one, is read from its files at every handshake
// so a rotated certificate is picked up without a restart.
//
// With TLS 1.3 a server that refuses the client's certificate does so after
// the client's side of the handshake is done, so the client often sees only
// "broken pipe" or "connection reset". The warnings logged here, when the
// server asks for a certificate we lack or names CAs ours is not from, say
// what is wrong.
func tlsConfig(cfg config.TemporalTLS, logger *slog.Logger) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal TLS CA: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal TLS CA %s: no PEM certificate", cfg.CAFile)
		}
	}
	var kp *keyPair
	if cfg.CertFile != "" {
		kp = &keyPair{certFile: cfg.CertFile, keyFile: cfg.KeyFile, logger: logger}
		if _, err := kp.load(); err != nil {
			return nil, err
		}
	}
	// Called only when the server asks for a client certificate.
	c.GetClientCertificate = func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if kp == nil {
			logger.Warn("temporal asks for a client certificate (mTLS) and none is configured; " +
				"set CONSULAR_TEMPORAL_TLS_CERT_FILE and CONSULAR_TEMPORAL_TLS_KEY_FILE")
			return &tls.Certificate{}, nil // sends none: the server decides
		}
		pair, err := kp.get()
		if err != nil {
			return nil, err
		}
		if err := req.SupportsCertificate(pair); err != nil {
			logger.Warn("temporal will likely refuse the client certificate: it is not one the server accepts",
				"file", cfg.CertFile, "err", err)
		}
		return pair, nil
	}
	return c, nil
}

// keyPair is the client certificate as its files hold it now. Handshakes are
// rare (gRPC keeps its connection open), so reading two small files each
// time costs nothing; they are parsed again only when their bytes change.
type keyPair struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu        sync.Mutex
	cert, key []byte
	pair      *tls.Certificate
}

func (k *keyPair) get() (*tls.Certificate, error) {
	pair, err := k.load()
	if err == nil {
		return pair, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair == nil {
		return nil, err
	}
	// Mid-rotation (the certificate written, the key not yet) or a file gone
	// for a moment: the last good pair is better than no connection; the
	// next handshake tries the files again.
	k.logger.Warn("temporal client certificate not reloaded; using the previous one", "err", err)
	return k.pair, nil
}

func (k *keyPair) load() (*tls.Certificate, error) {
	cert, err := os.ReadFile(k.certFile)
	if err != nil {
		return nil, fmt.Errorf("temporal TLS client certificate: %w", err)
	}
	key, err := os.ReadFile(k.keyFile)
	if err != nil {
		return nil, fmt.Errorf("temporal TLS client key: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair != nil && bytes.Equal(cert, k.cert) && bytes.Equal(key, k.key) {
		return k.pair, nil
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("temporal TLS client certificate %s and key %s: %w", k.certFile, k.keyFile, err)
	}
	if k.pair != nil && pair.Leaf != nil {
		k.logger.Info("temporal client certificate reloaded", "file", k.certFile, "not_after", pair.Leaf.NotAfter)
	}
	k.cert, k.key, k.pair = cert, key, &pair
	return k.pair, nil
}

// Package mail connects to the SMTP server (Mailpit in development, the
// ministry's relay in production) through go-simple-mail.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	simplemail "github.com/xhit/go-simple-mail/v2"

	"github.com/openconsular/consular/internal/config"
)

// Server sends mail through one SMTP server.
type Server struct {
	cfg config.Mail
}

func New(cfg config.Mail) *Server {
	return &Server{cfg: cfg}
}

// From is the sender address every message carries.
func (s *Server) From() string { return s.cfg.From }

// Connect opens an authenticated SMTP session. The dial obeys ctx, so a
// request that is cancelled does not wait out the connect timeout.
func (s *Server) Connect(ctx context.Context) (*simplemail.SMTPClient, error) {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	dialer := net.Dialer{Timeout: s.cfg.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to SMTP server %s: %w", addr, err)
	}
	server := simplemail.NewSMTPClient()
	server.Host = s.cfg.Host
	server.Port = s.cfg.Port
	server.Username = s.cfg.Username
	server.Password = s.cfg.Password
	server.SendTimeout = s.cfg.Timeout
	server.CustomConn = conn
	server.TLSConfig = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: s.cfg.RootCAs}
	switch s.cfg.Encryption {
	case "starttls":
		server.Encryption = simplemail.EncryptionSTARTTLS
	case "tls":
		server.Encryption = simplemail.EncryptionSSLTLS
	default:
		server.Encryption = simplemail.EncryptionNone
	}
	if s.cfg.Username == "" {
		server.Authentication = simplemail.AuthNone
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	client, err := server.Connect()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open SMTP session with %s: %w", addr, err)
	}
	return client, nil
}

// Ping opens a session, says NOOP and quits: the SMTP server answers and
// accepts our credentials.
func (s *Server) Ping(ctx context.Context) error {
	client, err := s.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Noop(); err != nil {
		return fmt.Errorf("SMTP NOOP: %w", err)
	}
	return client.Quit()
}

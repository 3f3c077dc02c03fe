package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/google/uuid"
)

const from = "Gatehouse <no-reply@gatehouse.example>"

func verifyMail(to string) app.OutboundMail {
	return app.OutboundMail{
		ID:   uuid.New(),
		Kind: app.MailVerifyEmail,
		To:   to,
		Data: map[string]string{"link": "http://localhost:8080/verify-email?token=" + testToken},
	}
}

func newSMTP(t *testing.T, cfg mailer.SMTPConfig, opts ...mailer.Option) *mailer.SMTP {
	t.Helper()
	m, err := mailer.NewSMTP(cfg, from, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func send(t *testing.T, m *mailer.SMTP, mail app.OutboundMail) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Send(ctx, mail)
}

func checkDelivered(t *testing.T, srv *smtptest.Server, mail app.OutboundMail, wantTLS bool, wantUser string) {
	t.Helper()
	msgs := srv.WaitForMessages(t, 1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "no-reply@gatehouse.example" {
		t.Errorf("envelope from = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != mail.To {
		t.Errorf("envelope to = %q, want %q", got.To, mail.To)
	}
	if h := got.Header["To"]; len(h) != 1 || !strings.Contains(h[0], mail.To) {
		t.Errorf("To header = %q", h)
	}
	if h := got.Header["From"]; len(h) != 1 || h[0] != `"Gatehouse" <no-reply@gatehouse.example>` {
		t.Errorf("From header = %q", h)
	}
	if got.Subject != "Verify your email address for Gatehouse" {
		t.Errorf("subject = %q", got.Subject)
	}
	if h := got.Header["Message-Id"]; len(h) != 1 || h[0] != "<"+mail.ID.String()+"@gatehouse.example>" {
		t.Errorf("Message-ID = %q", h)
	}
	if h := got.Header["Date"]; len(h) != 1 || h[0] == "" {
		t.Errorf("Date = %q", h)
	}
	if h := got.Header["Auto-Submitted"]; len(h) != 1 || h[0] != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", h)
	}
	if ct := strings.Join(got.Header["Content-Type"], ""); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q", ct)
	}
	if tok, ok := smtptest.ExtractLink(got.Text, "/verify-email"); !ok || tok != testToken {
		t.Errorf("text part: token %q, %v:\n%s", tok, ok, got.Text)
	}
	if tok, ok := smtptest.ExtractLink(got.HTML, "/verify-email"); !ok || tok != testToken {
		t.Errorf("html part: token %q, %v:\n%s", tok, ok, got.HTML)
	}
	if !strings.Contains(got.HTML, "<a href=") {
		t.Errorf("html part is not HTML:\n%s", got.HTML)
	}
	if got.TLS != wantTLS {
		t.Errorf("TLS = %v, want %v", got.TLS, wantTLS)
	}
	if got.AuthUser != wantUser {
		t.Errorf("auth user = %q, want %q", got.AuthUser, wantUser)
	}
}

func TestSMTPDelivers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		srvOpts []smtptest.Option
		tls     mailer.TLSMode
		user    string
		wantTLS bool
	}{
		{"none", nil, mailer.TLSNone, "", false},
		{"none with auth to loopback", []smtptest.Option{smtptest.WithAuth("gate", secret)}, mailer.TLSNone, "gate", false},
		{"starttls", []smtptest.Option{smtptest.WithSTARTTLS()}, mailer.TLSStartTLS, "", true},
		{"starttls with auth", []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("gate", secret)}, mailer.TLSStartTLS, "gate", true},
		{"implicit", []smtptest.Option{smtptest.WithImplicitTLS()}, mailer.TLSImplicit, "", true},
		{"implicit with auth", []smtptest.Option{smtptest.WithImplicitTLS(), smtptest.WithAuth("gate", secret)}, mailer.TLSImplicit, "gate", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, tt.srvOpts...)
			cfg := mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: tt.tls}
			if tt.user != "" {
				cfg.Username, cfg.Password = tt.user, secret
			}
			m := newSMTP(t, cfg, mailer.WithTLSConfig(srv.TLSConfigForClient()))
			mail := verifyMail("alice@example.com")
			if err := send(t, m, mail); err != nil {
				t.Fatal(err)
			}
			checkDelivered(t, srv, mail, tt.wantTLS, tt.user)
		})
	}
}

func TestSMTPFromParsedURL(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithAuth("me@example.com", "p@ss/w:rd"))
	cfg, err := mailer.ParseSMTPURL(fmt.Sprintf("smtp://me%%40example.com:p%%40ss%%2Fw%%3Ard@127.0.0.1:%d?tls=none", srv.Port()))
	if err != nil {
		t.Fatal(err)
	}
	m := newSMTP(t, cfg)
	mail := verifyMail("bob@example.com")
	if err := send(t, m, mail); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, mail, false, "me@example.com")
}

func TestSMTPErrors(t *testing.T) {
	t.Parallel()
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("gate", "right"))
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSStartTLS, Username: "gate", Password: secret},
			mailer.WithTLSConfig(srv.TLSConfigForClient()))
		err := send(t, m, verifyMail("alice@example.com"))
		if err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), testToken) {
			t.Errorf("error leaks a secret: %v", err)
		}
		if !strings.Contains(err.Error(), "535") {
			t.Errorf("error does not carry the server's answer: %v", err)
		}
		if len(srv.Messages()) != 0 {
			t.Error("mail delivered")
		}
	})
	t.Run("auth required but not configured", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.WithAuth("gate", "right"))
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSNone})
		if err := send(t, m, verifyMail("alice@example.com")); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.WithAuth("gate", "right"))
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSStartTLS, Username: "gate", Password: "right"})
		err := send(t, m, verifyMail("alice@example.com"))
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v, want a STARTTLS error", err)
		}
		if len(srv.Messages()) != 0 {
			t.Error("mail delivered without TLS")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.WithImplicitTLS())
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSImplicit})
		if err := send(t, m, verifyMail("alice@example.com")); err == nil {
			t.Fatal("no error with a self-signed certificate and no trust")
		}
	})
	t.Run("server rejects data", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t)
		srv.RejectData(451, "try later")
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSNone})
		err := send(t, m, verifyMail("alice@example.com"))
		if err == nil || !strings.Contains(err.Error(), "451") {
			t.Fatalf("err = %v, want 451", err)
		}
	})
	t.Run("render error sends nothing", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t)
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSNone})
		err := send(t, m, app.OutboundMail{Kind: app.MailResetPassword, To: "alice@example.com"})
		if !errors.Is(err, mailer.ErrMissingLink) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad recipient", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t)
		m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSNone})
		for _, to := range []string{"", "not an address", "a@example.com\r\nBcc: b@example.com"} {
			if err := send(t, m, verifyMail(to)); err == nil {
				t.Errorf("no error for recipient %q", to)
			}
		}
		if len(srv.Messages()) != 0 {
			t.Error("mail delivered")
		}
	})
}

func TestSMTPOutageAndRestart(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSNone})
	srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := m.Send(ctx, verifyMail("alice@example.com")); err == nil {
		t.Fatal("no error while the server is down")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failing took %v", d)
	}

	srv.Restart()
	mail := verifyMail("alice@example.com")
	if err := send(t, m, mail); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	checkDelivered(t, srv, mail, false, "")
}

// silentServer accepts connections and never says a word, like a hung SMTP
// server.
func silentServer(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func TestSMTPHonoursContext(t *testing.T) {
	t.Parallel()
	host, port := silentServer(t)
	m := newSMTP(t, mailer.SMTPConfig{Host: host, Port: port, TLS: mailer.TLSNone}, mailer.WithTimeout(time.Minute))

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := m.Send(ctx, verifyMail("alice@example.com"))
		if err == nil {
			t.Fatal("no error")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Send took %v with a 200ms deadline", d)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := m.Send(ctx, verifyMail("alice@example.com"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Send took %v after cancel", d)
		}
	})
	t.Run("already done", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := m.Send(ctx, verifyMail("alice@example.com")); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("timeout option", func(t *testing.T) {
		t.Parallel()
		short := newSMTP(t, mailer.SMTPConfig{Host: host, Port: port, TLS: mailer.TLSNone}, mailer.WithTimeout(200*time.Millisecond))
		start := time.Now()
		if err := short.Send(context.Background(), verifyMail("alice@example.com")); err == nil {
			t.Fatal("no error")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Send took %v with a 200ms timeout", d)
		}
	})
}

func TestSMTPConcurrentSends(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("gate", secret))
	m := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSStartTLS, Username: "gate", Password: secret},
		mailer.WithTLSConfig(srv.TLSConfigForClient()))
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- send(t, m, verifyMail(fmt.Sprintf("user%d@example.com", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	msgs := srv.WaitForMessages(t, n, 5*time.Second)
	seen := map[string]bool{}
	for _, msg := range msgs {
		seen[msg.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("got %d distinct recipients, want %d", len(seen), n)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	t.Parallel()
	ok := mailer.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: mailer.TLSStartTLS}
	tests := []struct {
		name string
		cfg  mailer.SMTPConfig
		from string
	}{
		{"empty from", ok, ""},
		{"bad from", ok, "not an address"},
		{"from with line break", ok, "a@example.com\r\nBcc: b@example.com"},
		{"two froms", ok, "a@example.com, b@example.com"},
		{"no host", mailer.SMTPConfig{Port: 587, TLS: mailer.TLSStartTLS}, from},
		{"no port", mailer.SMTPConfig{Host: "mail.example.com", TLS: mailer.TLSStartTLS}, from},
		{"no tls mode", mailer.SMTPConfig{Host: "mail.example.com", Port: 587}, from},
		{"plain-text credentials to a remote host", mailer.SMTPConfig{Host: "mail.example.com", Port: 25, TLS: mailer.TLSNone, Username: "u", Password: secret}, from},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mailer.NewSMTP(tt.cfg, tt.from)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error contains the password: %v", err)
			}
		})
	}
	if _, err := mailer.NewSMTP(ok, "no-reply@example.com"); err != nil {
		t.Errorf("bare address: %v", err)
	}
}

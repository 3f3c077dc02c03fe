package smtptest_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// A multipart/alternative mail as go-mail writes it: quoted-printable text
// with soft line breaks and =3D, base64 HTML, an RFC 2047 subject.
const rawMail = "From: \"Gatehouse\" <no-reply@example.com>\r\n" +
	"To: <alice@example.com>\r\n" +
	"Subject: =?UTF-8?q?V=C3=A9rify_your_address?=\r\n" +
	"Message-ID: <1@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative;\r\n boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"\r\n" +
	"Hello,\r\n" +
	"\r\n" +
	"http://localhost:8080/verify-email?token=3DAbC-_123xyz_very_long_token_that_=\r\n" +
	"wraps\r\n" +
	"--b1\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"\r\n" +
	"PHA+PGEgaHJlZj0iaHR0cDovL2xvY2FsaG9zdDo4MDgwL3ZlcmlmeS1lbWFpbD90b2tlbj1BYkMt\r\n" +
	"XzEyM3h5el92ZXJ5X2xvbmdfdG9rZW5fdGhhdF93cmFwcyI+VmVyaWZ5PC9hPjwvcD4=\r\n" +
	"--b1--\r\n"

const wantToken = "AbC-_123xyz_very_long_token_that_wraps"

type client struct {
	implicitTLS bool
	startTLS    bool
	tlsConfig   *tls.Config
	auth        sasl.Client
}

func (c client) send(addr, from string, to []string, data string) error {
	var (
		cl  *smtp.Client
		err error
	)
	switch {
	case c.implicitTLS:
		cl, err = smtp.DialTLS(addr, c.tlsConfig)
	case c.startTLS:
		cl, err = smtp.DialStartTLS(addr, c.tlsConfig)
	default:
		cl, err = smtp.Dial(addr)
	}
	if err != nil {
		return err
	}
	defer cl.Close()
	if c.auth != nil {
		if err := cl.Auth(c.auth); err != nil {
			return err
		}
	}
	if err := cl.SendMail(from, to, strings.NewReader(data)); err != nil {
		return err
	}
	return cl.Quit()
}

func TestParsesMessage(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	if err := (client{}).send(srv.Addr(), "bounce@example.com", []string{"alice@example.com"}, rawMail); err != nil {
		t.Fatal(err)
	}
	msgs := srv.WaitForMessages(t, 1, 5*time.Second)
	m := msgs[0]
	if m.From != "bounce@example.com" || len(m.To) != 1 || m.To[0] != "alice@example.com" {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	if m.Subject != "Vérify your address" {
		t.Errorf("subject %q", m.Subject)
	}
	if got := m.Header["Message-Id"]; len(got) != 1 || got[0] != "<1@example.com>" {
		t.Errorf("Message-ID %q", got)
	}
	if want := "Hello,\n\nhttp://localhost:8080/verify-email?token=" + wantToken; m.Text != want {
		t.Errorf("text %q, want %q", m.Text, want)
	}
	if want := `<p><a href="http://localhost:8080/verify-email?token=` + wantToken + `">Verify</a></p>`; m.HTML != want {
		t.Errorf("html %q, want %q", m.HTML, want)
	}
	if !strings.Contains(string(m.Data), "Content-Type: multipart/alternative") {
		t.Error("raw data missing")
	}
	if m.TLS || m.AuthUser != "" {
		t.Errorf("TLS %v, auth %q", m.TLS, m.AuthUser)
	}
	if tok, ok := smtptest.ExtractLink(m.Text, "/verify-email"); !ok || tok != wantToken {
		t.Errorf("ExtractLink = %q, %v", tok, ok)
	}
}

func TestSinglePartMessage(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	raw := "Subject: plain\r\n\r\nJust text.\r\n"
	if err := (client{}).send(srv.Addr(), "a@example.com", []string{"b@example.com", "c@example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitForMessages(t, 1, 5*time.Second)[0]
	if m.Subject != "plain" || m.Text != "Just text.\n" || m.HTML != "" || len(m.To) != 2 {
		t.Errorf("%+v", m)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithAuth("user", "pass"))
	if err := (client{}).send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail); err == nil {
		t.Error("accepted mail without auth")
	}
	if err := (client{auth: sasl.NewPlainClient("", "user", "wrong")}).send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail); err == nil {
		t.Error("accepted a wrong password")
	}
	if err := (client{auth: sasl.NewPlainClient("", "user", "pass")}).send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail); err != nil {
		t.Fatal(err)
	}
	msgs := srv.WaitForMessages(t, 1, 5*time.Second)
	if len(msgs) != 1 || msgs[0].AuthUser != "user" {
		t.Errorf("messages %d, auth user %q", len(msgs), msgs[0].AuthUser)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit=%v", implicit), func(t *testing.T) {
			t.Parallel()
			opt := smtptest.WithSTARTTLS()
			if implicit {
				opt = smtptest.WithImplicitTLS()
			}
			srv := smtptest.Start(t, opt, smtptest.WithAuth("user", "pass"))
			cfg := srv.TLSConfigForClient()
			if cfg == nil {
				t.Fatal("no client TLS config")
			}
			c := client{implicitTLS: implicit, startTLS: !implicit, tlsConfig: cfg, auth: sasl.NewPlainClient("", "user", "pass")}
			if err := c.send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail); err != nil {
				t.Fatal(err)
			}
			if m := srv.WaitForMessages(t, 1, 5*time.Second)[0]; !m.TLS || m.AuthUser != "user" {
				t.Errorf("TLS %v, auth %q", m.TLS, m.AuthUser)
			}
			// The certificate is self-signed: without the pool it fails.
			c.tlsConfig = &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
			if err := c.send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail); err == nil {
				t.Error("untrusted certificate accepted")
			}
		})
	}
	if smtptest.Start(t).TLSConfigForClient() != nil {
		t.Error("TLS config without TLS")
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	addr, port := srv.Addr(), srv.Port()
	if err := (client{}).send(addr, "a@example.com", []string{"b@example.com"}, rawMail); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if err := (client{}).send(addr, "a@example.com", []string{"b@example.com"}, rawMail); err == nil {
		t.Fatal("stopped server accepted mail")
	}
	srv.Restart()
	if srv.Port() != port || srv.Addr() != addr {
		t.Fatalf("port changed: %s -> %s", addr, srv.Addr())
	}
	if err := (client{}).send(addr, "a@example.com", []string{"b@example.com"}, rawMail); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.WaitForMessages(t, 2, 5*time.Second)); n != 2 {
		t.Errorf("%d messages, want 2 (kept across restart)", n)
	}
	srv.Restart() // restart a running server
	if err := (client{}).send(addr, "a@example.com", []string{"b@example.com"}, rawMail); err != nil {
		t.Fatal(err)
	}
}

func TestStopClosesOpenConnections(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	cl, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Hello("localhost"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := cl.Noop(); err == nil {
		t.Error("connection still open after Stop")
	}
}

func TestRejectData(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	srv.RejectData(451, "try later")
	err := (client{}).send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("err = %v, want 451", err)
	}
	srv.RejectData(0, "")
	if err := (client{}).send(srv.Addr(), "a@example.com", []string{"b@example.com"}, rawMail); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (client{}).send(srv.Addr(), "a@example.com", []string{fmt.Sprintf("u%d@example.com", i)}, rawMail); err != nil {
				t.Error(err)
			}
			_ = srv.Messages()
		}()
	}
	wg.Wait()
	if got := len(srv.WaitForMessages(t, n, 5*time.Second)); got != n {
		t.Errorf("%d messages, want %d", got, n)
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = fmt.Sprintf(format, args...)
}

func TestWaitForMessagesTimesOut(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	tb := &fakeTB{TB: t}
	start := time.Now()
	msgs := srv.WaitForMessages(tb, 1, 100*time.Millisecond)
	if len(msgs) != 0 || !strings.Contains(tb.failed, "got 0 messages, want at least 1") {
		t.Errorf("msgs %d, failure %q", len(msgs), tb.failed)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %v", d)
	}
}

func TestExtractLink(t *testing.T) {
	t.Parallel()
	text := "Log in: https://auth.example.com/base/login\n" +
		"Reset: <https://auth.example.com/base/reset-password?token=R3s-_et&x=1>\n" +
		`<a href="http://localhost:8080/verify-email?token=V-_1">v</a>` + "\n" +
		"Bad: http://localhost:8080/verify-emailx?token=nope\n"
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/reset-password", "R3s-_et", true},
		{"/verify-email", "V-_1", true},
		{"/login", "", false}, // no token
		{"/missing", "", false},
	}
	for _, tt := range tests {
		got, ok := smtptest.ExtractLink(text, tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ExtractLink(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if u, ok := smtptest.ExtractURL(text, "/login"); !ok || u != "https://auth.example.com/base/login" {
		t.Errorf("ExtractURL = %q, %v", u, ok)
	}
	if _, ok := smtptest.ExtractURL(text, "/nothing"); ok {
		t.Error("ExtractURL found a missing path")
	}
}

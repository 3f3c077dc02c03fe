package mailer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
)

const secret = "s3cr3t-P4ss"

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want mailer.SMTPConfig
	}{
		{"smtp://mail.example.com", mailer.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: mailer.TLSStartTLS}},
		{"smtp://mail.example.com?tls=starttls", mailer.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: mailer.TLSStartTLS}},
		{"smtp://mail.example.com?tls=implicit", mailer.SMTPConfig{Host: "mail.example.com", Port: 465, TLS: mailer.TLSImplicit}},
		{"smtp://mail.example.com?tls=IMPLICIT", mailer.SMTPConfig{Host: "mail.example.com", Port: 465, TLS: mailer.TLSImplicit}},
		{"smtp://mail.example.com?tls=none", mailer.SMTPConfig{Host: "mail.example.com", Port: 25, TLS: mailer.TLSNone}},
		{"smtps://mail.example.com", mailer.SMTPConfig{Host: "mail.example.com", Port: 465, TLS: mailer.TLSImplicit}},
		{"smtps://mail.example.com:2465?tls=implicit", mailer.SMTPConfig{Host: "mail.example.com", Port: 2465, TLS: mailer.TLSImplicit}},
		{"smtp://mail.example.com:2525?tls=none", mailer.SMTPConfig{Host: "mail.example.com", Port: 2525, TLS: mailer.TLSNone}},
		{"smtp://mail.example.com:2525/", mailer.SMTPConfig{Host: "mail.example.com", Port: 2525, TLS: mailer.TLSStartTLS}},
		{"smtp://[::1]:1025?tls=none", mailer.SMTPConfig{Host: "::1", Port: 1025, TLS: mailer.TLSNone}},
		{"smtp://user:" + secret + "@mail.example.com", mailer.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: mailer.TLSStartTLS, Username: "user", Password: secret}},
		{"smtp://apikey@mail.example.com", mailer.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: mailer.TLSStartTLS, Username: "apikey"}},
		// Percent-encoded user and password are decoded.
		{"smtps://me%40example.com:p%40ss%2Fw%3Ard%23%3F@mail.example.com", mailer.SMTPConfig{Host: "mail.example.com", Port: 465, TLS: mailer.TLSImplicit, Username: "me@example.com", Password: "p@ss/w:rd#?"}},
		// Credentials in plain text are accepted to loopback only.
		{"smtp://user:" + secret + "@127.0.0.1:1025?tls=none", mailer.SMTPConfig{Host: "127.0.0.1", Port: 1025, TLS: mailer.TLSNone, Username: "user", Password: secret}},
		{"smtp://user:" + secret + "@localhost?tls=none", mailer.SMTPConfig{Host: "localhost", Port: 25, TLS: mailer.TLSNone, Username: "user", Password: secret}},
	}
	for _, tt := range tests {
		t.Run(mailer.RedactURL(tt.raw), func(t *testing.T) {
			got, err := mailer.ParseSMTPURL(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v (passwords %v)", got, tt.want, got.Password == tt.want.Password)
			}
		})
	}
}

func TestParseSMTPURLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, wantErr string
	}{
		{"empty", "", "scheme"},
		{"no scheme", "user:" + secret + "@mail.example.com", "scheme"},
		{"http scheme", "http://user:" + secret + "@mail.example.com", "scheme"},
		{"bad tls", "smtp://user:" + secret + "@mail.example.com?tls=" + secret, "tls must be one of"},
		{"empty tls", "smtp://user:" + secret + "@mail.example.com?tls=", "tls must be one of"},
		{"two tls", "smtp://user:" + secret + "@mail.example.com?tls=none&tls=implicit", "more than one"},
		{"unknown param", "smtp://user:" + secret + "@mail.example.com?" + secret + "=1", "unknown parameter"},
		{"smtps with starttls", "smtps://user:" + secret + "@mail.example.com?tls=starttls", "smtps"},
		{"port not a number", "smtp://user:" + secret + "@mail.example.com:abc", "malformed"},
		{"port zero", "smtp://user:" + secret + "@mail.example.com:0", "port"},
		{"port too big", "smtp://user:" + secret + "@mail.example.com:65536", "port"},
		{"no host", "smtp://user:" + secret + "@:25", "no host"},
		{"no host at all", "smtp://", "no host"},
		{"path", "smtp://user:" + secret + "@mail.example.com/x", "must be smtp://"},
		{"fragment", "smtp://user:" + secret + "@mail.example.com#x", "must be smtp://"},
		{"unescaped slash in password", "smtp://user:s3cr3t/P4ss@mail.example.com", "malformed"},
		{"unescaped slash in numeric password", "smtp://user:12345/" + secret + "@mail.example.com", "must be smtp://"},
		{"unescaped hash in password", "smtp://user:" + secret + "#x@mail.example.com", "malformed"},
		{"unescaped question mark in password", "smtp://user:" + secret + "?x@mail.example.com", "malformed"},
		{"control character", "smtp://user:" + secret + "@mail.example.com\n", "malformed"},
		{"password without user", "smtp://:" + secret + "@mail.example.com", "without a username"},
		{"credentials in plain text to a remote host", "smtp://user:" + secret + "@mail.example.com?tls=none", "only allowed to localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mailer.ParseSMTPURL(tt.raw)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			for _, part := range []string{secret, "s3cr3t", "12345"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error %q contains the password", err)
				}
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"smtp://user:" + secret + "@mail.example.com:587?tls=starttls", "smtp://user:xxxxx@mail.example.com:587?tls=starttls"},
		{"smtps://me%40example.com:p%40ss@mail.example.com", "smtps://me%40example.com:xxxxx@mail.example.com"},
		{"smtp://user:pa/ss#w@rd@mail.example.com", "smtp://user:xxxxx@mail.example.com"},
		{"smtp://user:@mail.example.com", "smtp://user:xxxxx@mail.example.com"},
		{"smtp://user@mail.example.com", "smtp://user@mail.example.com"},
		{"smtp://mail.example.com:25?tls=none", "smtp://mail.example.com:25?tls=none"},
		{"user:" + secret + "@mail.example.com", "xxxxx@mail.example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := mailer.RedactURL(tt.raw); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestSMTPConfigFormattingRedactsPassword(t *testing.T) {
	t.Parallel()
	cfg := mailer.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: mailer.TLSStartTLS, Username: "user", Password: secret}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, cfg)
		if strings.Contains(out, secret) {
			t.Errorf("%s shows the password: %s", verb, out)
		}
		if !strings.Contains(out, "user:xxxxx@mail.example.com:587") {
			t.Errorf("%s = %s", verb, out)
		}
	}
	if got := fmt.Sprint(&cfg); strings.Contains(got, secret) {
		t.Errorf("pointer shows the password: %s", got)
	}
}

package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/app"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLogMailer(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	m := mailer.NewLog(zap.New(core))

	mails := []app.OutboundMail{
		verifyMail("alice@example.com"),
		{Kind: app.MailResetPassword, To: "bob@example.com", Data: map[string]string{"link": "http://localhost:8080/reset-password?token=" + testToken}},
		{Kind: app.MailAlreadyRegistered, To: "carol@example.com", Data: map[string]string{
			"login_link": "http://localhost:8080/login?token=" + testToken, "reset_link": "http://localhost:8080/forgot?token=" + testToken}},
		{Kind: app.MailPasswordChanged, To: "dave@example.com"},
	}
	for _, mail := range mails {
		if err := m.Send(context.Background(), mail); err != nil {
			t.Fatalf("%s: %v", mail.Kind, err)
		}
	}

	entries := logs.AllUntimed()
	if len(entries) != len(mails) {
		t.Fatalf("got %d log lines, want %d", len(entries), len(mails))
	}
	r := newRenderer(t)
	for i, e := range entries {
		if e.Level != zapcore.InfoLevel {
			t.Errorf("level %v", e.Level)
		}
		fields := e.ContextMap()
		subject, _, _, _ := r.Render(mails[i])
		if fields["kind"] != string(mails[i].Kind) || fields["to"] != mails[i].To || fields["subject"] != subject {
			t.Errorf("fields = %v", fields)
		}
		all := e.Message + fmt.Sprint(fields)
		for _, bad := range []string{testToken, "http", "token="} {
			if strings.Contains(all, bad) {
				t.Errorf("log line contains %q: %s", bad, all)
			}
		}
	}
}

func TestLogMailerRejectsWhatSMTPRejects(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	m := mailer.NewLog(zap.New(core))
	err := m.Send(context.Background(), app.OutboundMail{Kind: app.MailVerifyEmail, To: "a@example.com"})
	if !errors.Is(err, mailer.ErrMissingLink) {
		t.Fatalf("err = %v", err)
	}
	if logs.Len() != 0 {
		t.Errorf("logged %d lines", logs.Len())
	}
	if mailer.NewLog(nil).Send(context.Background(), verifyMail("a@example.com")) != nil {
		t.Error("nil logger")
	}
}

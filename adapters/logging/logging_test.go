package logging_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/logging"
	"github.com/gatehouse-auth/gatehouse/app"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMailSkippedNamesKindDomainAndRuleOnly(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	logging.NewObserver(zap.New(core)).MailSkipped(context.Background(), app.MailVerifyEmail, "example.com", "mail_address")
	entries := logs.All()
	if len(entries) != 1 || entries[0].Level != zap.InfoLevel || !strings.Contains(entries[0].Message, "per-address limit") {
		t.Fatalf("entries %+v", entries)
	}
	f := entries[0].ContextMap()
	if len(f) != 3 || f["kind"] != "verify_email" || f["address_domain"] != "example.com" || f["rule"] != "mail_address" {
		t.Fatalf("fields %v", f)
	}
}

// What metrics count and the audit trail or access log already records
// makes no log line of its own.
func TestCountedOutcomesAreNotLogged(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	o := logging.NewObserver(zap.New(core))
	ctx := context.Background()
	o.LoginResult(ctx, app.LoginInvalidCredentials)
	o.RateLimited(ctx, "login_ip")
	o.MailResult(ctx, app.MailVerifyEmail, app.MailRetry)
	if e := logs.All(); len(e) != 0 {
		t.Fatalf("entries %+v", e)
	}
}

func TestReporterLogsAtErrorLevel(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	logging.NewReporter(zap.New(core)).ReportError(context.Background(), "outbox", errors.New("smtp down"))
	if e := logs.All(); len(e) != 1 || e[0].Level != zap.ErrorLevel || e[0].ContextMap()["what"] != "outbox" {
		t.Fatalf("entries %+v", e)
	}
}

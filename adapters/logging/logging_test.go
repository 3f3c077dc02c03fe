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
	logging.NewObserver(zap.New(core)).MailSkipped(context.Background(), app.MailVerifyEmail, "example.com", "GATEHOUSE_RATE_LIMIT_MAIL 3/1h0m0s per address and kind")
	entries := logs.All()
	if len(entries) != 1 || entries[0].Level != zap.InfoLevel {
		t.Fatalf("entries %+v", entries)
	}
	f := entries[0].ContextMap()
	if f["kind"] != "verify_email" || f["address_domain"] != "example.com" || !strings.Contains(f["rule"].(string), "RATE_LIMIT_MAIL") {
		t.Fatalf("fields %v", f)
	}
}

func TestReporterLogsAtErrorLevel(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	logging.NewReporter(zap.New(core)).ReportError(context.Background(), "outbox", errors.New("smtp down"))
	if e := logs.All(); len(e) != 1 || e[0].Level != zap.ErrorLevel || e[0].ContextMap()["what"] != "outbox" {
		t.Fatalf("entries %+v", e)
	}
}

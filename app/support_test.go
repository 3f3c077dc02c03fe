package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"go.uber.org/mock/gomock"
)

func TestNewLinks(t *testing.T) {
	for _, c := range []struct {
		in, base string
		ok       bool
	}{
		{"https://auth.example.com", "https://auth.example.com", true},
		{"https://auth.example.com/", "https://auth.example.com", true},
		{"http://localhost:8080", "http://localhost:8080", true},
		{"https://example.com/auth/", "https://example.com/auth", true},
		{"", "", false},
		{"auth.example.com", "", false},
		{"ftp://example.com", "", false},
		{"javascript:alert(1)", "", false},
		{"https://", "", false},
		{"https://example.com/?next=x", "", false},
		{"https://example.com/#frag", "", false},
		{"/relative", "", false},
	} {
		l, err := app.NewLinks(c.in)
		if c.ok != (err == nil) || l.Base() != c.base {
			t.Errorf("NewLinks(%q) = %q, %v; want %q ok=%v", c.in, l.Base(), err, c.base, c.ok)
		}
	}
	l, _ := app.NewLinks("https://example.com/auth/")
	s := token.Secret("abc")
	if got := l.VerifyEmail(s); got != "https://example.com/auth/verify-email?token=abc" {
		t.Error(got)
	}
	if got := l.ResetPassword(s); got != "https://example.com/auth/reset-password?token=abc" {
		t.Error(got)
	}
	if got := l.ForgotPassword(); got != "https://example.com/auth/forgot-password" {
		t.Error(got)
	}
}

func TestRequire(t *testing.T) {
	var nilPtr *apptest.Clock
	var nilIface app.Clock
	for name, v := range map[string]any{"nil": nil, "nil pointer": nilPtr, "nil interface": nilIface, "nil func": (func())(nil), "nil map": map[string]int(nil)} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "Dep") {
					t.Errorf("%s: recover() = %v", name, r)
				}
			}()
			app.Require(map[string]any{"Dep": v})
		}()
	}
	app.Require(map[string]any{"Clock": apptest.NewClock(apptest.T0), "n": 0, "s": ""}) // no panic
}

func TestIssueOneTimeToken(t *testing.T) {
	ctrl := gomock.NewController(t)
	r := apptest.NewRepos(ctrl)
	var stored *token.OneTimeToken
	r.Tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
		stored = tk
		return nil
	})
	s, err := app.IssueOneTimeToken(context.Background(), r.App(), apptest.NewRand("x"), apptest.ID(1), token.PurposeResetPassword, apptest.T0, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if token.HashOf(s) != stored.Hash() || stored.UserID() != apptest.ID(1) || stored.Purpose() != token.PurposeResetPassword ||
		!stored.ExpiresAt().Equal(apptest.T0.Add(30*time.Minute)) {
		t.Fatalf("stored %+v", stored)
	}

	boom := errors.New("db")
	r.Tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).Return(boom)
	if s, err := app.IssueOneTimeToken(context.Background(), r.App(), apptest.NewRand("x"), apptest.ID(1), token.PurposeResetPassword, apptest.T0, time.Minute); !errors.Is(err, boom) || s != "" {
		t.Fatalf("= %q, %v", s.Reveal(), err)
	}
	// Bad input never reaches the store.
	if _, err := app.IssueOneTimeToken(context.Background(), r.App(), apptest.NewRand("x"), apptest.ID(1), token.PurposeResetPassword, apptest.T0, 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
	if _, err := app.IssueOneTimeToken(context.Background(), r.App(), strings.NewReader("short"), apptest.ID(1), token.PurposeResetPassword, apptest.T0, time.Minute); err == nil {
		t.Fatal("short random accepted")
	}
}

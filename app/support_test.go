package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
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

func TestIssuePasswordLink(t *testing.T) {
	ctx := context.Background()
	uid := apptest.ID(1)
	// The order is the behaviour: invalidating after the add would kill
	// the new link too. Only the links of the new one's purpose die: a
	// reset never kills a verification, an invitation only invitations.
	for _, c := range []struct {
		name    string
		purpose token.Purpose
		ttl     time.Duration
	}{
		{"invalidates the unused reset tokens, then adds the new one", token.PurposeResetPassword, 30 * time.Minute},
		{"an invitation replaces only invitations", token.PurposeInvite, 72 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := apptest.NewRepos(gomock.NewController(t))
			var stored *token.OneTimeToken
			gomock.InOrder(
				r.Tokens.EXPECT().InvalidateUnused(gomock.Any(), uid, apptest.T0, apptest.Purposes(c.purpose)).Return(2, nil),
				r.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
					stored = tk
					return nil
				}),
			)
			s, err := app.IssuePasswordLink(ctx, r.App(), apptest.NewRand("x"), uid, c.purpose, apptest.T0, c.ttl)
			if err != nil {
				t.Fatal(err)
			}
			if token.HashOf(s) != stored.Hash() || stored.UserID() != uid || stored.Purpose() != c.purpose ||
				!stored.CreatedAt().Equal(apptest.T0) || !stored.ExpiresAt().Equal(apptest.T0.Add(c.ttl)) ||
				stored.UsedAt() != nil || stored.PasswordHash() != "" {
				t.Fatalf("stored %+v", stored)
			}
		})
	}
	t.Run("invalidation fails: nothing added", func(t *testing.T) {
		r := apptest.NewRepos(gomock.NewController(t))
		boom := errors.New("db")
		r.Tokens.EXPECT().InvalidateUnused(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, boom)
		// Strict mock: no Add.
		if s, err := app.IssuePasswordLink(ctx, r.App(), apptest.NewRand("x"), uid, token.PurposeResetPassword, apptest.T0, time.Minute); !errors.Is(err, boom) || s != "" {
			t.Fatalf("= %q, %v", s.Reveal(), err)
		}
	})
	t.Run("add fails", func(t *testing.T) {
		r := apptest.NewRepos(gomock.NewController(t))
		boom := errors.New("db")
		r.Tokens.EXPECT().InvalidateUnused(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, nil)
		r.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(boom)
		if s, err := app.IssuePasswordLink(ctx, r.App(), apptest.NewRand("x"), uid, token.PurposeResetPassword, apptest.T0, time.Minute); !errors.Is(err, boom) || s != "" {
			t.Fatalf("= %q, %v", s.Reveal(), err)
		}
	})
	t.Run("bad input never reaches the store", func(t *testing.T) {
		r := apptest.NewRepos(gomock.NewController(t)) // strict: no call at all
		if _, err := app.IssuePasswordLink(ctx, r.App(), apptest.NewRand("x"), uid, token.PurposeResetPassword, apptest.T0, 0); err == nil {
			t.Fatal("zero ttl accepted")
		}
		if _, err := app.IssuePasswordLink(ctx, r.App(), apptest.NewRand("x"), uid, token.PurposeVerifyEmail, apptest.T0, time.Minute); err == nil {
			t.Fatal("a verification purpose accepted")
		}
		if _, err := app.IssuePasswordLink(ctx, r.App(), strings.NewReader("short"), uid, token.PurposeResetPassword, apptest.T0, time.Minute); err == nil {
			t.Fatal("short random accepted")
		}
	})
}

func TestAddVerificationToken(t *testing.T) {
	ctx := context.Background()
	ttl := 24 * time.Hour
	u := user.Rehydrate(apptest.ID(100), user.RehydrateEmail("Stored.Form@example.com"), "$argon2id$account", true, false,
		apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
	for _, c := range []struct {
		name, passwordHash string
	}{
		{"registration carries its password hash", "$argon2id$registration"},
		{"resend carries none", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := apptest.NewRepos(gomock.NewController(t))
			ids := &apptest.IDs{}
			var stored *token.OneTimeToken
			var mail app.OutboundMail
			// Strict mocks: no InvalidateUnused. Each pending registration
			// keeps its own link until one of them verifies the address.
			r.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
				stored = tk
				return nil
			})
			r.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
				mail = m
				return nil
			})
			if err := app.AddVerificationToken(ctx, r.App(), ids, apptest.NewRand(t.Name()), apptest.Links(), u, c.passwordHash, apptest.T0, ttl); err != nil {
				t.Fatal(err)
			}
			if stored.UserID() != u.ID() || stored.Purpose() != token.PurposeVerifyEmail || stored.PasswordHash() != c.passwordHash ||
				!stored.CreatedAt().Equal(apptest.T0) || !stored.ExpiresAt().Equal(apptest.T0.Add(ttl)) || stored.UsedAt() != nil {
				t.Fatalf("stored %+v", stored)
			}
			if mail.ID != apptest.ID(1) || mail.Kind != app.MailVerifyEmail || mail.To != u.Email().String() || mail.UserID != u.ID() {
				t.Fatalf("mail %+v", mail)
			}
			prefix := apptest.PublicURL + "/verify-email?token="
			link := mail.Data["link"]
			if !strings.HasPrefix(link, prefix) {
				t.Fatalf("link %q", link)
			}
			if h, err := token.Parse(strings.TrimPrefix(link, prefix)); err != nil || h != stored.Hash() {
				t.Fatalf("the mailed secret does not hash to the stored token (%v)", err)
			}
			if strings.Contains(link, "argon2id") {
				t.Fatalf("link %q carries the password hash", link)
			}
		})
	}
	t.Run("add fails: no mail", func(t *testing.T) {
		r := apptest.NewRepos(gomock.NewController(t))
		boom := errors.New("db")
		r.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(boom)
		if err := app.AddVerificationToken(ctx, r.App(), &apptest.IDs{}, apptest.NewRand("x"), apptest.Links(), u, "", apptest.T0, ttl); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("enqueue fails", func(t *testing.T) {
		r := apptest.NewRepos(gomock.NewController(t))
		boom := errors.New("db")
		r.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
		r.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).Return(boom)
		if err := app.AddVerificationToken(ctx, r.App(), &apptest.IDs{}, apptest.NewRand("x"), apptest.Links(), u, "", apptest.T0, ttl); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad input never reaches the store", func(t *testing.T) {
		r := apptest.NewRepos(gomock.NewController(t)) // strict: no call at all
		if err := app.AddVerificationToken(ctx, r.App(), &apptest.IDs{}, apptest.NewRand("x"), apptest.Links(), u, "$argon2id$h", apptest.T0, 0); err == nil {
			t.Fatal("zero ttl accepted")
		}
		if err := app.AddVerificationToken(ctx, r.App(), &apptest.IDs{}, strings.NewReader("short"), apptest.Links(), u, "", apptest.T0, ttl); err == nil {
			t.Fatal("short random accepted")
		}
	})
}

// Every runs its job on each tick, reports the failures by name, and
// returns once the context ends.
func TestEvery(t *testing.T) {
	ctrl := gomock.NewController(t)
	rep := mock.NewMockErrorReporter(ctrl)
	ctx, cancel := context.WithCancel(context.Background())
	boom := errors.New("boom")
	runs := 0
	rep.EXPECT().ReportError(gomock.Any(), "job", boom).Times(2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.Every(ctx, time.Millisecond, rep, "job", func(context.Context) error {
			runs++
			if runs == 3 {
				cancel()
				return nil
			}
			return boom
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after the context ended")
	}
	if runs != 3 {
		t.Fatalf("%d runs, want 3", runs)
	}
}

package password_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const newPassword = "a brand new passphrase"

var meta = app.RequestMeta{IP: "203.0.113.5", UserAgent: "test-agent"}

var policy = user.PasswordPolicy{MinLength: 15, IsCommon: func(s string) bool { return s == "passwordpassword" }}

func storedUser(verified bool) *user.User {
	var vAt *time.Time
	if verified {
		v := apptest.T0.Add(-time.Hour)
		vAt = &v
	}
	return user.Rehydrate(apptest.ID(100), user.RehydrateEmail("walter.white@example.com"), "$argon2id$old", true, verified,
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-48*time.Hour), vAt, nil)
}

// expectLinksInvalidated expects a password reset or change to invalidate
// every outstanding link of the user, reset and verification alike, at the
// clock's now: a link mailed before must neither set a password nor verify
// the address with a password after this one.
func expectLinksInvalidated(repos *apptest.Repos) *gomock.Call {
	return repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), apptest.ID(100), apptest.T0,
		apptest.Purposes(token.PurposeResetPassword, token.PurposeInvite, token.PurposeVerifyEmail, token.PurposeChangeEmail)).Times(1).Return(2, nil)
}

type resetFixture struct {
	h *password.Reset
	*apptest.Ports
	raw  string
	hash token.Hash
}

func newReset(t *testing.T) *resetFixture {
	ctrl := gomock.NewController(t)
	f := &resetFixture{
		Ports: apptest.NewPorts(ctrl),
	}
	f.h = password.NewReset(f.Tx, f.Hasher, policy, limits.NewGuard(f.RL, limits.DefaultPolicy()), apptest.NewClock(apptest.T0), &apptest.IDs{})
	s, h, err := token.NewSecret(apptest.NewRand(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	f.raw, f.hash = s.Reveal(), h
	return f
}

// resetToken returns a fresh copy each time, as a database would.
func (f *resetFixture) resetToken(usedAt *time.Time) func(context.Context, token.Hash) (*token.OneTimeToken, error) {
	return func(context.Context, token.Hash) (*token.OneTimeToken, error) {
		return token.Rehydrate(f.hash, apptest.ID(100), token.PurposeResetPassword, apptest.T0.Add(-10*time.Minute), apptest.T0.Add(20*time.Minute), usedAt, "", ""), nil
	}
}

func TestResetHappyPath(t *testing.T) {
	f := newReset(t)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	locked := storedUser(false)
	pairs, account := apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, apptest.Committed(res, 2))
	gomock.InOrder(
		// Read-only look.
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(nil)),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(false), nil),
		// Hash outside any transaction.
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
			if pw.Reveal() != newPassword {
				t.Errorf("hashed %q", pw.Reveal())
			}
			return "$argon2id$new", nil
		}),
		// Checked again under lock.
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(nil)),
		f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
			if tk.UsedAt() == nil || !tk.UsedAt().Equal(apptest.T0) {
				t.Errorf("MarkUsed with UsedAt %v", tk.UsedAt())
			}
			return nil
		}),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(locked, nil),
		f.Repos.Users.EXPECT().Update(gomock.Any(), locked).DoAndReturn(func(_ context.Context, u *user.User) error {
			if u.PasswordHash() != "$argon2id$new" || !u.Verified() {
				t.Errorf("Update hash %q verified %v", u.PasswordHash(), u.Verified())
			}
			return nil
		}),
		// The address was verified just now: every failure counted under
		// it goes, the (account, IP) pairs and the lockout, after the commit.
		pairs, account,
	)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), uuid.Nil, apptest.T0).Return(3, nil)
	expectLinksInvalidated(f.Repos)
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).Times(1).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		if m.Kind != app.MailPasswordChanged || m.To != "walter.white@example.com" || m.UserID != apptest.ID(100) {
			t.Errorf("mail %+v", m)
		}
		return nil
	})
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.PasswordReset || e.UserID != apptest.ID(100) || e.Detail["sessions_revoked"] != "3" || e.IP != meta.IP {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); errs[0] != nil || errs[1] != nil {
		t.Fatalf("tx %v", errs)
	}
}

// An invitation link sets the first password through the same use case:
// it verifies the address, kills every other link (a reset requested
// since included), clears the failures counted under the address, and
// sends no "password changed" notice (strict mock: no Enqueue); the audit
// says it was an invitation.
func TestResetAcceptsInvitation(t *testing.T) {
	f := newReset(t)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	invite := func(context.Context, token.Hash) (*token.OneTimeToken, error) {
		return token.Rehydrate(f.hash, apptest.ID(100), token.PurposeInvite, apptest.T0.Add(-time.Hour), apptest.T0.Add(71*time.Hour), nil, "", ""), nil
	}
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Times(2).DoAndReturn(invite)
	f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(false), nil)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
		if tk.Purpose() != token.PurposeInvite || tk.UsedAt() == nil {
			t.Errorf("MarkUsed %v used %v", tk.Purpose(), tk.UsedAt())
		}
		return nil
	})
	locked := storedUser(false)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(locked, nil)
	f.Repos.Users.EXPECT().Update(gomock.Any(), locked).Return(nil)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), uuid.Nil, apptest.T0).Return(0, nil)
	expectLinksInvalidated(f.Repos)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.PasswordReset || e.Detail["via"] != "invitation" || e.Detail["sessions_revoked"] != "0" {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, apptest.Committed(res, 2))
	if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); errs[1] != nil || !locked.Verified() || locked.PasswordHash() != "$argon2id$new" {
		t.Fatalf("tx %v, verified %v", errs, locked.Verified())
	}
}

// The first look only checks the token: handed the very same token again
// under lock (as a store caching it might), the reset still goes through,
// which it could not if the look had used it.
func TestResetFirstLookDoesNotUseTheToken(t *testing.T) {
	f := newReset(t)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	tok, _ := f.resetToken(nil)(context.Background(), f.hash)
	gomock.InOrder(
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(tok, nil),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil),
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, user.Password) (string, error) {
			if tok.UsedAt() != nil {
				t.Errorf("the first look used the token (UsedAt %v)", tok.UsedAt())
			}
			return "$argon2id$new", nil
		}),
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(tok, nil),
		f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil),
	)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.Repos.Users.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, nil)
	expectLinksInvalidated(f.Repos)
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil)
	if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); err != nil {
		t.Fatal(err)
	}
	if tok.UsedAt() == nil || !tok.UsedAt().Equal(apptest.T0) {
		t.Fatalf("token UsedAt %v, want T0", tok.UsedAt())
	}
}

func TestResetInvalidationFailureRollsBack(t *testing.T) {
	f := newReset(t)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Times(2).DoAndReturn(f.resetToken(nil))
	f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.Repos.Users.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, nil)
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, domain.Unavailable(errors.New("x")))
	// Strict mocks: no mail, no audit, no lockout reset.
	if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if errs := res.Errs(); len(errs) != 2 || errs[1] == nil {
		t.Fatalf("tx %v: the reset must roll back", errs)
	}
}

func TestResetRefusedTokenNeverHashes(t *testing.T) {
	used := apptest.T0.Add(-time.Minute)
	for _, c := range []struct {
		name   string
		lookup func(f *resetFixture) *gomock.Call
	}{
		{"unknown", func(f *resetFixture) *gomock.Call {
			return f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(nil, domain.ErrInvalidToken)
		}},
		{"used", func(f *resetFixture) *gomock.Call {
			return f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(&used))
		}},
		{"change-email token", func(f *resetFixture) *gomock.Call {
			return f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(
				token.Rehydrate(f.hash, apptest.ID(100), token.PurposeChangeEmail, apptest.T0, apptest.T0.Add(time.Hour), nil, "", "x@example.com"), nil)
		}},
		{"verification token", func(f *resetFixture) *gomock.Call {
			return f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(
				token.Rehydrate(f.hash, apptest.ID(100), token.PurposeVerifyEmail, apptest.T0, apptest.T0.Add(time.Hour), nil, "", ""), nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newReset(t)
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			c.lookup(f)
			if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("malformed", func(t *testing.T) {
		f := newReset(t) // strict: nothing at all
		if err := f.h.Handle(context.Background(), "nope", newPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestResetPolicyUsesTheUsersEmail(t *testing.T) {
	for _, c := range []struct{ pw, rule string }{
		{"i am Walter.White, ok", user.RulePasswordContainsEmail},
		{"short", user.RulePasswordTooShort},
		{"PASSWORDPASSWORD", user.RulePasswordCommon},
	} {
		t.Run(c.rule, func(t *testing.T) {
			f := newReset(t)
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1) // only the read
			f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(nil))
			f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
			// No Hash, no MarkUsed.
			err := f.h.Handle(context.Background(), f.raw, c.pw, meta)
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindValidation || de.Fields[0].Field != "password" || de.Fields[0].Code != c.rule {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

func TestResetTokenUsedWhileHashing(t *testing.T) {
	f := newReset(t)
	used := apptest.T0
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	gomock.InOrder(
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(nil)),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil),
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil),
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(&used)),
	)
	// No MarkUsed, no Update, no RevokeAll, no lockout reset.
	if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
	if res.Errs()[1] == nil {
		t.Fatal("second transaction committed")
	}
}

func TestResetHasherOverloaded(t *testing.T) {
	f := newReset(t)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(nil))
	f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("", domain.ErrOverloaded)
	if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("err = %v", err)
	}
}

// A disabled account's reset link sets nothing: refused at the first look
// (no hash is computed) or, when the account is disabled while hashing,
// in the writing transaction.
func TestResetRefusesADisabledAccount(t *testing.T) {
	disabled := user.Rehydrate(apptest.ID(100), user.RehydrateEmail("walter.white@example.com"), "$argon2id$old", false, true,
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-48*time.Hour), nil, nil)
	t.Run("before hashing", func(t *testing.T) {
		f := newReset(t)
		res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.resetToken(nil))
		f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(disabled, nil)
		if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v, want invalid_token", err)
		}
		if res.Errs()[0] == nil {
			t.Fatal("the transaction committed")
		}
	})
	t.Run("while hashing", func(t *testing.T) {
		f := newReset(t)
		res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Times(2).DoAndReturn(f.resetToken(nil))
		f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil)
		f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).Return(nil)
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(disabled, nil)
		if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v, want invalid_token", err)
		}
		if errs := res.Errs(); len(errs) != 2 || errs[1] == nil {
			t.Fatalf("the writing transaction committed: %v", errs)
		}
	})
}

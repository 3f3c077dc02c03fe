package password_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
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
	f := &resetFixture{Ports: apptest.NewPorts(t)}
	f.h = password.NewReset(f.Tx, f.Hasher, policy, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
	s, h := apptest.Secret(t, t.Name())
	f.raw, f.hash = s.Reveal(), h
	f.Repos.NoFactor(apptest.ID(100))
	return f
}

// resetToken returns a fresh copy each time, as a database would.
func (f *resetFixture) resetToken(usedAt *time.Time) func(context.Context, token.Hash) (*token.OneTimeToken, error) {
	return func(context.Context, token.Hash) (*token.OneTimeToken, error) {
		return token.Rehydrate(f.hash, apptest.ID(100), token.PurposeResetPassword, apptest.T0.Add(-10*time.Minute), apptest.T0.Add(20*time.Minute), usedAt, "", ""), nil
	}
}

// expectUsedUnderLock expects a reset of a live token up to its use in
// the second transaction, where the user read for change is locked.
func (f *resetFixture) expectUsedUnderLock(locked *user.User) *apptest.TxResults {
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Times(2).DoAndReturn(f.resetToken(nil))
	f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(locked, nil)
	return res
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
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.UserPasswordChanged, webhook.UserVerified))
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), uuid.Nil, apptest.T0).Return(3, nil)
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.SessionRevoked))
	expectLinksInvalidated(f.Repos)
	apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
		return m.Kind == app.MailPasswordChanged && m.To == "walter.white@example.com" && m.UserID == apptest.ID(100)
	})
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.PasswordReset && e.UserID == apptest.ID(100) && e.Detail["sessions_revoked"] == "3" && e.IP == meta.IP
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
// says it was an invitation. Applications hear user.password_changed and
// user.verified; with no session to end, no session.revoked.
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
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.UserPasswordChanged, webhook.UserVerified))
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), uuid.Nil, apptest.T0).Return(0, nil)
	expectLinksInvalidated(f.Repos)
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.PasswordReset && e.Detail["via"] == "invitation" && e.Detail["sessions_revoked"] == "0"
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
	// Verified before: no user.verified.
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.UserPasswordChanged))
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
	res := f.expectUsedUnderLock(storedUser(true))
	f.Repos.Users.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	// Published in the transaction that rolls back: it goes with it.
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.UserPasswordChanged))
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
		res := f.expectUsedUnderLock(disabled)
		if err := f.h.Handle(context.Background(), f.raw, newPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v, want invalid_token", err)
		}
		if errs := res.Errs(); len(errs) != 2 || errs[1] == nil {
			t.Fatalf("the writing transaction committed: %v", errs)
		}
	})
}

const currentPassword = "the current passphrase"

type changeFixture struct {
	h *password.Change
	*apptest.Ports
	keys map[int]string
	// u is the signed-in user; meanwhile, when set, is what the
	// transaction reads for change instead.
	u, meanwhile *user.User
}

func newChange(t *testing.T) *changeFixture {
	f := &changeFixture{Ports: apptest.NewPorts(t), keys: map[int]string{}}
	f.h = password.NewChange(password.ChangeDeps{
		Users:  f.Users,
		Tx:     f.Tx,
		Hasher: f.Hasher,
		Policy: policy,
		Check:  f.PasswordCheck(),
		StepUp: f.StepUp(),
		Clock:  f.Clock,
		IDs:    &apptest.IDs{},
	})
	return f
}

func changeIn(cur, next string) password.ChangeInput {
	return password.ChangeInput{UserID: apptest.ID(100), SessionID: apptest.ID(50), CurrentPassword: cur, NewPassword: next, Meta: meta}
}

// expectUserAndBegin seeds the user and expects BeginLogin's two
// counters, pair then account, letting them through and recording their
// keys.
func (f *changeFixture) expectUserAndBegin() {
	f.u = storedUser(true)
	f.Seed(f.u)
	gomock.InOrder(
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
			f.keys[10] = k
			return true, 0, nil
		}),
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 100, gomock.Any()).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
			f.keys[100] = k
			return true, 0, nil
		}),
	)
}

// expectVerify expects exactly one check of the current password, after
// BeginLogin counted it.
func (f *changeFixture) expectVerify(t *testing.T, ok bool) *gomock.Call {
	return f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$old").Times(1).DoAndReturn(func(_ context.Context, pw user.Password, _ string) (bool, bool, error) {
		if pw.Reveal() != currentPassword && pw.Reveal() != "not the password" {
			t.Errorf("verified %q", pw.Reveal())
		}
		if f.keys[10] == "" || f.keys[100] == "" {
			t.Errorf("password checked before BeginLogin counted it")
		}
		return ok, false, nil
	})
}

// expectLocked expects LoginFailed's read of the account counter.
func (f *changeFixture) expectLocked(t *testing.T, locked bool) *gomock.Call {
	return f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), 100).DoAndReturn(func(_ context.Context, k string, _ int) (bool, time.Duration, error) {
		if k == "" || k != f.keys[100] {
			t.Errorf("Blocked key %q, want the account key %q", k, f.keys[100])
		}
		return locked, 0, nil
	})
}

// expectCountersReset expects LoginSucceeded: the pair key, then the
// account key.
func (f *changeFixture) expectCountersReset(t *testing.T) *gomock.Call {
	var n int
	return f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string) error {
		n++
		want := f.keys[10]
		if n == 2 {
			want = f.keys[100]
		}
		if k == "" || k != want {
			t.Errorf("Reset #%d key %q, want %q (keys %v)", n, k, want, f.keys)
		}
		return nil
	})
}

func liveSession() *session.Session {
	return session.Rehydrate(apptest.ID(50), apptest.ID(100), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "ua", "ip")
}

func TestChangeWrongCurrentPassword(t *testing.T) {
	f := newChange(t)
	f.expectUserAndBegin()
	gomock.InOrder(
		f.expectVerify(t, false),
		f.expectLocked(t, false),
		apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
			return e.Type == audit.LoginFailed && e.UserID == apptest.ID(100) && e.Detail["during"] == "password_change"
		}),
	)
	// Strict mocks: no Reset (the failure stays counted), no Hash, no
	// transaction.
	err := f.h.Handle(context.Background(), changeIn("not the password", newPassword))
	if err != domain.ErrWrongPassword {
		t.Fatalf("err = %v", err)
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindForbidden {
		t.Fatalf("kind %v, want 403", de)
	}
	if f.keys[10] == f.keys[100] {
		t.Fatalf("pair and account share a key: %v", f.keys)
	}
}

func TestChangeWrongPasswordLocks(t *testing.T) {
	f := newChange(t)
	f.expectUserAndBegin()
	var types []audit.Type
	gomock.InOrder(
		f.expectVerify(t, false),
		f.expectLocked(t, true),
		f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.UserID != apptest.ID(100) {
				t.Errorf("audit %+v", e)
			}
			types = append(types, e.Type)
			return nil
		}),
	)
	if err := f.h.Handle(context.Background(), changeIn("not the password", newPassword)); err != domain.ErrWrongPassword {
		t.Fatalf("err = %v", err)
	}
	if len(types) != 2 || types[0] != audit.LoginFailed || types[1] != audit.AccountLocked {
		t.Fatalf("audit %v", types)
	}
}

func TestChangeThrottledBeforeVerify(t *testing.T) {
	for _, c := range []struct {
		name          string
		accountLocked bool
		retry         time.Duration
	}{{"pair over the limit", false, 4 * time.Minute}, {"account locked", true, time.Hour}} {
		t.Run(c.name, func(t *testing.T) {
			f := newChange(t)
			f.Seed(storedUser(true))
			if c.accountLocked {
				gomock.InOrder(
					f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(true, time.Duration(0), nil),
					f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 100, gomock.Any()).Return(false, time.Duration(0), nil),
				)
			} else {
				f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(false, 4*time.Minute, nil)
			}
			// Strict: no Verify, no Blocked, no Reset, no audit.
			err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword))
			var de *domain.Error
			if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter != c.retry {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

func TestChangePolicyOnNewPassword(t *testing.T) {
	f := newChange(t)
	f.expectUserAndBegin()
	// The right current password gives the attempt back before the new
	// one is judged.
	gomock.InOrder(f.expectVerify(t, true), f.expectCountersReset(t))
	err := f.h.Handle(context.Background(), changeIn(currentPassword, "walter.white forever"))
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || de.Fields[0].Field != "new_password" || de.Fields[0].Code != user.RulePasswordContainsEmail {
		t.Fatalf("err = %#v", err)
	}
}

// expectUpToTransaction expects everything before the transaction of a
// change with the right current password and returns the transaction
// results.
func (f *changeFixture) expectUpToTransaction(t *testing.T) *apptest.TxResults {
	f.expectUserAndBegin()
	gomock.InOrder(
		f.expectVerify(t, true),
		f.expectCountersReset(t),
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
			if pw.Reveal() != newPassword {
				t.Errorf("hashed %q", pw.Reveal())
			}
			return "$argon2id$new", nil
		}),
	)
	// No MFA: no step-up.
	return apptest.ExpectWithinAfter(f.Tx, f.Repos.App(), 1, func() {
		if f.meanwhile != nil {
			f.Seed(f.meanwhile)
		}
	})
}

// afterUserLocked answers the read of the caller's session for change
// with (s, err), failing t unless the user was read for change first.
func (f *changeFixture) afterUserLocked(t *testing.T, s *session.Session, err error) func(context.Context, uuid.UUID) (*session.Session, error) {
	return func(context.Context, uuid.UUID) (*session.Session, error) {
		if !slices.Equal(f.Repos.Store.Locked(), []uuid.UUID{apptest.ID(100)}) {
			t.Errorf("session read for change before the user (users locked %v)", f.Repos.Store.Locked())
		}
		return s, err
	}
}

// On an account with MFA on, the right current password from a
// password-only session without a code is step_up_required, before any
// hash is made or anything changes (strict mocks).
func TestChangeNeedsAStepUpWithMFAOn(t *testing.T) {
	f := newChange(t)
	f.expectUserAndBegin()
	at, step := apptest.T0.Add(-time.Hour), int64(1)
	f.SeedTOTP(mfa.RehydrateTOTP(apptest.ID(100), []byte("sealed secret, 21+ bytes"), at, &at, &step))
	gomock.InOrder(f.expectVerify(t, true), f.expectCountersReset(t))
	in := changeIn(currentPassword, newPassword)
	in.Proof = appmfa.Proof{Session: liveSession()}
	if err := f.h.Handle(context.Background(), in); err != mfa.ErrStepUpRequired {
		t.Fatalf("err = %v, want exactly mfa.ErrStepUpRequired", err)
	}
}

func TestChangeSuccessKeepsCurrentSession(t *testing.T) {
	f := newChange(t)
	res := f.expectUpToTransaction(t)
	gomock.InOrder(
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(50)).DoAndReturn(f.afterUserLocked(t, liveSession(), nil)),
		f.Repos.Users.EXPECT().Update(gomock.Any(), f.u).DoAndReturn(func(_ context.Context, u *user.User) error {
			if u.PasswordHash() != "$argon2id$new" || !u.UpdatedAt().Equal(apptest.T0) {
				t.Errorf("Update hash %q", u.PasswordHash())
			}
			return nil
		}),
	)
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.UserPasswordChanged))
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), apptest.ID(50), apptest.T0).Return(2, nil)
	// The other sessions, revoked at once: one event naming the user.
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.SessionRevoked))
	expectLinksInvalidated(f.Repos)
	apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
		return m.Kind == app.MailPasswordChanged && m.To == "walter.white@example.com" && m.UserID == apptest.ID(100)
	})
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.PasswordChanged && e.Detail["sessions_revoked"] == "2"
	})
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("transaction results %v, want one commit", errs)
	}
}

// A reset or change that committed after the current password was checked
// wins: the old password must not set a new one.
func TestChangeHashChangedUnderLock(t *testing.T) {
	f := newChange(t)
	res := f.expectUpToTransaction(t)
	changed := user.Rehydrate(apptest.ID(100), user.RehydrateEmail("walter.white@example.com"), "$argon2id$reset-meanwhile", true, true,
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-time.Minute), nil, nil)
	f.meanwhile = changed
	// Strict mocks: no Update, no RevokeAll, no mail, no audit.
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); err != domain.ErrWrongPassword {
		t.Fatalf("err = %v", err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != domain.ErrWrongPassword {
		t.Fatalf("transaction results %v: it must roll back", errs)
	}
	if changed.PasswordHash() != "$argon2id$reset-meanwhile" {
		t.Fatalf("locked row modified: %q", changed.PasswordHash())
	}
}

// The caller's session must still be live and theirs under the lock.
func TestChangeCallerSessionNotLive(t *testing.T) {
	revokedAt := apptest.T0.Add(-time.Second)
	boom := domain.Unavailable(errors.New("db down"))
	for _, c := range []struct {
		name string
		s    *session.Session
		err  error
		want error
	}{
		{"revoked", session.Rehydrate(apptest.ID(50), apptest.ID(100), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), &revokedAt, "ua", "ip"), nil, domain.ErrUnauthorized},
		{"another user's", session.Rehydrate(apptest.ID(50), apptest.ID(101), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "ua", "ip"), nil, domain.ErrUnauthorized},
		{"gone", nil, session.ErrNotFound, domain.ErrUnauthorized},
		{"store failure", nil, boom, boom},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newChange(t)
			res := f.expectUpToTransaction(t)
			locked := f.u
			f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(50)).DoAndReturn(f.afterUserLocked(t, c.s, c.err))
			// Strict mocks: no Update, no RevokeAll, no mail, no audit.
			err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword))
			if err != c.want {
				t.Fatalf("err = %v, want exactly %v", err, c.want)
			}
			if errs := res.Errs(); len(errs) != 1 || errs[0] != c.want {
				t.Fatalf("transaction results %v: it must roll back", errs)
			}
			if locked.PasswordHash() != "$argon2id$old" {
				t.Fatalf("locked row modified: %q", locked.PasswordHash())
			}
		})
	}
}

func TestChangeUnknownUserIsUnauthorized(t *testing.T) {
	f := newChange(t)
	f.Users.EXPECT().ByID(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); err != domain.ErrUnauthorized {
		t.Fatalf("err = %v", err)
	}
	f.Users.EXPECT().ByID(gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("x")))
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestChangeHasherOverloaded(t *testing.T) {
	f := newChange(t)
	f.expectUserAndBegin()
	f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, false, domain.ErrOverloaded)
	// Not a failure: no lock check, no reset, no audit.
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("err = %v", err)
	}
}

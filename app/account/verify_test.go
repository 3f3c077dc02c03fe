package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const (
	// registrationHash is the hash of the password chosen at the
	// registration whose token is verified; storedUser's account holds
	// "$argon2id$old".
	registrationHash = "$argon2id$registration"
	verifyPassword   = "the registration's passphrase"
)

type verifyFixture struct {
	h *account.VerifyEmail
	*apptest.Ports
	raw  string
	hash token.Hash
}

func newVerify(t *testing.T) *verifyFixture {
	ctrl := gomock.NewController(t)
	f := &verifyFixture{
		Ports: apptest.NewPorts(ctrl),
	}
	f.h = account.NewVerifyEmail(f.Tx, f.Hasher, limits.NewGuard(f.RL, limits.DefaultPolicy()), apptest.NewClock(apptest.T0))
	f.raw, f.hash = newSecret(t)
	return f
}

func newSecret(t *testing.T) (string, token.Hash) {
	t.Helper()
	s, h, err := token.NewSecret(apptest.NewRand(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal(), h
}

// verifyToken returns a fresh copy on each read, as a database would: a
// usable verification token of storedUser carrying passwordHash ("" for a
// resent link), used at usedAt when not nil.
func (f *verifyFixture) verifyToken(passwordHash string, usedAt *time.Time) func(context.Context, token.Hash) (*token.OneTimeToken, error) {
	return func(context.Context, token.Hash) (*token.OneTimeToken, error) {
		return token.Rehydrate(f.hash, apptest.ID(100), token.PurposeVerifyEmail, apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), usedAt, passwordHash, ""), nil
	}
}

// expectFirstLook expects the first transaction's reads: the token, then
// its user (not for change).
func (f *verifyFixture) expectFirstLook(passwordHash string, u *user.User) []any {
	return []any{
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.verifyToken(passwordHash, nil)),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(u, nil),
	}
}

// expectPasswordCheck expects exactly one hash verification of the typed
// password against encoded, run between the two transactions (after the
// first committed, before the second started).
func (f *verifyFixture) expectPasswordCheck(t *testing.T, res *apptest.TxResults, encoded string, ok bool) *gomock.Call {
	return f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), encoded).Times(1).DoAndReturn(func(_ context.Context, pw user.Password, _ string) (bool, bool, error) {
		if pw.Reveal() != verifyPassword && pw.Reveal() != "not the password" {
			t.Errorf("verified %q", pw.Reveal())
		}
		if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
			t.Errorf("password checked inside a transaction (results so far %v)", errs)
		}
		return ok, false, nil
	})
}

// expectVerified expects the second transaction's writes for u: the token
// marked used at the clock's now, the user saved verified with wantHash,
// every other verification token invalidated after this one was used, and
// the audit event.
func (f *verifyFixture) expectVerified(t *testing.T, u *user.User, wantHash string) {
	markUsed := f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
		if tk.Hash() != f.hash || tk.UsedAt() == nil || !tk.UsedAt().Equal(apptest.T0) {
			t.Errorf("MarkUsed of %x with UsedAt %v", tk.Hash(), tk.UsedAt())
		}
		return nil
	})
	f.Repos.Users.EXPECT().Update(gomock.Any(), u).Times(1).DoAndReturn(func(_ context.Context, uu *user.User) error {
		if !uu.Verified() || !uu.VerifiedAt().Equal(apptest.T0) || uu.PasswordHash() != wantHash {
			t.Errorf("Update: verified %v at %v, hash %q; want verified at T0 with %q", uu.Verified(), uu.VerifiedAt(), uu.PasswordHash(), wantHash)
		}
		return nil
	})
	// Other pending registrations die: only verification tokens, and
	// after this one was marked used (MarkUsed refuses a used token).
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeVerifyEmail)).Times(1).After(markUsed).Return(2, nil)
	appended := f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.EmailVerified || e.UserID != u.ID() || e.IP != meta.IP || e.UserAgent != meta.UserAgent || !e.At.Equal(apptest.T0) {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	// The verified address drops the login failures counted under it:
	// every (account, IP) pair and the account's consecutive count.
	pairs, _ := apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, nil)
	pairs.After(appended)
}

// The right password of the registration that sent the link verifies the
// address, and that registration's password becomes the account's: the
// sessions opened with the old one end.
func TestVerifyEmailWithTheRegistrationsPassword(t *testing.T) {
	f := newVerify(t)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	locked := storedUser("v@example.com", false, true)
	first := f.expectFirstLook(registrationHash, storedUser("v@example.com", false, true))
	gomock.InOrder(append(first,
		f.expectPasswordCheck(t, res, registrationHash, true),
		// Everything again, this time for change.
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.verifyToken(registrationHash, nil)),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(locked, nil),
	)...)
	f.expectVerified(t, locked, registrationHash)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), uuid.Nil, apptest.T0).Times(1).Return(1, nil)

	got, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got != locked || !got.Verified() || got.PasswordHash() != registrationHash {
		t.Fatalf("returned %+v", got)
	}
	if errs := res.Errs(); len(errs) != 2 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("tx %v", errs)
	}
}

// A resent link carries no password: it verifies with the account's
// current one, which stays, and so do the sessions.
func TestVerifyEmailResentLinkUsesTheAccountsPassword(t *testing.T) {
	f := newVerify(t)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	locked := storedUser("v@example.com", false, true)
	first := f.expectFirstLook("", storedUser("v@example.com", false, true))
	gomock.InOrder(append(first,
		f.expectPasswordCheck(t, res, "$argon2id$old", true),
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.verifyToken("", nil)),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(locked, nil),
	)...)
	f.expectVerified(t, locked, "$argon2id$old")
	// Strict mocks: no RevokeAll.

	got, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta)
	if err != nil || got != locked || !got.Verified() {
		t.Fatalf("Handle = %+v, %v", got, err)
	}
}

// A wrong password answers like an unknown token (ErrNotThisRegistration is
// ErrInvalidToken, the API's answer) and writes nothing: one transaction
// that only read, no second one. Only a page can tell it apart.
func TestVerifyEmailWrongPassword(t *testing.T) {
	for _, c := range []struct {
		name, tokenHash, checkedAgainst string
	}{
		{"registration link", registrationHash, registrationHash},
		{"resent link", "", "$argon2id$old"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newVerify(t)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			u := storedUser("v@example.com", false, true)
			gomock.InOrder(append(f.expectFirstLook(c.tokenHash, u),
				f.expectPasswordCheck(t, res, c.checkedAgainst, false))...)
			// Strict mocks: no MarkUsed, no Update, no RevokeAll, no
			// InvalidateUnused, no audit.
			got, err := f.h.Handle(context.Background(), f.raw, "not the password", meta)
			var de *domain.Error
			if !errors.Is(err, account.ErrNotThisRegistration) || !errors.Is(err, domain.ErrInvalidToken) || !errors.As(err, &de) || de != domain.ErrInvalidToken || got != nil {
				t.Fatalf("Handle = %v, %v; want ErrNotThisRegistration, which is ErrInvalidToken", got, err)
			}
			if u.Verified() || u.PasswordHash() != "$argon2id$old" {
				t.Fatal("the user was changed in memory")
			}
		})
	}
}

// An address verified already (by another registration's link, or by a
// reset) refuses every other pending link before any hashing: the first
// registration to verify wins. A disabled account is refused the same.
func TestVerifyEmailRefusesUsers(t *testing.T) {
	for _, c := range []struct {
		name string
		u    *user.User
	}{
		{"verified already", storedUser("v@example.com", true, true)},
		{"disabled", storedUser("v@example.com", false, false)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newVerify(t)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.expectFirstLook(registrationHash, c.u)
			// Strict mocks: no Verify, no MarkUsed, no Update, no audit.
			got, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta)
			if err != domain.ErrInvalidToken || got != nil {
				t.Fatalf("Handle = %v, %v; want exactly ErrInvalidToken", got, err)
			}
			if res.Errs()[0] == nil {
				t.Fatal("the transaction committed")
			}
		})
	}
}

// What changed while the password was hashed is seen under the locks, and
// refused without a write.
func TestVerifyEmailStateChangedWhileHashing(t *testing.T) {
	used := apptest.T0.Add(-time.Second)
	for _, c := range []struct {
		name      string
		tokenHash string
		second    func(*verifyFixture) (*token.OneTimeToken, error)
		locked    *user.User
	}{
		{"link used meanwhile", registrationHash, func(f *verifyFixture) (*token.OneTimeToken, error) {
			return f.verifyToken(registrationHash, &used)(context.Background(), f.hash)
		}, nil},
		{"another registration verified meanwhile", registrationHash, func(f *verifyFixture) (*token.OneTimeToken, error) {
			return f.verifyToken(registrationHash, nil)(context.Background(), f.hash)
		}, storedUser("v@example.com", true, true)},
		{"account password changed meanwhile (resent link)", "", func(f *verifyFixture) (*token.OneTimeToken, error) {
			return f.verifyToken("", nil)(context.Background(), f.hash)
		}, user.Rehydrate(apptest.ID(100), user.RehydrateEmail("v@example.com"), "$argon2id$changed", true, false,
			apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-time.Minute), nil, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newVerify(t)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
			checked := registrationHash
			if c.tokenHash == "" {
				checked = "$argon2id$old"
			}
			calls := append(f.expectFirstLook(c.tokenHash, storedUser("v@example.com", false, true)),
				f.expectPasswordCheck(t, res, checked, true),
				f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(func(context.Context, token.Hash) (*token.OneTimeToken, error) {
					return c.second(f)
				}))
			if c.locked != nil {
				calls = append(calls, f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(c.locked, nil))
			}
			gomock.InOrder(calls...)
			// Strict mocks: no MarkUsed, no Update, no RevokeAll, no
			// InvalidateUnused, no audit.
			got, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta)
			if err != domain.ErrInvalidToken || got != nil {
				t.Fatalf("Handle = %v, %v; want exactly ErrInvalidToken", got, err)
			}
			if errs := res.Errs(); len(errs) != 2 || errs[1] == nil {
				t.Fatalf("tx %v: the second transaction must roll back", errs)
			}
		})
	}
}

// Unknown, expired, used and wrong-purpose tokens are refused before any
// user lookup and any hashing.
func TestVerifyEmailRefusesTokens(t *testing.T) {
	used := apptest.T0.Add(-time.Minute)
	uid := apptest.ID(100)
	for _, c := range []struct {
		name string
		tok  func(token.Hash) *token.OneTimeToken // nil: unknown
	}{
		{"unknown", nil},
		{"expired", func(h token.Hash) *token.OneTimeToken {
			return token.Rehydrate(h, uid, token.PurposeVerifyEmail, apptest.T0.Add(-25*time.Hour), apptest.T0, nil, registrationHash, "")
		}},
		{"used", func(h token.Hash) *token.OneTimeToken {
			return token.Rehydrate(h, uid, token.PurposeVerifyEmail, apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &used, registrationHash, "")
		}},
		{"reset token", func(h token.Hash) *token.OneTimeToken {
			return token.Rehydrate(h, uid, token.PurposeResetPassword, apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "", "")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newVerify(t)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			if c.tok == nil {
				f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(nil, domain.ErrInvalidToken)
			} else {
				f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(c.tok(f.hash), nil)
			}
			// Strict mocks: no user lookup, no Verify, no MarkUsed, no audit.
			u, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta)
			if !errors.Is(err, domain.ErrInvalidToken) || u != nil {
				t.Fatalf("Handle = %v, %v; want ErrInvalidToken", u, err)
			}
			if res.Errs()[0] == nil {
				t.Fatal("the transaction committed")
			}
		})
	}
}

func TestVerifyEmailMalformedTouchesNothing(t *testing.T) {
	for _, raw := range []string{"", "abc", strings.Repeat("A", 44), strings.Repeat("!", 43)} {
		f := newVerify(t) // strict: no Within, no Verify
		if _, err := f.h.Handle(context.Background(), raw, verifyPassword, meta); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("Handle(%q) = %v", raw, err)
		}
	}
}

func TestVerifyEmailFailuresPropagate(t *testing.T) {
	t.Run("token store", func(t *testing.T) {
		f := newVerify(t)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).Return(nil, domain.Unavailable(errors.New("down")))
		if _, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("hasher overloaded", func(t *testing.T) {
		f := newVerify(t)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.expectFirstLook(registrationHash, storedUser("v@example.com", false, true))
		f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, false, domain.ErrOverloaded)
		if _, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta); !errors.Is(err, domain.ErrOverloaded) || errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("invalidating the other links rolls back", func(t *testing.T) {
		f := newVerify(t)
		res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
		locked := storedUser("v@example.com", false, true)
		f.expectFirstLook("", storedUser("v@example.com", false, true))
		f.expectPasswordCheck(t, res, "$argon2id$old", true)
		f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), f.hash).DoAndReturn(f.verifyToken("", nil))
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(locked, nil)
		f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), gomock.Any()).Return(nil)
		f.Repos.Users.EXPECT().Update(gomock.Any(), locked).Return(nil)
		f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, domain.Unavailable(errors.New("x")))
		// No audit.
		if _, err := f.h.Handle(context.Background(), f.raw, verifyPassword, meta); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if errs := res.Errs(); len(errs) != 2 || errs[1] == nil {
			t.Fatalf("tx %v", errs)
		}
	})
}

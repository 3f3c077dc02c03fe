package account_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
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
	goodPassword = "correct horse battery staple"
	verifyTTL    = 24 * time.Hour
)

var meta = app.RequestMeta{IP: "203.0.113.5", UserAgent: "test-agent"}

type registerFixture struct {
	h *account.Register
	*apptest.Ports
	ids *apptest.IDs
}

// newRegister builds the use case with verification required.
func newRegister(t *testing.T) *registerFixture { return newRegisterWith(t, true) }

func newRegisterWith(t *testing.T, requireVerified bool) *registerFixture {
	ctrl := gomock.NewController(t)
	f := &registerFixture{
		Ports: apptest.NewPorts(ctrl),

		ids: &apptest.IDs{},
	}
	policy := user.PasswordPolicy{MinLength: 15, IsCommon: func(s string) bool { return s == "passwordpassword" }}
	f.h = account.NewRegister(account.RegisterDeps{
		Tx:              f.Tx,
		Hasher:          f.Hasher,
		Policy:          policy,
		Guard:           limits.NewGuard(f.RL, limits.DefaultPolicy()),
		Clock:           apptest.NewClock(apptest.T0),
		IDs:             f.ids,
		Random:          apptest.NewRand("register"),
		Links:           apptest.Links(),
		TTL:             account.VerificationTTL(verifyTTL),
		RequireVerified: app.RequireVerifiedEmail(requireVerified),
	})
	return f
}

// newHash is what the mocked hasher makes of this registration's password;
// storedUser's accounts hold "$argon2id$old".
const newHash = "$argon2id$new"

// expectHashOnce is the timing guarantee: one hash, whatever the branch.
func (f *registerFixture) expectHashOnce(t *testing.T) {
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
		if pw.Reveal() != goodPassword {
			t.Errorf("hashed %q", pw.Reveal())
		}
		return newHash, nil
	})
}

// expectMailAllowed expects the one per-address mail count of a
// registration. Whichever mail it sends, it is counted on the
// verification counter it shares with the resend endpoint.
func (f *registerFixture) expectMailAllowed(allowed bool) {
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, time.Hour).Times(1).DoAndReturn(func(_ context.Context, key string, _ int, _ time.Duration) (bool, time.Duration, error) {
		if !strings.HasPrefix(key, "mail:"+string(app.MailVerifyEmail)+":") {
			return false, 0, errors.New("unexpected mail counter " + key)
		}
		return allowed, time.Minute, nil
	})
}

// expectRegistration expects what every registration of a well-formed
// address does: one hash, the per-address mail limit let through, and txs
// transactions, whose results it returns.
func (f *registerFixture) expectRegistration(t *testing.T, txs int) *apptest.TxResults {
	f.expectHashOnce(t)
	f.expectMailAllowed(true)
	return apptest.ExpectWithin(f.Tx, f.Repos.App(), txs)
}

// verification is what expectVerification saw stored and enqueued.
type verification struct {
	tok  *token.OneTimeToken
	mail app.OutboundMail
}

// expectVerification expects one verification token to be stored and one
// mail to be enqueued at the clock's now; verification.check tells, after
// Handle, whether they are the right ones.
func (f *registerFixture) expectVerification() *verification {
	v := &verification{}
	f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, tok *token.OneTimeToken) error {
		v.tok = tok
		return nil
	})
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).Times(1).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		v.mail = m
		return nil
	})
	return v
}

// check asserts a verification token for uid carrying passwordHash, and its
// link mailed to `to`.
func (v *verification) check(t *testing.T, uid uuid.UUID, to, passwordHash string) {
	t.Helper()
	m, tok := v.mail, v.tok
	if tok == nil {
		t.Fatal("no token stored")
	}
	if m.Kind != app.MailVerifyEmail || m.To != to || m.UserID != uid || m.ID == uuid.Nil {
		t.Errorf("mail %+v, want verify_email to %s for %s", m, to, uid)
	}
	checkLink(t, m.Data["link"], "/verify-email?token=", tok)
	if want := strconv.Itoa(int(verifyTTL.Seconds())); m.Data["expires_in"] != want {
		t.Errorf("the mail says the link works %q seconds, want %s (the configured lifetime)", m.Data["expires_in"], want)
	}
	if tok.Purpose() != token.PurposeVerifyEmail || tok.UserID() != uid || tok.PasswordHash() != passwordHash ||
		!tok.CreatedAt().Equal(apptest.T0) || !tok.ExpiresAt().Equal(apptest.T0.Add(verifyTTL)) || tok.UsedAt() != nil {
		t.Errorf("token for %s with hash %q, expiry %v; want %s, %q, %v", tok.UserID(), tok.PasswordHash(), tok.ExpiresAt(), uid, passwordHash, apptest.T0.Add(verifyTTL))
	}
}

func checkLink(t *testing.T, link, path string, issued *token.OneTimeToken) {
	t.Helper()
	prefix := apptest.PublicURL + path
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("link %q does not start with %q", link, prefix)
	}
	if issued == nil {
		t.Fatal("mail enqueued before the token was stored")
	}
	secret := strings.TrimPrefix(link, prefix)
	h, err := token.Parse(secret)
	if err != nil {
		t.Fatalf("link secret %q: %v", secret, err)
	}
	if h != issued.Hash() {
		t.Fatal("the stored hash is not sha256 of the mailed secret")
	}
}

func storedUser(email string, verified, active bool) *user.User {
	var vAt *time.Time
	if verified {
		v := apptest.T0.Add(-time.Hour)
		vAt = &v
	}
	return user.Rehydrate(apptest.ID(100), user.RehydrateEmail(email), "$argon2id$old", active, verified,
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-48*time.Hour), vAt, nil)
}

// expectNotice expects the "already registered" mail to the stored address
// of u, enqueued at the clock's now, and nothing else.
func (f *registerFixture) expectNotice(t *testing.T, u *user.User) {
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).Times(1).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		if m.Kind != app.MailAlreadyRegistered || m.To != u.Email().String() || m.UserID != u.ID() || m.ID == uuid.Nil {
			t.Errorf("mail %+v", m)
		}
		for _, k := range []string{"login_link", "reset_link"} {
			if !strings.HasPrefix(m.Data[k], apptest.PublicURL) {
				t.Errorf("%s = %q", k, m.Data[k])
			}
		}
		if strings.Contains(m.Data["reset_link"], "token=") {
			t.Error("the notice carries a token")
		}
		return nil
	})
}

func TestRegisterNewAddress(t *testing.T) {
	for _, requireVerified := range []bool{true, false} {
		t.Run(fmt.Sprintf("requireVerified=%v", requireVerified), func(t *testing.T) {
			f := newRegisterWith(t, requireVerified)
			f.expectRegistration(t, 1)
			var created *user.User
			// The address is free; the user exists before its token refers
			// to it.
			f.Seed()
			create := f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
				created = u
				return nil
			})
			v := f.expectVerification()
			f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).After(create).DoAndReturn(func(_ context.Context, e audit.Event) error {
				if e.Type != audit.Registered || e.UserID != created.ID() || e.IP != meta.IP || e.UserAgent != meta.UserAgent || !e.At.Equal(apptest.T0) {
					t.Errorf("audit %+v", e)
				}
				return nil
			})

			err := f.h.Handle(context.Background(), account.RegisterInput{Email: "  New.User@Example.COM ", Password: goodPassword, Meta: meta})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if created.ID() != apptest.ID(1) || created.Email().String() != "new.user@example.com" ||
				created.PasswordHash() != newHash || created.Verified() || !created.Active() || !created.CreatedAt().Equal(apptest.T0) {
				t.Fatalf("created %+v", created)
			}
			// The token carries this registration's hash (the account's too).
			v.check(t, created.ID(), "new.user@example.com", newHash)
		})
	}
}

// With verification required, a registration of a known address that is
// not verified yet is a pending registration of its own: the account is
// never changed (no Update, no RevokeAll: a stranger's registration must
// neither replace the owner's password nor end the owner's sessions), no
// other token is invalidated, and a token carrying the new password's hash
// is mailed to the stored address.
func TestRegisterKnownUnverifiedAddsPendingRegistration(t *testing.T) {
	f := newRegister(t)
	res := f.expectRegistration(t, 1)
	existing := storedUser("stored-form@example.com", false, true)
	locked := storedUser("stored-form@example.com", false, true)
	gomock.InOrder(
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("known@example.com")).Return(existing, nil),
		// Re-read for change, so a verification committing meanwhile is seen.
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), existing.ID()).Return(locked, nil),
	)
	// The stored address (not the typed one) receives the mail.
	v := f.expectVerification()
	// Strict mocks: no Users.Update, no Sessions.RevokeAll, no
	// Tokens.InvalidateUnused, no Create, no audit.

	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "KNOWN@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	v.check(t, existing.ID(), "stored-form@example.com", newHash)
	for _, u := range []*user.User{existing, locked} {
		if u.PasswordHash() != "$argon2id$old" || u.Verified() || !u.UpdatedAt().Equal(apptest.T0.Add(-48*time.Hour)) {
			t.Fatalf("the account was changed in memory: hash %q verified %v", u.PasswordHash(), u.Verified())
		}
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("tx %v", errs)
	}
}

// Without required verification a known address is an account like any
// other: its first registration's password is the account's, and a new
// registration gets the notice, no token.
func TestRegisterKnownUnverifiedWithoutRequiredVerificationGetsNotice(t *testing.T) {
	f := newRegisterWith(t, false)
	f.expectRegistration(t, 1)
	existing := storedUser("known@example.com", false, true)
	f.Seed(existing)
	f.expectNotice(t, existing)
	// Strict mocks: no token, no Update, no RevokeAll.
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if existing.PasswordHash() != "$argon2id$old" {
		t.Fatal("the account's password was changed")
	}
}

// ByEmail saw the address unverified, but a verification committed before
// the row was read for change: the account is verified, so the registrant
// gets the notice and no pending registration is added.
func TestRegisterVerifiedMeanwhileGetsNotice(t *testing.T) {
	f := newRegister(t)
	f.expectRegistration(t, 1)
	seen := storedUser("known@example.com", false, true)
	verified := storedUser("known@example.com", true, true)
	gomock.InOrder(
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(seen, nil),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), seen.ID()).Return(verified, nil),
	)
	f.expectNotice(t, verified)
	// Strict mocks: no Tokens.Add.
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

// Disabled between the lookup and the read for change: nothing is sent.
func TestRegisterDisabledMeanwhileDoesNothing(t *testing.T) {
	f := newRegister(t)
	f.expectRegistration(t, 1)
	seen := storedUser("known@example.com", false, true)
	gomock.InOrder(
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(seen, nil),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), seen.ID()).Return(storedUser("known@example.com", false, false), nil),
	)
	// Strict mocks: no Tokens.Add, no Outbox.Enqueue.
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

func TestRegisterKnownVerifiedGetsNoticeOnly(t *testing.T) {
	for _, requireVerified := range []bool{true, false} {
		t.Run(fmt.Sprintf("requireVerified=%v", requireVerified), func(t *testing.T) {
			f := newRegisterWith(t, requireVerified)
			f.expectRegistration(t, 1)
			existing := storedUser("known@example.com", true, true)
			f.Seed(existing)
			f.expectNotice(t, existing)
			// No token, no Create, no Update, no audit: strict mocks fail on any.
			if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		})
	}
}

func TestRegisterKnownInactiveDoesNothing(t *testing.T) {
	for _, verified := range []bool{true, false} {
		t.Run(fmt.Sprintf("verified=%v", verified), func(t *testing.T) {
			f := newRegister(t)
			f.expectRegistration(t, 1)
			f.Seed(storedUser("known@example.com", verified, false))
			// Strict mocks: nothing else.
			if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		})
	}
}

func TestRegisterRaceRetriesIntoKnownBranch(t *testing.T) {
	f := newRegister(t)
	res := f.expectRegistration(t, 2)
	winner := storedUser("race@example.com", false, true)
	gomock.InOrder(
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound),
		f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(user.ErrEmailTaken),
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(winner, nil),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), winner.ID()).Return(winner, nil),
	)
	// The loser's registration is pending beside the winner's: its own
	// token, the winner's account untouched.
	v := f.expectVerification()

	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "race@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	v.check(t, winner.ID(), "race@example.com", newHash)
	if winner.PasswordHash() != "$argon2id$old" {
		t.Fatal("the winner's password was changed")
	}
	errs := res.Errs()
	if len(errs) != 2 || errs[0] == nil || errs[1] != nil {
		t.Fatalf("tx results %v: the lost race must roll back, the retry commit", errs)
	}
}

func TestRegisterRaceTwiceGivesUp(t *testing.T) {
	f := newRegister(t)
	f.expectRegistration(t, 2)
	f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Times(2).Return(nil, user.ErrNotFound)
	f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Times(2).Return(user.ErrEmailTaken)
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "race@example.com", Password: goodPassword, Meta: meta}); err == nil {
		t.Fatal("two lost races answered nil")
	}
}

// Over the per-address mail limit a new address is still created (without
// a token: the owner can ask for a resend), and a known address is left as
// it is: no token, no mail, no change.
func TestRegisterMailLimitStillAnswersNil(t *testing.T) {
	for _, c := range []struct {
		name     string
		existing *user.User
	}{
		{"new", nil},
		{"unverified", storedUser("limited@example.com", false, true)},
		{"verified", storedUser("limited@example.com", true, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newRegister(t)
			f.expectHashOnce(t)
			f.expectMailAllowed(false)
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			if c.existing == nil {
				f.Seed()
				f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(nil)
				f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
			} else {
				f.Seed(c.existing)
			}
			// Strict mocks: no Tokens.Add, no Outbox.Enqueue, no Update.
			if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "limited@example.com", Password: goodPassword, Meta: meta}); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		})
	}
}

func TestRegisterRefusesBeforeHashing(t *testing.T) {
	for _, c := range []struct {
		name, email, password, field, rule string
	}{
		{"too short", "a@example.com", "short", "password", user.RulePasswordTooShort},
		{"common", "a@example.com", "PasswordPassword", "password", user.RulePasswordCommon},
		{"contains local part", "carol.jones@example.com", "i am carol.jones, hi", "password", user.RulePasswordContainsEmail},
		{"invalid email", "not an email", goodPassword, "email", "invalid_email"},
		{"CRLF in email", "a@example.com\r\nBcc: x@y.io", goodPassword, "email", "invalid_email"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newRegister(t) // strict mocks: no Hash, no Within
			err := f.h.Handle(context.Background(), account.RegisterInput{Email: c.email, Password: c.password, Meta: meta})
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Field != c.field || de.Fields[0].Code != c.rule {
				t.Fatalf("err = %#v, want 422 %s/%s", err, c.field, c.rule)
			}
		})
	}
}

func TestRegisterPropagatesFailures(t *testing.T) {
	t.Run("hasher overloaded", func(t *testing.T) {
		f := newRegister(t)
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("", domain.ErrOverloaded)
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrOverloaded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("repository unavailable", func(t *testing.T) {
		f := newRegister(t)
		f.expectRegistration(t, 1)
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("conn refused")))
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("enqueue fails rolls back", func(t *testing.T) {
		f := newRegister(t)
		f.expectHashOnce(t)
		res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Seed()
		f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(nil)
		f.expectMailAllowed(true)
		f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
		f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).Return(domain.Unavailable(errors.New("x")))
		// No audit after the failure.
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrUnavailable) || res.Errs()[0] == nil {
			t.Fatalf("err = %v, tx %v", err, res.Errs())
		}
	})
	t.Run("re-read for change fails", func(t *testing.T) {
		f := newRegister(t)
		res := f.expectRegistration(t, 1)
		existing := storedUser("someone@example.com", false, true)
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(existing, nil)
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), existing.ID()).Return(nil, domain.Unavailable(errors.New("x")))
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrUnavailable) || res.Errs()[0] == nil {
			t.Fatalf("err = %v, tx %v", err, res.Errs())
		}
	})
}

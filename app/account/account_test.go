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
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
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
	f := &registerFixture{Ports: apptest.NewPorts(t), ids: &apptest.IDs{}}
	policy := user.PasswordPolicy{MinLength: 15, IsCommon: func(s string) bool { return s == "passwordpassword" }}
	f.h = account.NewRegister(account.RegisterDeps{
		Tx:              f.Tx,
		Hasher:          f.Hasher,
		Policy:          policy,
		Guard:           f.Guard,
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
			f.Repos.Published(apptest.Events(apptest.ID(1), webhook.UserCreated)).After(create)
			apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
				return e.Type == audit.Registered && e.UserID == created.ID() && e.IP == meta.IP && e.UserAgent == meta.UserAgent && e.At.Equal(apptest.T0)
			}).After(create)

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
				f.Repos.Published(apptest.Events(apptest.ID(1), webhook.UserCreated))
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
	f := &verifyFixture{Ports: apptest.NewPorts(t)}
	f.h = account.NewVerifyEmail(f.Tx, f.Hasher, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
	s, h := apptest.Secret(t, t.Name())
	f.raw, f.hash = s.Reveal(), h
	return f
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
// every other verification token invalidated after this one was used, the
// events (user.verified, and the others of events) and the audit event.
func (f *verifyFixture) expectVerified(t *testing.T, u *user.User, wantHash string, events ...webhook.Type) {
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
	f.Repos.NoFactor(u.ID())
	f.Repos.Published(apptest.Events(u.ID(), append(events, webhook.UserVerified)...))
	appended := apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.EmailVerified && e.UserID == u.ID() && e.IP == meta.IP && e.UserAgent == meta.UserAgent && e.At.Equal(apptest.T0)
	})
	// The verified address drops the login failures counted under it:
	// every (account, IP) pair and the account's consecutive count.
	pairs, _ := apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, nil)
	pairs.After(appended)
}

// The right password of the registration that sent the link verifies the
// address, and that registration's password becomes the account's: the
// sessions opened with the old one end. Applications hear of all three.
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
	f.expectVerified(t, locked, registrationHash, webhook.UserPasswordChanged)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), uuid.Nil, apptest.T0).Times(1).Return(1, nil)
	f.Repos.Published(apptest.Events(apptest.ID(100), webhook.SessionRevoked))

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

// selfFixture is what the signed-in user's own account changes need: the
// ports, their password check and step-up.
type selfFixture struct{ *apptest.Ports }

func newSelf(t *testing.T) *selfFixture { return &selfFixture{apptest.NewPorts(t)} }

// signedIn seeds the signed-in user u and, when mfaOn, a confirmed
// second factor of theirs (the step-up looks at it).
func (f *selfFixture) signedIn(u *user.User, mfaOn bool) {
	f.Seed(u)
	if mfaOn {
		at, step := apptest.T0.Add(-time.Hour), int64(1)
		f.SeedTOTP(mfa.RehydrateTOTP(u.ID(), []byte("sealed secret, 21+ bytes"), at, &at, &step))
	}
}

func newDeleteAccount(f *selfFixture) *account.DeleteAccount {
	return account.NewDeleteAccount(f.Users, f.Tx, f.PasswordCheck(), f.StepUp(), apptest.NewClock(apptest.T0), &apptest.IDs{})
}

// passwordOnly is a session of u from before MFA was turned on.
func passwordOnly(u *user.User) *session.Session {
	return session.Rehydrate(apptest.ID(50), u.ID(), apptest.T0.Add(-time.Hour), apptest.T0, apptest.T0.Add(time.Hour), nil, "ua", "ip")
}

// On an account with MFA on, the right password from a password-only
// session without a code is step_up_required: nothing is changed, no mail
// queued (no transaction: the strict mock).
func TestSensitiveChangesNeedAStepUpWithMFAOn(t *testing.T) {
	u := storedUser("owner@example.com", true, true)
	for name, call := range map[string]func(f *selfFixture) error{
		"delete": func(f *selfFixture) error {
			return newDeleteAccount(f).Handle(context.Background(), u.ID(), goodPassword, appmfa.Proof{Session: passwordOnly(u)}, meta)
		},
		"email change": func(f *selfFixture) error {
			return newChangeEmail(f).Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "thief@example.com", Password: goodPassword,
				Proof: appmfa.Proof{Session: passwordOnly(u)}, Meta: meta})
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newSelf(t)
			f.signedIn(u, true)
			f.expectCheck(t, true)
			if err := call(f); err != mfa.ErrStepUpRequired {
				t.Fatalf("err = %v, want exactly mfa.ErrStepUpRequired", err)
			}
		})
	}
}

// expectCheck expects the throttled password check with the given outcome.
func (f *selfFixture) expectCheck(t *testing.T, ok bool) {
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil).Times(2)
	f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$old").Return(ok, false, nil)
	if ok {
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
		return
	}
	f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil)
	f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.LoginFailed {
			t.Errorf("audit %+v, want login_failed", e)
		}
		return nil
	})
}

func TestDeleteAccountNeedsThePassword(t *testing.T) {
	f := newSelf(t)
	h := newDeleteAccount(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, false)
	if err := h.Handle(context.Background(), u.ID(), "wrong", appmfa.Proof{}, meta); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("Handle with a wrong password = %v", err) // and no transaction: the strict mock
	}
}

func TestDeleteAccountNoticeIsQueuedAfterTheDeletion(t *testing.T) {
	f := newSelf(t)
	h := newDeleteAccount(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	// Order is the behaviour: deleting takes the user's queued mail, so
	// the notice must be queued after it.
	gomock.InOrder(
		f.Repos.Users.EXPECT().Delete(gomock.Any(), u.ID()).Return(nil),
		apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
			return m.Kind == app.MailAccountDeleted && m.To == "owner@example.com"
		}),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.AccountDeleted && e.UserID == u.ID()
		}),
	)
	f.Repos.Published(apptest.Events(u.ID(), webhook.UserDeleted))
	if err := h.Handle(context.Background(), u.ID(), goodPassword, appmfa.Proof{}, meta); err != nil {
		t.Fatal(err)
	}
}

func newChangeEmail(f *selfFixture) *account.ChangeEmail {
	return account.NewChangeEmail(account.ChangeEmailDeps{
		Users:  f.Users,
		Tx:     f.Tx,
		Check:  f.PasswordCheck(),
		StepUp: f.StepUp(),
		Guard:  f.Guard,
		Clock:  apptest.NewClock(apptest.T0),
		IDs:    &apptest.IDs{},
		Random: apptest.NewRand("email"),
		Links:  apptest.Links(),
		TTL:    account.VerificationTTL(verifyTTL),
	})
}

func TestChangeEmailToAFreeAddressMailsALinkThere(t *testing.T) {
	f := newSelf(t)
	h := newChangeEmail(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil) // the mail limit
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeChangeEmail)).Return(1, nil)
	var tok *token.OneTimeToken
	f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, t *token.OneTimeToken) error {
		tok = t
		return nil
	})
	var mails []app.OutboundMail
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		mails = append(mails, m)
		return nil
	}).Times(2)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "New@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	if tok == nil || tok.Purpose() != token.PurposeChangeEmail || tok.NewEmail() != "new@example.com" {
		t.Fatalf("token %+v", tok)
	}
	if len(mails) != 2 || mails[0].Kind != app.MailConfirmEmailChange || mails[0].To != "new@example.com" ||
		!strings.HasPrefix(mails[0].Data["link"], apptest.PublicURL+"/confirm-email?token=") || mails[0].Data["expires_in"] != strconv.Itoa(int(verifyTTL.Seconds())) ||
		mails[1].Kind != app.MailEmailChangeRequested || mails[1].To != "owner@example.com" {
		t.Fatalf("mails %+v", mails)
	}
}

func TestChangeEmailToATakenAddressOnlyNotifiesTheOwner(t *testing.T) {
	f := newSelf(t)
	h := newChangeEmail(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	f.Seed(user.Rehydrate(apptest.ID(200), user.RehydrateEmail("taken@example.com"), "$argon2id$x", true, true,
		apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil))
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeChangeEmail)).Return(0, nil)
	apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
		return m.Kind == app.MailEmailChangeRequested && m.To == "owner@example.com"
	})
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Detail["link_sent"] == "false"
	})
	// Same answer as for a free address; no token is stored (strict mock).
	if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "taken@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatal(err)
	}
}

func TestConfirmEmailChangeSwitchesAndRevokesOtherSessions(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
	secret, hash := apptest.Secret(t, "confirm")
	tok, _ := token.IssueForEmailChange(hash, apptest.ID(100), "new@example.com", apptest.T0.Add(-time.Hour), verifyTTL)
	u := storedUser("owner@example.com", false, true)
	keep := apptest.ID(7)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.Seed(u)
	f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil)
	// The new address is proven: an account unverified before is
	// verified now.
	f.Repos.Published(apptest.Events(u.ID(), webhook.UserEmailChanged, webhook.UserVerified))
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), keep, apptest.T0).Return(2, nil)
	f.Repos.Published(apptest.Events(u.ID(), webhook.SessionRevoked))
	apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, nil)
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0,
		apptest.Purposes(token.PurposeResetPassword, token.PurposeInvite, token.PurposeVerifyEmail, token.PurposeChangeEmail)).Return(0, nil)
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.EmailChanged && e.Detail["old_email"] == "owner@example.com" && e.Detail["new_email"] == "new@example.com"
	})
	got, err := h.Handle(context.Background(), secret.Reveal(), keep, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email().String() != "new@example.com" || !got.Verified() || tok.UsedAt() == nil {
		t.Fatalf("user %s verified %t, token used %v", got.Email(), got.Verified(), tok.UsedAt())
	}
}

// pendingRegistration is a stranger's pending registration of email.
func pendingRegistration(email string) *user.User {
	return user.Rehydrate(apptest.ID(200), user.RehydrateEmail(email), "$argon2id$stranger", true, false,
		apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil).RestorePending(true)
}

// A pending registration does not own its address: the change link goes
// there as to a free address. An unverified account that is not a pending
// registration (an operator's, say) still owns it.
func TestChangeEmailToAPendingRegistration(t *testing.T) {
	for _, c := range []struct {
		name   string
		holder *user.User
		link   bool
	}{
		{"pending registration", pendingRegistration("held@example.com"), true},
		{"operator's unverified account", user.Rehydrate(apptest.ID(200), user.RehydrateEmail("held@example.com"), "$argon2id$x", true, false,
			apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newSelf(t)
			h := newChangeEmail(f)
			u := storedUser("owner@example.com", true, true)
			f.signedIn(u, false)
			f.expectCheck(t, true)
			f.Seed(c.holder)
			if c.link {
				f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil) // the mail limit
				f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
			}
			apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
			f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeChangeEmail)).Return(0, nil)
			var mails []app.OutboundMail
			f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
				mails = append(mails, m)
				return nil
			}).AnyTimes()
			f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
			if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "held@example.com", Password: goodPassword, Meta: meta}); err != nil {
				t.Fatal(err)
			}
			sent := len(mails) == 2 && mails[0].Kind == app.MailConfirmEmailChange && mails[0].To == "held@example.com"
			if sent != c.link || mails[len(mails)-1].Kind != app.MailEmailChangeRequested {
				t.Fatalf("link sent %v, want %v; mails %+v", sent, c.link, mails)
			}
		})
	}
}

// Confirming a change to an address a pending registration holds deletes
// that registration (its links die with it) in the same transaction,
// before the move, and says so in the audit.
func TestConfirmEmailChangeDeletesAPendingRegistration(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
	secret, hash := apptest.Secret(t, "confirm")
	tok, _ := token.IssueForEmailChange(hash, apptest.ID(100), "held@example.com", apptest.T0.Add(-time.Hour), verifyTTL)
	u := storedUser("owner@example.com", true, true)
	stranger := pendingRegistration("held@example.com")
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(u, nil)
	gomock.InOrder(
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("held@example.com")).Return(stranger, nil),
		// Its links first, then the account: the order a verification of
		// it takes them in.
		f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), apptest.ID(200), apptest.T0, gomock.Any()).Return(1, nil),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(200)).Return(stranger, nil),
		f.Repos.Users.EXPECT().Delete(gomock.Any(), apptest.ID(200)).Return(nil),
		f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil),
	)
	// Applications heard of the registration's user.created: they hear of
	// its deletion. The mover was verified before: no user.verified; no
	// session ended: no session.revoked.
	f.Repos.Published(apptest.Events(apptest.ID(200), webhook.UserDeleted))
	f.Repos.Published(apptest.Events(u.ID(), webhook.UserEmailChanged))
	f.Repos.NoFactor(apptest.ID(200))
	f.Repos.NoFactor(u.ID())
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), uuid.Nil, apptest.T0).Return(0, nil)
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, gomock.Any()).Return(0, nil)
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.EmailChanged && e.Detail["pending_registration_deleted"] == apptest.ID(200).String() && e.Detail["new_email"] == "held@example.com"
	})
	apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, nil)
	got, err := h.Handle(context.Background(), secret.Reveal(), uuid.Nil, meta)
	if err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); errs[0] != nil || got.Email().String() != "held@example.com" {
		t.Fatalf("tx %v, email %s", errs, got.Email())
	}
}

// An address that an account owns (verified since the request, say) is
// never deleted: the move fails on the unique address and nothing stays.
func TestConfirmEmailChangeKeepsAnOwner(t *testing.T) {
	for _, c := range []struct {
		name string
		// holder as ByEmail sees it, then as the read for change sees it
		seen, locked *user.User
	}{
		{"verified owner", storedUser("held@example.com", true, true), nil},
		{"verified while the change ran", pendingRegistration("held@example.com"),
			user.Rehydrate(apptest.ID(200), user.RehydrateEmail("held@example.com"), "$argon2id$stranger", true, true,
				apptest.T0.Add(-time.Hour), apptest.T0, nil, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newSelf(t)
			h := account.NewConfirmEmailChange(f.Tx, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
			secret, hash := apptest.Secret(t, "confirm")
			owner := user.Rehydrate(apptest.ID(300), user.RehydrateEmail("owner@example.com"), "$argon2id$old", true, true,
				apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
			tok, _ := token.IssueForEmailChange(hash, owner.ID(), "held@example.com", apptest.T0.Add(-time.Hour), verifyTTL)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
			f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
			f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), owner.ID()).Return(owner, nil)
			f.Repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("held@example.com")).Return(c.seen, nil)
			if c.locked != nil {
				f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), apptest.ID(200), apptest.T0, gomock.Any()).Return(1, nil)
				f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(200)).Return(c.locked, nil)
			}
			// No Delete (strict mock); the unique index refuses the move.
			f.Repos.Users.EXPECT().Update(gomock.Any(), owner).Return(user.ErrEmailTaken)
			if _, err := h.Handle(context.Background(), secret.Reveal(), uuid.Nil, meta); !errors.Is(err, user.ErrEmailTaken) {
				t.Fatalf("err = %v, want email_taken", err)
			}
			if errs := res.Errs(); errs[0] == nil {
				t.Fatal("the transaction committed")
			}
		})
	}
}

func TestConfirmEmailChangeRefusesOtherLinks(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
	secret, hash := apptest.Secret(t, "confirm")
	reset, _ := token.Issue(hash, apptest.ID(100), token.PurposeResetPassword, apptest.T0, time.Hour)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(reset, nil)
	if _, err := h.Handle(context.Background(), secret.Reveal(), uuid.Nil, meta); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("a reset link = %v, want invalid_token", err)
	}
}

// An invalid new address is refused, naming new_email, before any lookup
// (the strict mocks expect nothing).
func TestChangeEmailRefusesAnInvalidAddressFirst(t *testing.T) {
	f := newSelf(t)
	err := newChangeEmail(f).Handle(context.Background(), account.ChangeEmailInput{UserID: apptest.ID(1), NewEmail: "not an address", Password: "x", Meta: meta})
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Field != "new_email" {
		t.Fatalf("invalid address: %v", err)
	}
}

// The current address asked again, in another case: after the password
// check, nothing to change, nothing mailed and no transaction, the same
// answer as a change.
func TestChangeEmailToTheCurrentAddressChangesNothing(t *testing.T) {
	f := newSelf(t)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	if err := newChangeEmail(f).Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "Owner@Example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("the current address: %v", err)
	}
}

// A malformed confirmation token is refused before any transaction.
func TestConfirmEmailChangeRefusesAMalformedTokenFirst(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.Guard, apptest.NewClock(apptest.T0), &apptest.IDs{})
	if _, err := h.Handle(context.Background(), "nope", uuid.Nil, app.RequestMeta{}); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("malformed token: %v", err)
	}
}

package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
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
	h      *account.Register
	tx     *mock.MockTxManager
	hasher *mock.MockPasswordHasher
	rl     *mock.MockRateLimiter
	repos  *apptest.Repos
	ids    *apptest.IDs
}

func newRegister(t *testing.T) *registerFixture {
	ctrl := gomock.NewController(t)
	f := &registerFixture{
		tx:     mock.NewMockTxManager(ctrl),
		hasher: mock.NewMockPasswordHasher(ctrl),
		rl:     mock.NewMockRateLimiter(ctrl),
		repos:  apptest.NewRepos(ctrl),
		ids:    &apptest.IDs{},
	}
	policy := user.PasswordPolicy{MinLength: 15, IsCommon: func(s string) bool { return s == "passwordpassword" }}
	f.h = account.NewRegister(f.tx, f.hasher, policy, limits.NewGuard(f.rl, limits.DefaultPolicy()),
		apptest.NewClock(apptest.T0), f.ids, apptest.NewRand("register"), apptest.Links(), account.VerificationTTL(verifyTTL))
	return f
}

// expectHashOnce is the timing guarantee: one hash, whatever the branch.
func (f *registerFixture) expectHashOnce(t *testing.T) {
	f.hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
		if pw.Reveal() != goodPassword {
			t.Errorf("hashed %q", pw.Reveal())
		}
		return "$argon2id$new", nil
	})
}

func (f *registerFixture) expectMailAllowed(kind app.MailKind, allowed bool) {
	f.rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, time.Hour).Times(1).DoAndReturn(func(_ context.Context, key string, _ int, _ time.Duration) (bool, time.Duration, error) {
		if _ = kind; !strings.HasPrefix(key, "mail:"+string(app.MailVerifyEmail)+":") {
			return false, 0, errors.New("unexpected mail counter " + key)
		}
		return allowed, time.Minute, nil
	})
}

// expectVerification expects a verification token for uid and its mail to
// `to`, and checks that the link carries the secret whose hash was stored.
func (f *registerFixture) expectVerification(t *testing.T, uid uuid.UUID, to string) {
	var issued *token.OneTimeToken
	gomock.InOrder(
		f.repos.Tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tok *token.OneTimeToken) error {
			issued = tok
			return nil
		}),
		f.repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m app.OutboundMail) error {
			if m.Kind != app.MailVerifyEmail || m.To != to || m.UserID != uid || m.ID == uuid.Nil {
				t.Errorf("mail %+v, want verify_email to %s for %s", m, to, uid)
			}
			checkLink(t, m.Data["link"], "/verify-email?token=", issued)
			if issued.Purpose() != token.PurposeVerifyEmail || issued.UserID() != uid ||
				!issued.CreatedAt().Equal(apptest.T0) || !issued.ExpiresAt().Equal(apptest.T0.Add(verifyTTL)) || issued.UsedAt() != nil {
				t.Errorf("token %+v", issued)
			}
			return nil
		}),
	)
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
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-48*time.Hour), vAt)
}

func TestRegisterNewAddress(t *testing.T) {
	f := newRegister(t)
	ctx := context.Background()
	f.expectHashOnce(t)
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	var created *user.User
	gomock.InOrder(
		f.repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("new.user@example.com")).Return(nil, user.ErrNotFound),
		f.repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
			created = u
			return nil
		}),
		f.repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.Registered || e.UserID != created.ID() || e.IP != meta.IP || e.UserAgent != meta.UserAgent || !e.At.Equal(apptest.T0) {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
	)
	f.expectMailAllowed(app.MailVerifyEmail, true)
	f.expectVerification(t, apptest.ID(1), "new.user@example.com")

	err := f.h.Handle(ctx, account.RegisterInput{Email: "  New.User@Example.COM ", Password: goodPassword, Meta: meta})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if created.ID() != apptest.ID(1) || created.Email().String() != "new.user@example.com" ||
		created.PasswordHash() != "$argon2id$new" || created.Verified() || !created.Active() || !created.CreatedAt().Equal(apptest.T0) {
		t.Fatalf("created %+v", created)
	}
}

// expectTakeover expects the newest registration of an unverified address
// to replace its password and end its sessions.
func (f *registerFixture) expectTakeover(t *testing.T, u *user.User) {
	gomock.InOrder(
		f.repos.Users.EXPECT().ByIDForUpdate(gomock.Any(), u.ID()).Return(u, nil),
		f.repos.Users.EXPECT().Update(gomock.Any(), u).DoAndReturn(func(_ context.Context, got *user.User) error {
			if got.PasswordHash() != "$argon2id$new" || got.Verified() {
				t.Errorf("update: hash %q verified %v", got.PasswordHash(), got.Verified())
			}
			return nil
		}),
		f.repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), uuid.Nil, apptest.T0).Return(1, nil),
	)
}

func TestRegisterKnownUnverifiedGetsFreshVerification(t *testing.T) {
	f := newRegister(t)
	f.expectHashOnce(t)
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	// The stored address (not the typed one) receives the mail.
	existing := storedUser("stored-form@example.com", false, true)
	f.repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("known@example.com")).Return(existing, nil)
	f.expectMailAllowed(app.MailVerifyEmail, true)
	// Nobody proved the address: the newest registration's password wins
	// (against pre-account hijacking), and older sessions end.
	f.expectTakeover(t, existing)
	f.expectVerification(t, existing.ID(), "stored-form@example.com")

	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "KNOWN@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if existing.PasswordHash() != "$argon2id$new" {
		t.Fatal("the newest registration of an unverified address did not set its password")
	}
}

func TestRegisterKnownVerifiedGetsNoticeOnly(t *testing.T) {
	f := newRegister(t)
	f.expectHashOnce(t)
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	existing := storedUser("known@example.com", true, true)
	f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(existing, nil)
	f.expectMailAllowed(app.MailAlreadyRegistered, true)
	f.repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, m app.OutboundMail) error {
		if m.Kind != app.MailAlreadyRegistered || m.To != "known@example.com" || m.UserID != existing.ID() {
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
	// No token, no Create, no Update, no audit: strict mocks fail on any.
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

func TestRegisterKnownInactiveDoesNothing(t *testing.T) {
	f := newRegister(t)
	f.expectHashOnce(t)
	f.expectMailAllowed(app.MailVerifyEmail, true)
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(storedUser("known@example.com", true, false), nil)
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "known@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

func TestRegisterRaceRetriesIntoKnownBranch(t *testing.T) {
	f := newRegister(t)
	f.expectHashOnce(t)
	res := apptest.ExpectWithin(f.tx, f.repos.App(), 2)
	winner := storedUser("race@example.com", false, true)
	gomock.InOrder(
		f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound),
		f.repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(user.ErrEmailTaken),
		f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(winner, nil),
	)
	f.expectMailAllowed(app.MailVerifyEmail, true)
	f.expectTakeover(t, winner)
	f.expectVerification(t, winner.ID(), "race@example.com")

	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "race@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	errs := res.Errs()
	if len(errs) != 2 || errs[0] == nil || errs[1] != nil {
		t.Fatalf("tx results %v: the lost race must roll back, the retry commit", errs)
	}
}

func TestRegisterRaceTwiceGivesUp(t *testing.T) {
	f := newRegister(t)
	f.expectHashOnce(t)
	f.expectMailAllowed(app.MailVerifyEmail, true)
	apptest.ExpectWithin(f.tx, f.repos.App(), 2)
	f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Times(2).Return(nil, user.ErrNotFound)
	f.repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Times(2).Return(user.ErrEmailTaken)
	if err := f.h.Handle(context.Background(), account.RegisterInput{Email: "race@example.com", Password: goodPassword, Meta: meta}); err == nil {
		t.Fatal("two lost races answered nil")
	}
}

func TestRegisterMailLimitStillAnswersNil(t *testing.T) {
	for _, c := range []struct {
		name     string
		existing *user.User
		kind     app.MailKind
	}{
		{"new", nil, app.MailVerifyEmail},
		{"unverified", storedUser("limited@example.com", false, true), app.MailVerifyEmail},
		{"verified", storedUser("limited@example.com", true, true), app.MailAlreadyRegistered},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newRegister(t)
			f.expectHashOnce(t)
			apptest.ExpectWithin(f.tx, f.repos.App(), 1)
			if c.existing == nil {
				f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
				f.repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(nil)
				f.repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
			} else {
				f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(c.existing, nil)
			}
			if c.name == "unverified" {
				// The takeover happens and older links die even when no
				// mail may be sent; otherwise an attacker who used up the
				// limit first would keep the account pre-claimed.
				f.expectTakeover(t, c.existing)
				f.repos.Tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).Return(nil)
			}
			f.expectMailAllowed(c.kind, false)
			// No Outbox.Enqueue.
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
		f.hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("", domain.ErrOverloaded)
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrOverloaded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("repository unavailable", func(t *testing.T) {
		f := newRegister(t)
		f.expectHashOnce(t)
		f.expectMailAllowed(app.MailVerifyEmail, true)
		apptest.ExpectWithin(f.tx, f.repos.App(), 1)
		f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("conn refused")))
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("enqueue fails rolls back", func(t *testing.T) {
		f := newRegister(t)
		f.expectHashOnce(t)
		res := apptest.ExpectWithin(f.tx, f.repos.App(), 1)
		f.repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
		f.repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(nil)
		f.expectMailAllowed(app.MailVerifyEmail, true)
		f.repos.Tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).Return(nil)
		f.repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any()).Return(domain.Unavailable(errors.New("x")))
		err := f.h.Handle(context.Background(), account.RegisterInput{Email: "someone@example.com", Password: goodPassword})
		if !errors.Is(err, domain.ErrUnavailable) || res.Errs()[0] == nil {
			t.Fatalf("err = %v, tx %v", err, res.Errs())
		}
	})
}

func TestNewRegisterRequiresDependencies(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("nil TxManager accepted")
		}
	}()
	ctrl := gomock.NewController(t)
	account.NewRegister(nil, mock.NewMockPasswordHasher(ctrl), user.PasswordPolicy{}, limits.NewGuard(mock.NewMockRateLimiter(ctrl), limits.DefaultPolicy()),
		apptest.NewClock(apptest.T0), &apptest.IDs{}, apptest.NewRand(""), apptest.Links(), 0)
}

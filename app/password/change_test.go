package password_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"go.uber.org/mock/gomock"
)

const currentPassword = "the current passphrase"

type changeFixture struct {
	h      *password.Change
	users  *mock.MockUserRepository
	tx     *mock.MockTxManager
	hasher *mock.MockPasswordHasher
	rl     *mock.MockRateLimiter
	audit  *mock.MockAuditLog
	repos  *apptest.Repos
	keys   map[int]string
}

func newChange(t *testing.T) *changeFixture {
	ctrl := gomock.NewController(t)
	f := &changeFixture{
		users:  mock.NewMockUserRepository(ctrl),
		tx:     mock.NewMockTxManager(ctrl),
		hasher: mock.NewMockPasswordHasher(ctrl),
		rl:     mock.NewMockRateLimiter(ctrl),
		audit:  mock.NewMockAuditLog(ctrl),
		repos:  apptest.NewRepos(ctrl),
		keys:   map[int]string{},
	}
	f.h = password.NewChange(f.users, f.tx, f.hasher, policy, limits.NewGuard(f.rl, limits.DefaultPolicy()), f.audit, apptest.NewClock(apptest.T0), &apptest.IDs{})
	return f
}

func changeIn(cur, next string) password.ChangeInput {
	return password.ChangeInput{UserID: apptest.ID(100), SessionID: apptest.ID(50), CurrentPassword: cur, NewPassword: next, Meta: meta}
}

func (f *changeFixture) expectUserAndNotBlocked() {
	f.users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.rl.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string, limit int) (bool, time.Duration, error) {
		f.keys[limit] = k
		return false, 0, nil
	})
}

func (f *changeFixture) expectVerify(t *testing.T, ok bool) {
	f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$old").Times(1).DoAndReturn(func(_ context.Context, pw user.Password, _ string) (bool, bool, error) {
		if pw.Reveal() != currentPassword && pw.Reveal() != "not the password" {
			t.Errorf("verified %q", pw.Reveal())
		}
		return ok, false, nil
	})
}

func TestChangeWrongCurrentPassword(t *testing.T) {
	f := newChange(t)
	f.expectUserAndNotBlocked()
	f.expectVerify(t, false)
	var hit []string
	f.rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
		hit = append(hit, k)
		return true, 0, nil
	})
	f.audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.LoginFailed || e.UserID != apptest.ID(100) {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	err := f.h.Handle(context.Background(), changeIn("not the password", newPassword))
	if err != domain.ErrWrongPassword {
		t.Fatalf("err = %v", err)
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindForbidden {
		t.Fatalf("kind %v, want 403", de)
	}
	if len(hit) != 2 || hit[0] != f.keys[10] || hit[1] != f.keys[100] {
		t.Fatalf("counted %v, want the pair and account keys %v", hit, f.keys)
	}
}

func TestChangeWrongPasswordLocks(t *testing.T) {
	f := newChange(t)
	f.expectUserAndNotBlocked()
	f.expectVerify(t, false)
	f.rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, gomock.Any()).Return(true, time.Duration(0), nil)
	f.rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 99, gomock.Any()).Return(false, time.Duration(0), nil)
	var types []audit.Type
	f.audit.EXPECT().Append(gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, e audit.Event) error {
		types = append(types, e.Type)
		return nil
	})
	if err := f.h.Handle(context.Background(), changeIn("not the password", newPassword)); err != domain.ErrWrongPassword {
		t.Fatalf("err = %v", err)
	}
	if len(types) != 2 || types[0] != audit.LoginFailed || types[1] != audit.AccountLocked {
		t.Fatalf("audit %v", types)
	}
}

func TestChangeBlockedBeforeVerify(t *testing.T) {
	f := newChange(t)
	f.users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(storedUser(true), nil)
	f.rl.EXPECT().Blocked(gomock.Any(), gomock.Any(), 100).Return(true, time.Duration(0), nil)
	// Strict: no Verify.
	err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword))
	if !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("err = %v", err)
	}
}

func TestChangePolicyOnNewPassword(t *testing.T) {
	f := newChange(t)
	f.expectUserAndNotBlocked()
	f.expectVerify(t, true)
	err := f.h.Handle(context.Background(), changeIn(currentPassword, "walter.white forever"))
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || de.Fields[0].Field != "new_password" || de.Fields[0].Code != user.RulePasswordContainsEmail {
		t.Fatalf("err = %#v", err)
	}
}

func TestChangeSuccessKeepsCurrentSession(t *testing.T) {
	f := newChange(t)
	f.expectUserAndNotBlocked()
	f.expectVerify(t, true)
	locked := storedUser(true)
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	gomock.InOrder(
		f.hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
			if pw.Reveal() != newPassword {
				t.Errorf("hashed %q", pw.Reveal())
			}
			return "$argon2id$new", nil
		}),
		f.repos.Users.EXPECT().ByIDForUpdate(gomock.Any(), apptest.ID(100)).Return(locked, nil),
		f.repos.Users.EXPECT().Update(gomock.Any(), locked).DoAndReturn(func(_ context.Context, u *user.User) error {
			if u.PasswordHash() != "$argon2id$new" || !u.UpdatedAt().Equal(apptest.T0) {
				t.Errorf("Update hash %q", u.PasswordHash())
			}
			return nil
		}),
		f.repos.Sessions.EXPECT().RevokeAll(gomock.Any(), apptest.ID(100), apptest.ID(50), apptest.T0).Return(2, nil),
		f.repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m app.OutboundMail) error {
			if m.Kind != app.MailPasswordChanged || m.To != "walter.white@example.com" {
				t.Errorf("mail %+v", m)
			}
			return nil
		}),
		f.repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.PasswordChanged || e.Detail["sessions_revoked"] != "2" {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
	)
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); err != nil {
		t.Fatal(err)
	}
}

func TestChangeUnknownUserIsUnauthorized(t *testing.T) {
	f := newChange(t)
	f.users.EXPECT().ByID(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); err != domain.ErrUnauthorized {
		t.Fatalf("err = %v", err)
	}
	f.users.EXPECT().ByID(gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("x")))
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestChangeHasherOverloaded(t *testing.T) {
	f := newChange(t)
	f.expectUserAndNotBlocked()
	f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, false, domain.ErrOverloaded)
	// Not counted as a failure.
	if err := f.h.Handle(context.Background(), changeIn(currentPassword, newPassword)); !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("err = %v", err)
	}
}

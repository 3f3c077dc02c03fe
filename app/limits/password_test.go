package limits_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"go.uber.org/mock/gomock"
)

// An account without a password (made by an upstream sign-in) is checked
// as a wrong password is: one verification, of the dummy hash, whose
// "match" changes nothing, the failure counted and audited.
func TestPasswordCheckWithoutPasswordIsWrongPassword(t *testing.T) {
	guard, rl := newGuard(t, limits.DefaultPolicy())
	ctrl := gomock.NewController(t)
	hasher := mock.NewMockPasswordHasher(ctrl)
	auditLog := mock.NewMockAuditLog(ctrl)
	u := user.Rehydrate(apptest.ID(7), user.RehydrateEmail("up@example.com"), "", true, true, apptest.T0, apptest.T0, nil, nil)

	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil).Times(2)
	hasher.EXPECT().DummyHash().Return("$argon2id$dummy")
	hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$dummy").Return(true, false, nil)
	rl.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil)
	auditLog.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.LoginFailed || e.UserID != u.ID() {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	check := limits.NewPasswordCheck(guard, hasher, auditLog, apptest.NewClock(apptest.T0))
	err := check.Check(context.Background(), u, "anything at all", "password_change", app.RequestMeta{IP: "203.0.113.9"})
	if !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("Check = %v, want ErrWrongPassword", err)
	}
}

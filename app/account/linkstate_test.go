package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"go.uber.org/mock/gomock"
)

// LinkState reads the token and its user and writes nothing (strict mocks:
// no MarkUsed, no Update, no audit): live only for an unused, unexpired
// link of the purpose asked, of an active account, and for a verification
// link an account not verified yet.
func TestLinkStateReadsWithoutConsuming(t *testing.T) {
	used := apptest.T0.Add(-time.Minute)
	for _, c := range []struct {
		name    string
		purpose token.Purpose // of the stored token
		asked   token.Purpose
		expires time.Time
		usedAt  *time.Time
		u       *user.User // nil: not read
		want    bool
	}{
		{"live verification link", token.PurposeVerifyEmail, token.PurposeVerifyEmail, apptest.T0.Add(time.Hour), nil, storedUser("v@example.com", false, true), true},
		{"live reset link", token.PurposeResetPassword, token.PurposeResetPassword, apptest.T0.Add(time.Minute), nil, storedUser("v@example.com", true, true), true},
		{"expired", token.PurposeResetPassword, token.PurposeResetPassword, apptest.T0, nil, nil, false},
		{"used or replaced", token.PurposeVerifyEmail, token.PurposeVerifyEmail, apptest.T0.Add(time.Hour), &used, nil, false},
		{"another purpose", token.PurposeChangeEmail, token.PurposeResetPassword, apptest.T0.Add(time.Hour), nil, nil, false},
		{"address verified already", token.PurposeVerifyEmail, token.PurposeVerifyEmail, apptest.T0.Add(time.Hour), nil, storedUser("v@example.com", true, true), false},
		{"disabled account", token.PurposeResetPassword, token.PurposeResetPassword, apptest.T0.Add(time.Hour), nil, storedUser("v@example.com", true, false), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			tokens, users := mock.NewMockOneTimeTokenRepository(ctrl), mock.NewMockUserRepository(ctrl)
			secret, hash := apptest.Secret(t, t.Name())
			tokens.EXPECT().ByHash(gomock.Any(), hash).Return(
				token.Rehydrate(hash, apptest.ID(100), c.purpose, apptest.T0.Add(-time.Hour), c.expires, c.usedAt, "", ""), nil)
			if c.u != nil {
				users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(c.u, nil)
			}
			live, err := account.NewLinkState(tokens, users, apptest.NewClock(apptest.T0)).Live(context.Background(), secret.Reveal(), c.asked)
			if err != nil || live != c.want {
				t.Fatalf("Live = %v, %v; want %v", live, err, c.want)
			}
		})
	}
}

// Unknown and malformed links are dead, not errors; a store failure is an
// error, never taken for a dead link.
func TestLinkStateUnknownAndFailures(t *testing.T) {
	ctrl := gomock.NewController(t)
	tokens, users := mock.NewMockOneTimeTokenRepository(ctrl), mock.NewMockUserRepository(ctrl)
	h := account.NewLinkState(tokens, users, apptest.NewClock(apptest.T0))
	if live, err := h.Live(context.Background(), "not-a-token", token.PurposeVerifyEmail); live || err != nil {
		t.Fatalf("malformed: %v, %v", live, err) // no read: strict mock
	}
	secret, hash := apptest.Secret(t, t.Name())
	tokens.EXPECT().ByHash(gomock.Any(), hash).Return(nil, domain.ErrInvalidToken)
	if live, err := h.Live(context.Background(), secret.Reveal(), token.PurposeVerifyEmail); live || err != nil {
		t.Fatalf("unknown: %v, %v", live, err)
	}
	down := errors.New("database down")
	tokens.EXPECT().ByHash(gomock.Any(), hash).Return(nil, down)
	if live, err := h.Live(context.Background(), secret.Reveal(), token.PurposeVerifyEmail); live || !errors.Is(err, down) {
		t.Fatalf("store failure: %v, %v", live, err)
	}
}

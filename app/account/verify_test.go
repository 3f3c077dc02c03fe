package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"go.uber.org/mock/gomock"
)

func newVerify(t *testing.T) (*account.VerifyEmail, *mock.MockTxManager, *apptest.Repos) {
	ctrl := gomock.NewController(t)
	tx := mock.NewMockTxManager(ctrl)
	repos := apptest.NewRepos(ctrl)
	return account.NewVerifyEmail(tx, apptest.NewClock(apptest.T0)), tx, repos
}

func newSecret(t *testing.T) (string, token.Hash) {
	t.Helper()
	s, h, err := token.NewSecret(apptest.NewRand(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal(), h
}

func TestVerifyEmailHappyPath(t *testing.T) {
	h, tx, repos := newVerify(t)
	raw, hash := newSecret(t)
	u := storedUser("v@example.com", false, true)
	tok := token.Rehydrate(hash, u.ID(), token.PurposeVerifyEmail, apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), nil)
	res := apptest.ExpectWithin(tx, repos.App(), 1)
	gomock.InOrder(
		repos.Tokens.EXPECT().ByHashForUpdate(gomock.Any(), hash).Return(tok, nil),
		repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
			if tk.UsedAt() == nil || !tk.UsedAt().Equal(apptest.T0) {
				t.Errorf("MarkUsed with UsedAt %v", tk.UsedAt())
			}
			return nil
		}),
		repos.Users.EXPECT().ByIDForUpdate(gomock.Any(), u.ID()).Return(u, nil),
		repos.Users.EXPECT().Update(gomock.Any(), u).DoAndReturn(func(_ context.Context, uu *user.User) error {
			if !uu.Verified() || !uu.VerifiedAt().Equal(apptest.T0) {
				t.Errorf("Update of an unverified user")
			}
			return nil
		}),
		repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.EmailVerified || e.UserID != u.ID() || e.IP != meta.IP || !e.At.Equal(apptest.T0) {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
	)
	got, err := h.Handle(context.Background(), raw, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got != u || !got.Verified() {
		t.Fatalf("returned %v", got)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("tx %v", errs)
	}
}

func TestVerifyEmailRefusesTokens(t *testing.T) {
	used := apptest.T0.Add(-time.Minute)
	uid := apptest.ID(100)
	for _, c := range []struct {
		name string
		tok  func(token.Hash) *token.OneTimeToken // nil: unknown
	}{
		{"unknown", nil},
		{"expired", func(h token.Hash) *token.OneTimeToken {
			return token.Rehydrate(h, uid, token.PurposeVerifyEmail, apptest.T0.Add(-25*time.Hour), apptest.T0, nil)
		}},
		{"used", func(h token.Hash) *token.OneTimeToken {
			return token.Rehydrate(h, uid, token.PurposeVerifyEmail, apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &used)
		}},
		{"reset token", func(h token.Hash) *token.OneTimeToken {
			return token.Rehydrate(h, uid, token.PurposeResetPassword, apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, tx, repos := newVerify(t)
			raw, hash := newSecret(t)
			res := apptest.ExpectWithin(tx, repos.App(), 1)
			if c.tok == nil {
				repos.Tokens.EXPECT().ByHashForUpdate(gomock.Any(), hash).Return(nil, domain.ErrInvalidToken)
			} else {
				repos.Tokens.EXPECT().ByHashForUpdate(gomock.Any(), hash).Return(c.tok(hash), nil)
			}
			// No MarkUsed, no user lookup, no audit.
			u, err := h.Handle(context.Background(), raw, meta)
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
		h, _, _ := newVerify(t) // strict: no Within
		if _, err := h.Handle(context.Background(), raw, meta); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("Handle(%q) = %v", raw, err)
		}
	}
}

func TestVerifyEmailStoreFailurePropagates(t *testing.T) {
	h, tx, repos := newVerify(t)
	raw, hash := newSecret(t)
	apptest.ExpectWithin(tx, repos.App(), 1)
	repos.Tokens.EXPECT().ByHashForUpdate(gomock.Any(), hash).Return(nil, domain.Unavailable(errors.New("down")))
	if _, err := h.Handle(context.Background(), raw, meta); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
}

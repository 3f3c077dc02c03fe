package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

func TestResendRecordsRequest(t *testing.T) {
	ctrl := gomock.NewController(t)
	ob := mock.NewMockOutbox(ctrl)
	rl := mock.NewMockRateLimiter(ctrl)
	ids := &apptest.IDs{}
	h := account.NewResendVerification(ob, limits.NewGuard(rl, limits.DefaultPolicy()), ids, apptest.NewClock(apptest.T0))
	// Counted before it is recorded: over the limit nothing is.
	gomock.InOrder(
		rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, time.Hour).Return(true, time.Duration(0), nil),
		// Created and due at the app clock's now.
		ob.EXPECT().Enqueue(gomock.Any(), app.OutboundMail{ID: apptest.ID(1), Kind: app.VerifyRequest, To: "who@example.com"}, apptest.T0).Return(nil),
	)
	if err := h.Handle(context.Background(), "  Who@Example.com "); err != nil {
		t.Fatal(err)
	}
}

func TestResendOverLimit(t *testing.T) {
	ctrl := gomock.NewController(t)
	ob := mock.NewMockOutbox(ctrl)
	rl := mock.NewMockRateLimiter(ctrl)
	h := account.NewResendVerification(ob, limits.NewGuard(rl, limits.DefaultPolicy()), &apptest.IDs{}, apptest.NewClock(apptest.T0))
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Minute, nil)
	if err := h.Handle(context.Background(), "who@example.com"); err != nil {
		t.Fatalf("over the limit must answer as usual, got %v", err)
	}
}

func TestResendInvalidEmail(t *testing.T) {
	ctrl := gomock.NewController(t)
	h := account.NewResendVerification(mock.NewMockOutbox(ctrl), limits.NewGuard(mock.NewMockRateLimiter(ctrl), limits.DefaultPolicy()), &apptest.IDs{}, apptest.NewClock(apptest.T0))
	err := h.Handle(context.Background(), "who@@example.com")
	var de *domain.Error
	if !errors.Is(err, user.ErrInvalidEmail) || !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Code != "invalid_email" {
		t.Fatalf("err = %v", err)
	}
}

func TestResendLimiterFailurePropagates(t *testing.T) {
	ctrl := gomock.NewController(t)
	rl := mock.NewMockRateLimiter(ctrl)
	h := account.NewResendVerification(mock.NewMockOutbox(ctrl), limits.NewGuard(rl, limits.DefaultPolicy()), &apptest.IDs{}, apptest.NewClock(apptest.T0))
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
	if err := h.Handle(context.Background(), "who@example.com"); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// The request path does the same port work for a registered and an
// unknown address: it has no way to look the address up.
func TestResendSameWorkForKnownAndUnknown(t *testing.T) {
	run := func(addr string) map[string]int {
		ctrl := gomock.NewController(t)
		c := apptest.NewCounter()
		ob := mock.NewMockOutbox(ctrl)
		rl := mock.NewMockRateLimiter(ctrl)
		rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil)
		ob.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
			if m.UserID != uuid.Nil || m.Data != nil {
				t.Errorf("request carries user data: %+v", m)
			}
			return nil
		})
		h := account.NewResendVerification(apptest.CountingOutbox{Outbox: ob, C: c},
			limits.NewGuard(apptest.CountingRateLimiter{RateLimiter: rl, C: c}, limits.DefaultPolicy()),
			apptest.CountingIDs{IDGenerator: &apptest.IDs{}, C: c}, apptest.NewClock(apptest.T0))
		if err := h.Handle(context.Background(), addr); err != nil {
			t.Fatal(err)
		}
		ctrl.Finish()
		return c.Map()
	}
	known, unknown := run("registered@example.com"), run("nobody@example.com")
	want := map[string]int{"RateLimiter.Hit": 1, "Outbox.Enqueue": 1, "IDGenerator.NewID": 1}
	if !equalCounts(known, want) || !equalCounts(unknown, want) {
		t.Fatalf("known %v, unknown %v, want both %v", known, unknown, want)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

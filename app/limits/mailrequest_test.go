package limits_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

type mailRequester interface {
	Handle(ctx context.Context, rawEmail string) error
}

// The two mail requests, as their use cases build them: the kind recorded
// and the per-address limit's window (a reset link's is its lifetime).
var mailRequests = []struct {
	name    string
	build   func(app.Outbox, *limits.Guard, app.IDGenerator, app.Clock) mailRequester
	request app.MailKind
	window  time.Duration
}{
	{"resend verification", func(o app.Outbox, g *limits.Guard, ids app.IDGenerator, c app.Clock) mailRequester {
		return account.NewResendVerification(o, g, ids, c)
	}, app.VerifyRequest, time.Hour},
	{"forgot password", func(o app.Outbox, g *limits.Guard, ids app.IDGenerator, c app.Clock) mailRequester {
		return password.NewForgot(o, g, ids, c)
	}, app.ResetRequest, 30 * time.Minute},
}

func TestMailRequests(t *testing.T) {
	for _, c := range mailRequests {
		build := func(t *testing.T) (mailRequester, *mock.MockOutbox, *mock.MockRateLimiter) {
			ctrl := gomock.NewController(t)
			ob, rl := mock.NewMockOutbox(ctrl), mock.NewMockRateLimiter(ctrl)
			return c.build(ob, limits.NewGuard(rl, limits.DefaultPolicy()), &apptest.IDs{}, apptest.NewClock(apptest.T0)), ob, rl
		}
		t.Run(c.name+": recorded", func(t *testing.T) {
			h, ob, rl := build(t)
			// Counted before it is recorded: over the limit nothing is.
			gomock.InOrder(
				rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, c.window).Return(true, time.Duration(0), nil),
				// Created and due at the app clock's now.
				ob.EXPECT().Enqueue(gomock.Any(), app.OutboundMail{ID: apptest.ID(1), Kind: c.request, To: "who@example.com"}, apptest.T0).Return(nil),
			)
			if err := h.Handle(context.Background(), "\t Who@Example.com "); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(c.name+": over the limit, answered as usual", func(t *testing.T) {
			h, _, rl := build(t)
			rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Minute, nil)
			if err := h.Handle(context.Background(), "who@example.com"); err != nil {
				t.Fatalf("over the limit: %v", err)
			}
		})
		t.Run(c.name+": invalid address", func(t *testing.T) {
			h, _, _ := build(t)
			for _, addr := range []string{"who@@example.com", "who@example.com\r\nBcc: evil@x.io"} {
				err := h.Handle(context.Background(), addr)
				var de *domain.Error
				if !errors.Is(err, user.ErrInvalidEmail) || !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Code != "invalid_email" {
					t.Fatalf("%q: err = %v", addr, err)
				}
			}
		})
		t.Run(c.name+": limiter failure", func(t *testing.T) {
			h, _, rl := build(t)
			rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
			if err := h.Handle(context.Background(), "who@example.com"); !errors.Is(err, domain.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
		})
		// The request path does the same port work for a registered and an
		// unknown address: it has no way to look the address up, and the
		// request carries the address only.
		t.Run(c.name+": same work for any address", func(t *testing.T) {
			run := func(addr string) map[string]int {
				ctrl := gomock.NewController(t)
				n := apptest.NewCounter()
				ob, rl := mock.NewMockOutbox(ctrl), mock.NewMockRateLimiter(ctrl)
				rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil)
				ob.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
					if m.Kind != c.request || m.UserID != uuid.Nil || m.Data != nil {
						t.Errorf("request message %+v carries more than the address", m)
					}
					return nil
				})
				h := c.build(apptest.CountingOutbox{Outbox: ob, C: n},
					limits.NewGuard(apptest.CountingRateLimiter{RateLimiter: rl, C: n}, limits.DefaultPolicy()),
					apptest.CountingIDs{IDGenerator: &apptest.IDs{}, C: n}, apptest.NewClock(apptest.T0))
				if err := h.Handle(context.Background(), addr); err != nil {
					t.Fatal(err)
				}
				ctrl.Finish()
				return n.Map()
			}
			known, unknown := run("registered@example.com"), run("nobody@example.com")
			want := map[string]int{"RateLimiter.Hit": 1, "Outbox.Enqueue": 1, "IDGenerator.NewID": 1}
			if !maps.Equal(known, want) || !maps.Equal(unknown, want) {
				t.Fatalf("known %v, unknown %v, want both %v (no hashing, no lookup)", known, unknown, want)
			}
		})
	}
}

package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

func init() {
	register("Ready/Answers", testReadyAnswers)
	register("Ready/CanceledContextIsUnavailable", testReadyCanceled)
}

func testReadyAnswers(t *testing.T, s Store) {
	mustf(t, s.Ready(testCtx(t)), "Ready")
}

// A storage call that cannot run (here: its context is canceled) is an
// outage, not a bug: its error matches domain.ErrUnavailable (503).
func testReadyCanceled(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := s.Ready(ctx); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Ready: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Repos.Users.ByID(ctx, uuid.New()); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Users.ByID: err = %v, want ErrUnavailable", err)
	}
	err := s.Tx.Within(ctx, func(context.Context, app.Repos) error {
		t.Error("fn called in a transaction that cannot begin")
		return nil
	})
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Within: err = %v, want ErrUnavailable", err)
	}
	if _, _, err := s.Limiter.Hit(ctx, rateKey(), 1, 1e9); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("RateLimiter.Hit: err = %v, want ErrUnavailable", err)
	}
	if _, err := admin.VerifyAuditChain(ctx, s.AuditTrail); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("VerifyAuditChain: err = %v, want ErrUnavailable", err)
	}
}

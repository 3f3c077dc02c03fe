package http

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// Rules of the email change that the route tests relied on and that app/
// does not test yet, checked here on the use cases themselves over strict
// mocks: what is not called is what the rule is about.

type seqIDs struct{ n byte }

func (g *seqIDs) NewID() uuid.UUID {
	g.n++
	return uuid.UUID{0: 0xee, 15: g.n}
}

func TestChangeEmailRules(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	users, tx, hasher := mock.NewMockUserRepository(ctrl), mock.NewMockTxManager(ctrl), mock.NewMockPasswordHasher(ctrl)
	factors, auditLog := mock.NewMockMFARepository(ctrl), mock.NewMockAuditLog(ctrl)
	clock := fixedClock{t0}
	links, err := app.NewLinks("https://auth.example.test")
	if err != nil {
		t.Fatal(err)
	}
	guard := limits.NewGuard(mock.NewMockRateLimiter(ctrl), limits.Policy{Disabled: true})
	attempts := appmfa.NewAttempts(guard, auditLog, clock)
	stepUp := appmfa.NewStepUp(factors, tx, appmfa.NewVerifier(mock.NewMockTOTP(ctrl), mock.NewMockSealer(ctrl)), attempts, clock, appmfa.StepUpMaxAge(15*time.Minute))
	h := account.NewChangeEmail(users, tx, limits.NewPasswordCheck(guard, hasher, auditLog, clock), stepUp, guard, clock, &seqIDs{}, rand.Reader, links, account.VerificationTTL(time.Hour))
	meta := app.RequestMeta{IP: "192.0.2.1"}

	// An invalid address is refused, naming new_email, before any lookup.
	err = h.Handle(context.Background(), account.ChangeEmailInput{UserID: userID, NewEmail: "not an address", Password: "x", Meta: meta})
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Field != "new_email" {
		t.Fatalf("invalid address: %v", err)
	}

	// The current address asked again: after the password check, nothing
	// to change and nothing mailed (no transaction), the same answer.
	users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$stored").Return(true, false, nil)
	factors.EXPECT().TOTP(gomock.Any(), userID).Return(nil, mfa.ErrNotFound)
	if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: userID, NewEmail: "Owner@Example.com", Password: "the right one", Meta: meta}); err != nil {
		t.Fatalf("the current address: %v", err)
	}
}

func TestConfirmEmailChangeRefusesAMalformedTokenFirst(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	guard := limits.NewGuard(mock.NewMockRateLimiter(ctrl), limits.Policy{Disabled: true})
	h := account.NewConfirmEmailChange(mock.NewMockTxManager(ctrl), guard, fixedClock{t0}) // strict: no transaction
	if _, err := h.Handle(context.Background(), "nope", uuid.Nil, app.RequestMeta{}); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("malformed token: %v", err)
	}
}

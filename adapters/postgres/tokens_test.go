package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

func TestOneTimeTokenIssueInvalidatesOlderOfSamePurpose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewOneTimeTokenRepository(pgtest.New(t))
	u := createUser(t)
	t0 := now()

	issue := func(p token.Purpose, at time.Time) *token.OneTimeToken {
		t.Helper()
		tok, err := token.Issue(randomHash(t), u.ID(), p, at, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Issue(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	oldVerify := issue(token.PurposeVerifyEmail, t0)
	reset := issue(token.PurposeResetPassword, t0.Add(time.Second))
	newVerify := issue(token.PurposeVerifyEmail, t0.Add(2*time.Second))

	got, err := repo.ByHashForUpdate(ctx, oldVerify.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if got.UsedAt() == nil || !got.UsedAt().Equal(newVerify.CreatedAt()) {
		t.Fatalf("old token used_at = %v, want %v", got.UsedAt(), newVerify.CreatedAt())
	}
	if err := got.Use(token.PurposeVerifyEmail, t0.Add(3*time.Second)); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("old token still usable: %v", err)
	}
	for _, tok := range []*token.OneTimeToken{reset, newVerify} {
		got, err := repo.ByHashForUpdate(ctx, tok.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if got.UsedAt() != nil {
			t.Fatalf("%s token invalidated", tok.Purpose())
		}
	}
}

func TestOneTimeTokenUseRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := createUser(t)
	tok, err := token.Issue(randomHash(t), u.ID(), token.PurposeResetPassword, now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewOneTimeTokenRepository(pgtest.New(t)).Issue(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tm := postgres.NewTxManager(pgtest.New(t))
	use := func() error {
		return tm.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Tokens.ByHashForUpdate(ctx, tok.Hash())
			if err != nil {
				return err
			}
			if got.Hash() != tok.Hash() || got.UserID() != u.ID() || got.Purpose() != tok.Purpose() ||
				!got.CreatedAt().Equal(tok.CreatedAt()) || !got.ExpiresAt().Equal(tok.ExpiresAt()) {
				t.Errorf("token differs: %+v", got)
			}
			if err := got.Use(token.PurposeResetPassword, now()); err != nil {
				return err
			}
			return r.Tokens.MarkUsed(ctx, got)
		})
	}
	if err := use(); err != nil {
		t.Fatal(err)
	}
	if err := use(); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("second use: %v, want ErrInvalidToken", err)
	}
}

func TestOneTimeTokenUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewOneTimeTokenRepository(pgtest.New(t))
	if _, err := repo.ByHashForUpdate(ctx, randomHash(t)); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("ByHashForUpdate: %v", err)
	}
	u := createUser(t)
	tok, _ := token.Issue(randomHash(t), u.ID(), token.PurposeVerifyEmail, now(), time.Hour)
	if err := repo.MarkUsed(ctx, tok); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("MarkUsed: %v", err)
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

func init() {
	register("Tokens/AddAndByHashForChange", testTokenAddAndRead)
	register("Tokens/UseRoundTrip", testTokenUseRoundTrip)
	register("Tokens/InvalidateUnusedByPurpose", testTokenInvalidateUnused)
	register("Tokens/InvalidateThenAddKeepsOnlyTheNewest", testTokenInvalidateThenAdd)
	register("Tokens/UsedTokensForgetThePassword", testTokenUsedForgetsPassword)
	register("Tokens/ChangeEmailCarriesTheNewAddress", testTokenChangeEmail)
	register("Tokens/Unknown", testTokenUnknown)
	register("Tokens/ByHashLooksWithoutWaiting", testTokenByHash)
	register("Tokens/ConcurrentUseExactlyOneWins", testTokenConcurrentUse)
	register("Tokens/ConcurrentReissueLeavesOneUsable", testTokenConcurrentReissue)
}

// diffToken describes how got differs from want, or returns nil.
func diffToken(got, want *token.OneTimeToken) error {
	if got.Hash() != want.Hash() || got.UserID() != want.UserID() || got.Purpose() != want.Purpose() ||
		!got.CreatedAt().Equal(want.CreatedAt()) || !got.ExpiresAt().Equal(want.ExpiresAt()) ||
		!equalTimePtr(got.UsedAt(), want.UsedAt()) || got.PasswordHash() != want.PasswordHash() || got.NewEmail() != want.NewEmail() {
		return fmt.Errorf("token differs:\n got user=%s purpose=%s created=%v expires=%v used=%s pw=%q new=%q\nwant user=%s purpose=%s created=%v expires=%v used=%s pw=%q new=%q",
			got.UserID(), got.Purpose(), got.CreatedAt(), got.ExpiresAt(), fmtTimePtr(got.UsedAt()), got.PasswordHash(), got.NewEmail(),
			want.UserID(), want.Purpose(), want.CreatedAt(), want.ExpiresAt(), fmtTimePtr(want.UsedAt()), want.PasswordHash(), want.NewEmail())
	}
	return nil
}

// readToken reads a token for change in a transaction of its own.
func readToken(t *testing.T, s Store, h token.Hash) *token.OneTimeToken {
	t.Helper()
	var got *token.OneTimeToken
	within(t, s, func(ctx context.Context, r app.Repos) error {
		var err error
		got, err = r.Tokens.ByHashForChange(ctx, h)
		return err
	})
	return got
}

func issueToken(t *testing.T, userID uuid.UUID, p token.Purpose, at time.Time) *token.OneTimeToken {
	t.Helper()
	return mustGet(token.Issue(randomHash(t), userID, p, at, time.Hour))(t)
}

func addToken(t *testing.T, s Store, tok *token.OneTimeToken) {
	t.Helper()
	must(t, s.Repos.Tokens.Add(testCtx(t), tok))
}

// Add stores a token as it is, including the password hash a registration
// token carries and a used time; ByHashForChange gives it back.
func testTokenAddAndRead(t *testing.T, s Store) {
	u := createUser(t, s)
	t0 := now()

	reg := mustGet(token.IssueForRegistration(randomHash(t), u.ID(), "$argon2id$chosen-at-registration", t0, time.Hour))(t)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Tokens.Add(ctx, reg) })
	got := readToken(t, s, reg.Hash())
	must(t, diffToken(got, reg))
	if got.PasswordHash() != "$argon2id$chosen-at-registration" || got.Purpose() != token.PurposeVerifyEmail {
		t.Fatalf("registration token read back with purpose %s, password hash %q", got.Purpose(), got.PasswordHash())
	}

	plain := issueToken(t, u.ID(), token.PurposeResetPassword, t0)
	addToken(t, s, plain)
	if got := readToken(t, s, plain.Hash()); got.PasswordHash() != "" || got.UsedAt() != nil {
		t.Fatalf("plain token read back with password hash %q, used %s", got.PasswordHash(), fmtTimePtr(got.UsedAt()))
	} else if err := diffToken(got, plain); err != nil {
		t.Fatal(err)
	}

	usedAt := t0.Add(time.Minute)
	used := token.Rehydrate(randomHash(t), u.ID(), token.PurposeVerifyEmail, t0, t0.Add(time.Hour), &usedAt, "", "")
	addToken(t, s, used)
	must(t, diffToken(readToken(t, s, used.Hash()), used))
}

func testTokenUseRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	tok := issueToken(t, u.ID(), token.PurposeResetPassword, now())
	addToken(t, s, tok)
	var usedAt time.Time
	use := func() error {
		return s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Tokens.ByHashForChange(ctx, tok.Hash())
			if err != nil {
				return err
			}
			if got.Hash() != tok.Hash() || got.UserID() != u.ID() || got.Purpose() != tok.Purpose() ||
				!got.CreatedAt().Equal(tok.CreatedAt()) || !got.ExpiresAt().Equal(tok.ExpiresAt()) {
				return fmt.Errorf("token differs: %w", diffToken(got, tok))
			}
			at := now()
			if err := got.Use(token.PurposeResetPassword, at); err != nil {
				return err
			}
			usedAt = at
			return r.Tokens.MarkUsed(ctx, got)
		})
	}
	must(t, use())
	wantErr(t, use(), domain.ErrInvalidToken, "second use")
	if got := readToken(t, s, tok.Hash()); got.UsedAt() == nil || !got.UsedAt().Equal(usedAt) {
		t.Fatalf("used_at = %s, want %v", fmtTimePtr(got.UsedAt()), usedAt)
	}
}

// InvalidateUnused marks used, at the given time, exactly the user's unused
// tokens of the given purposes, and counts them.
func testTokenInvalidateUnused(t *testing.T, s Store) {
	ctx := testCtx(t)
	u, other := createUser(t, s), createUser(t, s)
	t0 := now()

	verify1 := issueToken(t, u.ID(), token.PurposeVerifyEmail, t0)
	verify2 := mustGet(token.IssueForRegistration(randomHash(t), u.ID(), "$argon2id$reg", t0.Add(time.Second), time.Hour))(t)
	reset := issueToken(t, u.ID(), token.PurposeResetPassword, t0)
	earlier := t0.Add(-time.Minute)
	usedReset := token.Rehydrate(randomHash(t), u.ID(), token.PurposeResetPassword, t0.Add(-time.Hour), t0, &earlier, "", "")
	otherVerify := issueToken(t, other.ID(), token.PurposeVerifyEmail, t0)
	otherReset := issueToken(t, other.ID(), token.PurposeResetPassword, t0)
	for _, tok := range []*token.OneTimeToken{verify1, verify2, reset, usedReset, otherVerify, otherReset} {
		addToken(t, s, tok)
	}
	usedAt := func(tok *token.OneTimeToken) *time.Time {
		t.Helper()
		return readToken(t, s, tok.Hash()).UsedAt()
	}
	invalidate := func(at time.Time, purposes ...token.Purpose) int {
		t.Helper()
		return mustGet(s.Repos.Tokens.InvalidateUnused(ctx, u.ID(), at, purposes...))(t)
	}

	if n := invalidate(t0.Add(time.Minute)); n != 0 {
		t.Fatalf("InvalidateUnused without purposes marked %d", n)
	}
	if usedAt(verify1) != nil || usedAt(reset) != nil {
		t.Fatal("InvalidateUnused without purposes marked a token")
	}

	at1 := t0.Add(2 * time.Minute)
	if n := invalidate(at1, token.PurposeVerifyEmail); n != 2 {
		t.Fatalf("InvalidateUnused(verify) marked %d, want 2", n)
	}
	for _, tok := range []*token.OneTimeToken{verify1, verify2} {
		if got := usedAt(tok); got == nil || !got.Equal(at1) {
			t.Fatalf("verification token used_at = %s, want %v", fmtTimePtr(got), at1)
		}
	}
	if got := usedAt(reset); got != nil {
		t.Fatalf("reset token marked by InvalidateUnused(verify) at %v", got)
	}
	if got := usedAt(otherVerify); got != nil {
		t.Fatal("another user's token was marked")
	}
	if n := invalidate(at1.Add(time.Minute), token.PurposeVerifyEmail); n != 0 {
		t.Fatalf("second InvalidateUnused(verify) marked %d, want 0", n)
	}
	if got := usedAt(verify1); !got.Equal(at1) {
		t.Fatalf("used time of an already used token moved to %v", got)
	}

	// Both purposes at once, inside a transaction.
	verify3 := issueToken(t, u.ID(), token.PurposeVerifyEmail, t0.Add(3*time.Minute))
	addToken(t, s, verify3)
	at2 := t0.Add(4 * time.Minute)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		n, err := r.Tokens.InvalidateUnused(ctx, u.ID(), at2, token.PurposeVerifyEmail, token.PurposeResetPassword)
		if err == nil && n != 2 {
			err = fmt.Errorf("InvalidateUnused(verify, reset) marked %d, want 2", n)
		}
		return err
	})
	for _, tok := range []*token.OneTimeToken{reset, verify3} {
		if got := usedAt(tok); got == nil || !got.Equal(at2) {
			t.Fatalf("%s token used_at = %s, want %v", tok.Purpose(), fmtTimePtr(got), at2)
		}
	}
	if got := usedAt(usedReset); got == nil || !got.Equal(earlier) {
		t.Fatalf("already used token's used_at = %s, want %v", fmtTimePtr(got), earlier)
	}
	if usedAt(otherVerify) != nil || usedAt(otherReset) != nil {
		t.Fatal("another user's tokens were marked")
	}
	if got := readToken(t, s, verify2.Hash()); got.PasswordHash() != "" {
		t.Fatalf("an invalidated registration token kept its password hash: %q", got.PasswordHash())
	}
}

// What the app does when it issues a reset token: invalidate the unused
// ones of that purpose, then add the new one, in one transaction. Only the
// newest stays usable; tokens of the other purpose are untouched.
func testTokenInvalidateThenAdd(t *testing.T, s Store) {
	u := createUser(t, s)
	t0 := now()
	reissue := func(p token.Purpose, at time.Time) *token.OneTimeToken {
		t.Helper()
		tok := issueToken(t, u.ID(), p, at)
		within(t, s, func(ctx context.Context, r app.Repos) error {
			if _, err := r.Users.ByIDForChange(ctx, u.ID()); err != nil {
				return err
			}
			if _, err := r.Tokens.InvalidateUnused(ctx, u.ID(), at, p); err != nil {
				return err
			}
			return r.Tokens.Add(ctx, tok)
		})
		return tok
	}
	oldReset := reissue(token.PurposeResetPassword, t0)
	verify := reissue(token.PurposeVerifyEmail, t0.Add(time.Second))
	newReset := reissue(token.PurposeResetPassword, t0.Add(2*time.Second))

	got := readToken(t, s, oldReset.Hash())
	if got.UsedAt() == nil || !got.UsedAt().Equal(newReset.CreatedAt()) {
		t.Fatalf("old token used_at = %s, want %v", fmtTimePtr(got.UsedAt()), newReset.CreatedAt())
	}
	wantErr(t, got.Use(token.PurposeResetPassword, t0.Add(3*time.Second)), domain.ErrInvalidToken, "old token still usable")
	for _, tok := range []*token.OneTimeToken{verify, newReset} {
		got := readToken(t, s, tok.Hash())
		if got.UsedAt() != nil {
			t.Fatalf("%s token invalidated", tok.Purpose())
		}
		if err := got.Usable(tok.Purpose(), t0.Add(3*time.Second)); err != nil {
			t.Fatalf("%s token not usable: %v", tok.Purpose(), err)
		}
	}
}

func testTokenUnknown(t *testing.T, s Store) {
	ctx := testCtx(t)
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		_, err := r.Tokens.ByHashForChange(ctx, randomHash(t))
		return err
	})
	wantErr(t, err, domain.ErrInvalidToken, "ByHashForChange in a transaction")
	wantErr(t, errOf(s.Repos.Tokens.ByHashForChange(ctx, randomHash(t))), domain.ErrInvalidToken, "ByHashForChange on the store")
	u := createUser(t, s)
	tok := issueToken(t, u.ID(), token.PurposeVerifyEmail, now())
	must(t, tok.Use(token.PurposeVerifyEmail, now()))
	wantErr(t, s.Repos.Tokens.MarkUsed(ctx, tok), domain.ErrInvalidToken, "MarkUsed of a token never added")
}

// Of concurrent transactions consuming one token, exactly one succeeds; the
// others see it used.
func testTokenConcurrentUse(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	tok := issueToken(t, u.ID(), token.PurposeResetPassword, now())
	addToken(t, s, tok)
	const n = 12
	errs := make([]error, n)
	race(n, func(i int) {
		errs[i] = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Tokens.ByHashForChange(ctx, tok.Hash())
			if err != nil {
				return err
			}
			if err := got.Use(token.PurposeResetPassword, now()); err != nil {
				return err
			}
			time.Sleep(time.Millisecond) // widen the window a double use needs
			return r.Tokens.MarkUsed(ctx, got)
		})
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrInvalidToken):
			t.Errorf("transaction %d: unexpected error: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d transactions consumed the token, want exactly 1", won)
	}
	if got := readToken(t, s, tok.Hash()); got.UsedAt() == nil {
		t.Fatal("token unused after the race")
	}
}

// Concurrent reissues for one user, each reading the user for change and
// then invalidating and adding, run one after another: exactly one token,
// the last one added, stays unused.
func testTokenConcurrentReissue(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	const n = 8
	toks := make([]*token.OneTimeToken, n)
	for i := range toks {
		toks[i] = issueToken(t, u.ID(), token.PurposeResetPassword, now())
	}
	race(n, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			if _, err := r.Users.ByIDForChange(ctx, u.ID()); err != nil {
				return err
			}
			if _, err := r.Tokens.InvalidateUnused(ctx, u.ID(), now(), token.PurposeResetPassword); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
			return r.Tokens.Add(ctx, toks[i])
		})
		if err != nil {
			t.Error(err)
		}
	})
	unused := 0
	for _, tok := range toks {
		if readToken(t, s, tok.Hash()).UsedAt() == nil {
			unused++
		}
	}
	if unused != 1 {
		t.Fatalf("%d of %d reissued tokens are unused, want exactly 1", unused, n)
	}
}

// A registration's password hash is kept only while its token can still
// verify: using or invalidating the token drops it.
func testTokenUsedForgetsPassword(t *testing.T, s Store) {
	u := createUser(t, s)
	t0 := now()
	issue := func() *token.OneTimeToken {
		tok := mustGet(token.IssueForRegistration(randomHash(t), u.ID(), "$argon2id$pending", t0, time.Hour))(t)
		addToken(t, s, tok)
		return tok
	}
	used, invalidated := issue(), issue()
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Tokens.ByHashForChange(ctx, used.Hash())
		if err != nil {
			return err
		}
		if err := got.Use(token.PurposeVerifyEmail, t0.Add(time.Second)); err != nil {
			return err
		}
		if err := r.Tokens.MarkUsed(ctx, got); err != nil {
			return err
		}
		_, err = r.Tokens.InvalidateUnused(ctx, u.ID(), t0.Add(time.Second), token.PurposeVerifyEmail)
		return err
	})
	for name, tok := range map[string]*token.OneTimeToken{"used": used, "invalidated": invalidated} {
		if got := readToken(t, s, tok.Hash()); got.UsedAt() == nil || got.PasswordHash() != "" {
			t.Errorf("%s token: used %s, password hash %q kept", name, fmtTimePtr(got.UsedAt()), got.PasswordHash())
		}
	}
}

// A change-email token stores the new address and gives it back; unlike a
// registration's password hash, the address stays once the token is used
// or invalidated (it is no secret). Other tokens have none.
func testTokenChangeEmail(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	t0 := now()
	newEmail := randomEmail(t).String()
	change := mustGet(token.IssueForEmailChange(randomHash(t), u.ID(), newEmail, t0, time.Hour))(t)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Tokens.Add(ctx, change) })
	got := readToken(t, s, change.Hash())
	must(t, diffToken(got, change))
	if got.NewEmail() != newEmail || got.Purpose() != token.PurposeChangeEmail || got.PasswordHash() != "" {
		t.Fatalf("change-email token read back with purpose %s, new email %q, password hash %q", got.Purpose(), got.NewEmail(), got.PasswordHash())
	}
	plain := issueToken(t, u.ID(), token.PurposeResetPassword, t0)
	addToken(t, s, plain)
	if got := readToken(t, s, plain.Hash()); got.NewEmail() != "" {
		t.Fatalf("reset token read back with new email %q", got.NewEmail())
	}

	// Used: the address stays.
	usedAt := t0.Add(time.Minute)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Tokens.ByHashForChange(ctx, change.Hash())
		if err != nil {
			return err
		}
		if err := got.Use(token.PurposeChangeEmail, usedAt); err != nil {
			return err
		}
		return r.Tokens.MarkUsed(ctx, got)
	})
	if got := readToken(t, s, change.Hash()); got.NewEmail() != newEmail || !equalTimePtr(got.UsedAt(), &usedAt) {
		t.Fatalf("used change-email token: new email %q, used %s", got.NewEmail(), fmtTimePtr(got.UsedAt()))
	}

	// Invalidated: the address stays too; only change-email tokens of the
	// user are counted when that purpose alone is named.
	second := mustGet(token.IssueForEmailChange(randomHash(t), u.ID(), randomEmail(t).String(), t0, time.Hour))(t)
	addToken(t, s, second)
	at := t0.Add(2 * time.Minute)
	if n, err := s.Repos.Tokens.InvalidateUnused(ctx, u.ID(), at, token.PurposeChangeEmail); err != nil || n != 1 {
		t.Fatalf("InvalidateUnused(change_email) = %d, %v; want 1", n, err)
	}
	if got := readToken(t, s, second.Hash()); got.NewEmail() != second.NewEmail() || !equalTimePtr(got.UsedAt(), &at) {
		t.Fatalf("invalidated change-email token: new email %q, used %s", got.NewEmail(), fmtTimePtr(got.UsedAt()))
	}
}

// ByHash reads a token as stored, gives domain.ErrInvalidToken for an
// unknown hash, and answers while a transaction holds the token for
// change (a page that only looks at a link never waits for one that uses
// it, nor takes a writer).
func testTokenByHash(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	tok := issueToken(t, u.ID(), token.PurposeResetPassword, now())
	addToken(t, s, tok)
	got, err := s.Repos.Tokens.ByHash(ctx, tok.Hash())
	must(t, err)
	must(t, diffToken(got, tok))
	wantErr(t, errOf(s.Repos.Tokens.ByHash(ctx, randomHash(t))), domain.ErrInvalidToken, "ByHash of an unknown hash")

	readWhileHeld(t, ctx, s, "ByHash while a transaction holds the token",
		func(ctx context.Context, r app.Repos) error { return errOf(r.Tokens.ByHashForChange(ctx, tok.Hash())) },
		func(ctx context.Context) error { return errOf(s.Repos.Tokens.ByHash(ctx, tok.Hash())) })
}

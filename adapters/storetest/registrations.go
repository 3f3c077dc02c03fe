package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func init() {
	register("Users/PendingRegistrationMarkIsStored", testPendingRegistrationStored)
	register("Retention/SweepsPendingRegistrationsWithoutALiveLink", testSweepRegistrations)
	register("Tokens/InvitationIsItsOwnPurpose", testInvitationPurpose)
}

// createRegistration stores a pending registration created at created,
// with the given links.
func createRegistration(t *testing.T, s Store, created time.Time, links ...*token.OneTimeToken) *user.User {
	t.Helper()
	u := mustGet(user.NewRegistration(uuid.New(), randomEmail(t), passwordHash, created))(t)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		if err := r.Users.Create(ctx, u); err != nil {
			return err
		}
		for _, l := range links {
			l = token.Rehydrate(l.Hash(), u.ID(), l.Purpose(), l.CreatedAt(), l.ExpiresAt(), l.UsedAt(), l.PasswordHash(), l.NewEmail())
			if err := r.Tokens.Add(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	return u
}

// link is a token of no user yet (createRegistration gives it one),
// created at from and expiring at until, used at used when not nil.
func link(t *testing.T, p token.Purpose, from, until time.Time, used *time.Time) *token.OneTimeToken {
	t.Helper()
	return token.Rehydrate(randomHash(t), uuid.New(), p, from, until, used, "", "")
}

// The pending-registration mark is stored by Create and Update and read
// back by every read of a user (the bearer check's included).
func testPendingRegistrationStored(t *testing.T, s Store) {
	ctx := testCtx(t)
	at := now()
	// A live link keeps a concurrent sweep away.
	u := createRegistration(t, s, at, link(t, token.PurposeVerifyEmail, at, at.Add(time.Hour), nil))
	got, err := s.Repos.Users.ByID(ctx, u.ID())
	if err != nil || !got.PendingRegistration() {
		t.Fatalf("ByID = pending %v, %v; want pending", got != nil && got.PendingRegistration(), err)
	}
	if got, err := s.Repos.Users.ByEmail(ctx, u.Email()); err != nil || !got.PendingRegistration() {
		t.Fatalf("ByEmail lost the mark: %v", err)
	}
	sess := createSession(t, s, u.ID(), at)
	if b, err := s.Repos.Sessions.ForBearer(ctx, sess.ID()); err != nil || !b.User.PendingRegistration() {
		t.Fatalf("ForBearer lost the mark: %v", err)
	}
	got.VerifyEmail(at)
	must(t, s.Repos.Users.Update(ctx, got))
	if again, err := s.Repos.Users.ByID(ctx, u.ID()); err != nil || again.PendingRegistration() || !again.Verified() {
		t.Fatalf("after verification: pending %v verified %v, %v", again.PendingRegistration(), again.Verified(), err)
	}
	if op := createUser(t, s); op.PendingRegistration() {
		t.Fatal("an operator's account is pending")
	} else if got, err := s.Repos.Users.ByID(ctx, op.ID()); err != nil || got.PendingRegistration() {
		t.Fatalf("an operator's account reads back pending: %v", err)
	}
}

// SweepRegistrations deletes the pending registrations that have no link
// working at now (all expired or used, or none), with their links and
// mail, and keeps every other account: a pending registration with any
// live link, an operator's unverified account (with or without an
// expired invitation), an account verified once and unverified since.
func testSweepRegistrations(t *testing.T, s Store) {
	ctx := testCtx(t)
	at := now()
	hourAgo, inAnHour := at.Add(-time.Hour), at.Add(time.Hour)
	used := at.Add(-30 * time.Minute)

	expired := createRegistration(t, s, at.Add(-2*time.Hour),
		link(t, token.PurposeVerifyEmail, at.Add(-2*time.Hour), hourAgo, nil),
		link(t, token.PurposeVerifyEmail, at.Add(-2*time.Hour), at, nil)) // expires exactly now: dead
	usedUp := createRegistration(t, s, hourAgo, link(t, token.PurposeVerifyEmail, hourAgo, inAnHour, &used))
	noLink := createRegistration(t, s, hourAgo)
	mail := newMail(expired.ID())
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Outbox.Enqueue(ctx, mail, hourAgo) })

	live := createRegistration(t, s, hourAgo,
		link(t, token.PurposeVerifyEmail, at.Add(-2*time.Hour), hourAgo, nil),
		link(t, token.PurposeVerifyEmail, hourAgo, inAnHour, nil))
	liveReset := createRegistration(t, s, hourAgo,
		link(t, token.PurposeVerifyEmail, at.Add(-2*time.Hour), hourAgo, nil),
		link(t, token.PurposeResetPassword, hourAgo, inAnHour, nil))
	operator := createUser(t, s)
	invited := createUser(t, s)
	addToken(t, s, token.Rehydrate(randomHash(t), invited.ID(), token.PurposeInvite, at.Add(-73*time.Hour), hourAgo, nil, "", ""))
	onceVerified := createRegistration(t, s, hourAgo)
	onceVerified.VerifyEmail(hourAgo)
	onceVerified.UnverifyEmail(at)
	must(t, s.Repos.Users.Update(ctx, onceVerified))

	n := mustGet(s.Retention.SweepRegistrations(ctx, at))(t)
	if n < 3 {
		t.Fatalf("swept %d, want at least the 3 dead registrations", n)
	}
	for name, u := range map[string]*user.User{"expired links": expired, "used links": usedUp, "no link": noLink} {
		if _, err := s.Repos.Users.ByID(ctx, u.ID()); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("pending registration with %s outlived the sweep: %v", name, err)
		}
		if c, err := s.Count(ctx, `SELECT count(*) FROM one_time_tokens WHERE CAST(user_id AS TEXT) = $1`, u.ID().String()); err != nil || c != 0 {
			t.Errorf("%s: %d links left, %v", name, c, err)
		}
	}
	if c, err := s.Count(ctx, `SELECT count(*) FROM mail_outbox WHERE CAST(user_id AS TEXT) = $1`, expired.ID().String()); err != nil || c != 0 {
		t.Errorf("the mail of a swept registration is left: %d, %v", c, err)
	}
	for name, u := range map[string]*user.User{
		"pending with a live link": live, "pending with a live reset": liveReset, "operator's unverified account": operator,
		"operator's account with an expired invitation": invited, "account verified once": onceVerified,
	} {
		if _, err := s.Repos.Users.ByID(ctx, u.ID()); err != nil {
			t.Errorf("%s was swept: %v", name, err)
		}
	}
	// Nothing left to sweep among them: a second sweep keeps them all.
	if _, err := s.Retention.SweepRegistrations(ctx, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repos.Users.ByID(ctx, live.ID()); err != nil {
		t.Fatalf("a second sweep took a live registration: %v", err)
	}
	// Once its last link has expired, the live one goes too.
	if _, err := s.Retention.SweepRegistrations(ctx, inAnHour); err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]*user.User{"pending with a live link": live, "pending with a live reset": liveReset} {
		if _, err := s.Repos.Users.ByID(ctx, u.ID()); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s outlived its last link: %v", name, err)
		}
	}
	if _, err := s.Repos.Users.ByID(ctx, operator.ID()); err != nil {
		t.Errorf("an operator's account was swept: %v", err)
	}
}

// An invitation is stored with its purpose, and invalidating the resets
// of the account leaves it working.
func testInvitationPurpose(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	at := now()
	invite, err := token.Issue(randomHash(t), u.ID(), token.PurposeInvite, at, 72*time.Hour)
	must(t, err)
	addToken(t, s, invite)
	addToken(t, s, issueToken(t, u.ID(), token.PurposeResetPassword, at))
	if n, err := s.Repos.Tokens.InvalidateUnused(ctx, u.ID(), at.Add(time.Second), token.PurposeResetPassword); err != nil || n != 1 {
		t.Fatalf("InvalidateUnused(reset) = %d, %v; want 1", n, err)
	}
	var got *token.OneTimeToken
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err = r.Tokens.ByHashForChange(ctx, invite.Hash())
		return err
	})
	if got.Purpose() != token.PurposeInvite || got.Usable(token.PurposeInvite, at.Add(time.Minute)) != nil {
		t.Fatalf("invitation read back as %q, used %v", got.Purpose(), got.UsedAt())
	}
	if n, err := s.Repos.Tokens.InvalidateUnused(ctx, u.ID(), at.Add(2*time.Second), token.PurposeInvite); err != nil || n != 1 {
		t.Fatalf("InvalidateUnused(invite) = %d, %v; want 1", n, err)
	}
}

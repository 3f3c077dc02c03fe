package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

func init() {
	register("Users/PendingRegistrationMarkIsStored", testPendingRegistrationStored)
	register("Retention/SweepsPendingRegistrationsWithoutALiveLink", testSweepRegistrations)
	register("Tokens/InvitationIsItsOwnPurpose", testInvitationPurpose)
	register("Retention/SweepsOnlyWhatEndedBeforeCutoff", testRetentionSweep)
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
// expired invitation), an account verified once and unverified since. The
// events told makes of the accounts deleted, as they were, are recorded
// with the delete.
func testSweepRegistrations(t *testing.T, s Store) {
	ctx := testCtx(t)
	at := now()
	hook := newEndpoint(t, s, at, webhook.UserDeleted)
	swept := map[uuid.UUID]*user.User{}
	told := func(deleted []*user.User) []webhook.Event {
		events := make([]webhook.Event, len(deleted))
		for i, u := range deleted {
			swept[u.ID()] = u
			events[i] = webhook.New(uuid.New(), webhook.UserDeleted, u, false, at)
		}
		return events
	}
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

	n := mustGet(s.Retention.SweepRegistrations(ctx, at, told))(t)
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
		if got := swept[u.ID()]; got == nil || got.Email() != u.Email() || !got.PendingRegistration() {
			t.Errorf("%s: told of %+v", name, got)
		}
		if n := deliveriesOf(t, s, hook.ID, u.ID()); n != 1 {
			t.Errorf("%s: %d deliveries of user.deleted, want 1", name, n)
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
		if swept[u.ID()] != nil || deliveriesOf(t, s, hook.ID, u.ID()) != 0 {
			t.Errorf("%s, kept, was told of", name)
		}
	}
	// Nothing left to sweep among them: a second sweep keeps them all.
	if _, err := s.Retention.SweepRegistrations(ctx, at, told); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repos.Users.ByID(ctx, live.ID()); err != nil {
		t.Fatalf("a second sweep took a live registration: %v", err)
	}
	// Once its last link has expired, the live one goes too.
	if _, err := s.Retention.SweepRegistrations(ctx, inAnHour, told); err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]*user.User{"pending with a live link": live, "pending with a live reset": liveReset} {
		if _, err := s.Repos.Users.ByID(ctx, u.ID()); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s outlived its last link: %v", name, err)
		}
		if swept[u.ID()] == nil || deliveriesOf(t, s, hook.ID, u.ID()) != 1 {
			t.Errorf("%s: swept but not told of", name)
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

// The sweep's cutoff is long past, so that it can only reach the rows this
// case dated back then, never those of other cases (which use the real
// time, or for the outbox years before 2001 and only sent or given-up
// mail, which may go).
func testRetentionSweep(t *testing.T, s Store) {
	ctx := testCtx(t)
	past := time.Date(2001, 3, 1, 0, 0, 0, 0, time.UTC)
	cutoff := past.Add(40 * 24 * time.Hour)
	day := 24 * time.Hour
	u := createUser(t, s)

	// Sessions: ended (expired or revoked) before the cutoff, or not.
	expired := createSessionTTL(t, s, u.ID(), past, day)
	revokedLongAgo := createSessionTTL(t, s, u.ID(), past, 60*day)
	revokedLongAgo.Revoke(past.Add(day))
	revokedRecently := createSessionTTL(t, s, u.ID(), past, 60*day)
	revokedRecently.Revoke(cutoff.Add(day))
	for _, sess := range []*session.Session{revokedLongAgo, revokedRecently} {
		must(t, s.Repos.Sessions.Update(ctx, sess))
	}
	live := createSessionTTL(t, s, u.ID(), past.Add(39*day), 2*day) // expires after the cutoff
	oldRefresh := app.RefreshToken{Hash: randomHash(t), SessionID: expired.ID(), CreatedAt: past}
	liveRefresh := app.RefreshToken{Hash: randomHash(t), SessionID: live.ID(), CreatedAt: past.Add(39 * day)}
	for _, rt := range []app.RefreshToken{oldRefresh, liveRefresh} {
		must(t, s.Repos.Sessions.AddRefreshToken(ctx, rt))
	}

	// One-time tokens: expired before the cutoff, or not (used or not).
	oldTok := issueToken(t, u.ID(), token.PurposeResetPassword, past)
	usedAt := past.Add(time.Minute)
	oldUsedTok := token.Rehydrate(randomHash(t), u.ID(), token.PurposeVerifyEmail, past, past.Add(time.Hour), &usedAt, "", "")
	liveTok := mustGet(token.Issue(randomHash(t), u.ID(), token.PurposeVerifyEmail, cutoff.Add(-time.Hour), 2*time.Hour))(t)
	for _, tok := range []*token.OneTimeToken{oldTok, oldUsedTok, liveTok} {
		addToken(t, s, tok)
	}

	// Mail: sent or given up before the cutoff, still pending, or sent
	// but created after the cutoff.
	sent, failed, pending, sentLater := newMail(u.ID()), newMail(u.ID()), newMail(u.ID()), newMail(u.ID())
	for _, m := range []app.OutboundMail{sent, failed, pending} {
		within(t, s, func(ctx context.Context, r app.Repos) error { return r.Outbox.Enqueue(ctx, m, past) })
	}
	within(t, s, func(ctx context.Context, r app.Repos) error {
		return r.Outbox.Enqueue(ctx, sentLater, cutoff.Add(time.Hour))
	})
	must(t, s.Repos.Outbox.MarkSent(ctx, sent.ID, past))
	must(t, s.Repos.Outbox.MarkFailed(ctx, failed.ID, "550 no such user", past, true))
	must(t, s.Repos.Outbox.MarkSent(ctx, sentLater.ID, cutoff.Add(time.Hour)))

	// The audit trail is never swept.
	oldEvent := audit.Event{Type: audit.Logout, UserID: uuid.New(), At: past}
	must(t, s.Repos.Audit.Append(ctx, oldEvent))

	swept := mustGet(s.Retention.Sweep(ctx, cutoff))(t)
	if swept.Sessions < 2 || swept.Tokens < 2 || swept.Mail < 2 {
		t.Fatalf("swept %+v, want at least 2 of each", swept)
	}

	for name, id := range map[string]uuid.UUID{"an expired session": expired.ID(), "a session revoked long ago": revokedLongAgo.ID()} {
		if _, err := s.Repos.Sessions.ByID(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s outlived the cutoff: %v", name, err)
		}
	}
	for name, id := range map[string]uuid.UUID{"a live session": live.ID(), "a session revoked after the cutoff": revokedRecently.ID()} {
		if _, err := s.Repos.Sessions.ByID(ctx, id); err != nil {
			t.Errorf("%s was swept: %v", name, err)
		}
	}
	if _, err := readRefreshToken(t, s, oldRefresh); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the refresh token of a swept session remains: %v", err)
	}
	if _, err := readRefreshToken(t, s, liveRefresh); err != nil {
		t.Errorf("the refresh token of a live session was swept: %v", err)
	}

	readTok := func(h token.Hash) error {
		return s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			_, err := r.Tokens.ByHashForChange(ctx, h)
			return err
		})
	}
	for name, tok := range map[string]*token.OneTimeToken{"an expired token": oldTok, "an expired used token": oldUsedTok} {
		if err := readTok(tok.Hash()); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("%s outlived the cutoff: %v", name, err)
		}
	}
	if err := readTok(liveTok.Hash()); err != nil {
		t.Errorf("a token expiring after the cutoff was swept: %v", err)
	}

	// Mail: MarkSent and MarkFailed fail on a message that is gone (see
	// the outbox cases), and leave one that is there as it was.
	for name, m := range map[string]app.OutboundMail{"a sent mail": sent, "a mail given up": failed} {
		if err := s.Repos.Outbox.MarkSent(ctx, m.ID, past); err == nil {
			t.Errorf("%s outlived the cutoff", name)
		}
	}
	if err := s.Repos.Outbox.MarkSent(ctx, sentLater.ID, cutoff.Add(time.Hour)); err != nil {
		t.Errorf("a mail created after the cutoff was swept: %v", err)
	}
	if err := s.Repos.Outbox.MarkFailed(ctx, pending.ID, "probe", past, false); err != nil {
		t.Errorf("a pending mail was swept: %v", err)
	}
	if err := s.Repos.Outbox.MarkSent(ctx, pending.ID, past); err != nil { // done with it
		t.Error(err)
	}

	if _, err := s.Repos.Users.ByID(ctx, u.ID()); err != nil {
		t.Errorf("the user was swept: %v", err)
	}
	if recs := recordsOf(t, s, oldEvent.UserID); len(recs) != 1 {
		t.Errorf("the audit trail was swept: %d records of the old event", len(recs))
	}
}

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
	"github.com/google/uuid"
)

func init() {
	register("Retention/SweepsOnlyWhatEndedBeforeCutoff", testRetentionSweep)
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

package session_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"go.uber.org/mock/gomock"
)

// rotated is a refresh token of s rotated at usedAt, keeping its
// successor (whose secret is returned) sealed as Refresh seals it.
func rotated(t *testing.T, hash token.Hash, s *session.Session, usedAt time.Time, seed string) (app.RefreshToken, token.Secret) {
	t.Helper()
	next, _ := apptest.Secret(t, seed)
	sealed, _ := apptest.Sealer{}.Seal([]byte(next.Reveal()), "refresh-successor:"+hex.EncodeToString(hash[:]))
	return app.RefreshToken{Hash: hash, SessionID: s.ID(), CreatedAt: usedAt.Add(-time.Hour), UsedAt: &usedAt, SealedSuccessor: sealed}, next
}

// signs expects one fresh access token for the session.
func (f *refreshFixture) signs(t *testing.T, s *session.Session) *gomock.Call {
	return f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
		if c.Subject != f.u.ID() || c.SessionID != s.ID() {
			t.Errorf("claims %+v", c)
		}
		c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(accessTTL)
		return "fresh.jwt", c, nil
	})
}

// touches expects the session saved with its last use at T0, unrevoked.
func (f *refreshFixture) touches(t *testing.T, s *session.Session) *gomock.Call {
	return f.Repos.Sessions.EXPECT().Update(gomock.Any(), s).DoAndReturn(func(_ context.Context, ss *session.Session) error {
		if !ss.LastUsedAt().Equal(apptest.T0) || ss.RevokedAt() != nil {
			t.Errorf("session last used %v, revoked %v", ss.LastUsedAt(), ss.RevokedAt())
		}
		return nil
	})
}

// A token presented again within the grace gets the successor its
// rotation made, with a fresh access token: no second rotation (no new
// token, nothing marked), and the session stays.
func TestRefreshRepeatWithinGraceGetsTheSameSuccessor(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	rt, next := rotated(t, f.hash, s, apptest.T0.Add(-grace+time.Millisecond), "next")
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	gomock.InOrder(
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil),
		// The successor is locked before the session, as its rotation would.
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), token.HashOf(next)).Return(app.RefreshToken{Hash: token.HashOf(next), SessionID: s.ID(), CreatedAt: *rt.UsedAt}, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil),
		f.touches(t, s),
		f.signs(t, s),
	)
	pair, err := f.h.Handle(context.Background(), f.raw, meta)
	if err != nil {
		t.Fatal(err)
	}
	if pair.RefreshToken != next || pair.AccessToken != "fresh.jwt" || pair.SessionID != s.ID() || pair.ExpiresIn != accessTTL {
		t.Fatalf("pair %+v, want the successor and a fresh access token", pair)
	}
	if errs := res.Errs(); errs[0] != nil {
		t.Fatalf("tx %v", errs)
	}
}

// A repeat within the grace of a token whose successor was rotated too
// (a tab that refreshed twice while another was still on the first token)
// follows the line to the live token.
func TestRefreshRepeatFollowsRotationsToTheLiveToken(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	first, second := apptest.T0.Add(-3*time.Second), apptest.T0.Add(-time.Second)
	rt, next := rotated(t, f.hash, s, first, "next")
	rtNext, live := rotated(t, token.HashOf(next), s, second, "live")
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	gomock.InOrder(
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil),
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), token.HashOf(next)).Return(rtNext, nil),
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), token.HashOf(live)).Return(app.RefreshToken{Hash: token.HashOf(live), SessionID: s.ID(), CreatedAt: second}, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil),
		f.touches(t, s),
		f.signs(t, s),
	)
	pair, err := f.h.Handle(context.Background(), f.raw, meta)
	if err != nil || pair.RefreshToken != live {
		t.Fatalf("Handle = %+v, %v; want the live token", pair, err)
	}
}

// expectReuse expects the revocation of s, its session.revoked and its
// audit event, committed, and the metric.
func (f *refreshFixture) expectReuse(t *testing.T, s *session.Session) []any {
	f.obs.EXPECT().RefreshReuseDetected(gomock.Any())
	f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil)
	f.Repos.Published(apptest.Events(f.u.ID(), webhook.SessionRevoked).Session(s.ID()))
	return append(apptest.ExpectSessionRevoked(t, f.Repos.Sessions, s, 0),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.RefreshReuseDetected && e.Detail["session_id"] == s.ID().String()
		}))
}

// After the grace a repeat is reuse: the session is revoked as before, and
// the sealed successor is erased at this touch.
func TestRefreshRepeatAfterGraceIsReuseAndErasesTheSuccessor(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	rt, _ := rotated(t, f.hash, s, apptest.T0.Add(-grace), "next")
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	calls := []any{
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		f.Repos.Sessions.EXPECT().MarkRefreshTokenUsed(gomock.Any(), f.hash, *rt.UsedAt, nil).Return(nil),
	}
	gomock.InOrder(append(calls, f.expectReuse(t, s)...)...)
	if pair, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid || pair != nil {
		t.Fatalf("Handle = %v, %v; want ErrRefreshInvalid", pair, err)
	}
	if errs := res.Errs(); errs[0] != nil {
		t.Fatalf("the revocation must commit: %v", errs)
	}
}

// With the grace off (0s), a rotation keeps no successor, and any repeat,
// even a moment later and even of a token that kept one from before, is
// reuse, as it always was.
func TestRefreshGraceOff(t *testing.T) {
	t.Run("rotation keeps no successor", func(t *testing.T) {
		f := newRefreshWithGrace(t, 0)
		s := liveSession(f.u.ID())
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		gomock.InOrder(
			f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID()}, nil),
			f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
			f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil),
			f.touches(t, s),
			f.Repos.Sessions.EXPECT().AddRefreshToken(gomock.Any(), gomock.Any()).Return(nil),
			f.signs(t, s),
			f.Repos.Sessions.EXPECT().MarkRefreshTokenUsed(gomock.Any(), f.hash, apptest.T0, nil).Return(nil),
		)
		if _, err := f.h.Handle(context.Background(), f.raw, meta); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("repeat is reuse", func(t *testing.T) {
		f := newRefreshWithGrace(t, 0)
		s := liveSession(f.u.ID())
		rt, _ := rotated(t, f.hash, s, apptest.T0.Add(-time.Millisecond), "next")
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		calls := []any{
			f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil),
			f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
			f.Repos.Sessions.EXPECT().MarkRefreshTokenUsed(gomock.Any(), f.hash, *rt.UsedAt, nil).Return(nil),
		}
		gomock.InOrder(append(calls, f.expectReuse(t, s)...)...)
		if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
			t.Fatalf("err = %v", err)
		}
	})
}

// A repeat within the grace of a session that was revoked since (logout,
// password change or reset, revocation) is refused like any token of a
// dead session: nothing is issued, nothing more is revoked.
func TestRefreshRepeatWithinGraceOfADeadSession(t *testing.T) {
	f := newRefresh(t)
	rev := apptest.T0.Add(-time.Second)
	s := session.Rehydrate(apptest.ID(50), f.u.ID(), apptest.T0.Add(-time.Hour), apptest.T0.Add(-2*time.Second), apptest.T0.Add(time.Hour), &rev, "", "")
	rt, next := rotated(t, f.hash, s, apptest.T0.Add(-2*time.Second), "next")
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	gomock.InOrder(
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil),
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), token.HashOf(next)).Return(app.RefreshToken{Hash: token.HashOf(next), SessionID: s.ID()}, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
	)
	if pair, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid || pair != nil {
		t.Fatalf("Handle = %v, %v; want ErrRefreshInvalid", pair, err)
	}
	if !s.RevokedAt().Equal(rev) {
		t.Fatal("revocation time moved")
	}
}

// A sealed successor that does not open under the presented token's label
// (moved from another row) is an error, never a token.
func TestRefreshSwappedSuccessorDoesNotOpen(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	rt, _ := rotated(t, token.HashOf("another token"), s, apptest.T0.Add(-time.Second), "next")
	rt.Hash = f.hash
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil)
	if pair, err := f.h.Handle(context.Background(), f.raw, meta); err != app.ErrSealBroken || pair != nil {
		t.Fatalf("Handle = %v, %v; want ErrSealBroken", pair, err)
	}
}

// A line of rotations longer than any browser makes within the grace is
// reuse.
func TestRefreshRepeatOverALongLineIsReuse(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	// The presented token and 16 successors, each rotated within the grace.
	hash, at := f.hash, apptest.T0.Add(-5*time.Second)
	var calls []any
	for i := range 17 {
		rt, next := rotated(t, hash, s, at.Add(time.Duration(i)*time.Millisecond), fmt.Sprint("hop", i))
		calls = append(calls, f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), hash).Return(rt, nil))
		hash = token.HashOf(next)
	}
	calls = append(calls,
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		f.Repos.Sessions.EXPECT().MarkRefreshTokenUsed(gomock.Any(), f.hash, at, nil).Return(nil),
	)
	gomock.InOrder(append(calls, f.expectReuse(t, s)...)...)
	if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRefreshRefusesAGraceOutOfRange(t *testing.T) {
	for _, g := range []time.Duration{-time.Second, appsession.MaxReuseGrace + time.Nanosecond} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("grace %v accepted", g)
				}
			}()
			newRefreshWithGrace(t, g)
		}()
	}
}

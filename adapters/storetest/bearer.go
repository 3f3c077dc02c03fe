package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/google/uuid"
)

func init() {
	register("Sessions/ForBearerReadsSessionUserAndFactorAsTheyAre", testSessionForBearer)
}

// ForBearer is the one read of every bearer request: the session, its user
// and whether the user has a confirmed factor, each as stored at that
// moment, so that a revocation, a disabled account or a factor turned on
// shows on the very next call, whichever instance made the change.
func testSessionForBearer(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	sess := createSession(t, s, u.ID(), now())
	check := func(what string, wantActive, wantMFA bool, wantRevoked bool) {
		t.Helper()
		b, err := repo.ForBearer(ctx, sess.ID())
		if err != nil {
			t.Fatalf("%s: ForBearer: %v", what, err)
		}
		if b.Session == nil || b.User == nil {
			t.Fatalf("%s: ForBearer = %+v", what, b)
		}
		if b.Session.ID() != sess.ID() || b.Session.UserID() != u.ID() || !b.Session.CreatedAt().Equal(sess.CreatedAt()) ||
			!b.Session.ExpiresAt().Equal(sess.ExpiresAt()) || !b.Session.LastUsedAt().Equal(sess.LastUsedAt()) ||
			(b.Session.RevokedAt() != nil) != wantRevoked {
			t.Fatalf("%s: session %s user=%s created=%v expires=%v last=%v revoked=%s, want %s of %s, revoked %v", what,
				b.Session.ID(), b.Session.UserID(), b.Session.CreatedAt(), b.Session.ExpiresAt(), b.Session.LastUsedAt(),
				fmtTimePtr(b.Session.RevokedAt()), sess.ID(), u.ID(), wantRevoked)
		}
		if b.User.ID() != u.ID() || b.User.Email() != u.Email() || b.User.PasswordHash() != u.PasswordHash() ||
			b.User.Verified() != u.Verified() || !b.User.CreatedAt().Equal(u.CreatedAt()) || b.User.Active() != wantActive {
			t.Fatalf("%s: user %s %s active=%v verified=%v, want %s %s active=%v verified=%v", what,
				b.User.ID(), b.User.Email(), b.User.Active(), b.User.Verified(), u.ID(), u.Email(), wantActive, u.Verified())
		}
		if b.MFAEnabled != wantMFA {
			t.Fatalf("%s: MFAEnabled = %v, want %v", what, b.MFAEnabled, wantMFA)
		}
	}
	check("new", true, false, false)

	// A pending factor is not on; a confirmed one is.
	f := pendingTOTP(t, u.ID(), now())
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, f))
	check("pending factor", true, false, false)
	if ok, err := s.Repos.MFA.ConfirmTOTP(ctx, u.ID(), f.SealedSecret(), now(), 1); !ok || err != nil {
		t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
	}
	check("confirmed factor", true, true, false)

	// Disabled, then the session revoked: each shows at once, also read in
	// a transaction.
	u.Deactivate(now())
	must(t, s.Repos.Users.Update(ctx, u))
	check("disabled", false, true, false)
	sess.Revoke(now())
	must(t, repo.Update(ctx, sess))
	check("revoked", false, true, true)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		b, err := r.Sessions.ForBearer(ctx, sess.ID())
		if err == nil && (b.Session.RevokedAt() == nil || b.User.Active() || !b.MFAEnabled) {
			err = fmt.Errorf("in a transaction: revoked=%s active=%v mfa=%v", fmtTimePtr(b.Session.RevokedAt()), b.User.Active(), b.MFAEnabled)
		}
		return err
	})

	// Unknown, and gone with its user.
	if _, err := repo.ForBearer(ctx, uuid.New()); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("ForBearer unknown: %v", err)
	}
	other := createUser(t, s)
	gone := createSessionTTL(t, s, other.ID(), now(), time.Hour)
	if _, err := repo.ForBearer(ctx, gone.ID()); err != nil {
		t.Fatalf("ForBearer before the user's deletion: %v", err)
	}
	must(t, s.Repos.Users.Delete(ctx, other.ID()))
	if _, err := repo.ForBearer(ctx, gone.ID()); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("ForBearer after the user's deletion: %v", err)
	}
}

package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"go.uber.org/mock/gomock"
)

// An operator verifying an address clears the login failures counted
// under it, whether at creation or later; a patch that leaves an address
// verified as it was, or unverifies it, clears nothing (strict mock). Only
// an address that becomes verified publishes user.verified.
func TestOperatorVerificationClearsLoginFailures(t *testing.T) {
	t.Run("created verified", func(t *testing.T) {
		f := newUsers(t)
		f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$chosen", nil)
		res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).Return(nil)
		// Created verified: user.created shows it, no user.verified.
		f.Repos.Published(apptest.Events(apptest.ID(1), webhook.UserCreated))
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, apptest.Committed(res, 1))
		if _, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "new@example.com", Password: "a long enough password", EmailVerified: true}); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		name        string
		was, patch  bool
		wantCleared bool
	}{
		{"unverified, verified now", false, true, true},
		{"verified already", true, true, false},
		{"unverified by the patch", true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newUsers(t)
			f.expectViews()
			u := user.Rehydrate(apptest.ID(5), apptest.Email("owner@example.com"), "$argon2id$stored", true, c.was,
				apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
			f.Seed(u)
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
			f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil)
			f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
			if c.wantCleared {
				f.Repos.Published(apptest.Events(u.ID(), webhook.UserVerified))
				apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, apptest.Committed(res, 1))
			}
			v, err := f.h.Update(context.Background(), actor, u.ID(), admin.Patch{EmailVerified: &c.patch})
			if err != nil || v.User.Verified() != c.patch {
				t.Fatalf("Update = %+v, %v", v, err)
			}
		})
	}
}

package admin_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const inviteTTL = 72 * time.Hour

var actor = admin.Actor{Name: "ops-laptop", Meta: app.RequestMeta{IP: "192.0.2.7", UserAgent: "curl"}}

type fixture struct {
	h *admin.Users
	*apptest.Ports
	sessions *mock.MockSessionRepository
	hashes   *mock.MockImportedHashChecker
}

func newUsers(t *testing.T) *fixture {
	p := apptest.NewPorts(t)
	f := &fixture{Ports: p, sessions: mock.NewMockSessionRepository(p.Ctrl), hashes: mock.NewMockImportedHashChecker(p.Ctrl)}
	policy := user.PasswordPolicy{MinLength: 15}
	f.h = admin.NewUsers(admin.UsersDeps{
		Users:     f.Users,
		Sessions:  f.sessions,
		Factors:   f.Factors,
		Tx:        f.Tx,
		Hasher:    f.Hasher,
		Hashes:    f.hashes,
		Policy:    policy,
		Guard:     f.Guard,
		Clock:     apptest.NewClock(apptest.T0),
		IDs:       &apptest.IDs{},
		Random:    apptest.NewRand("admin"),
		Links:     apptest.Links(),
		InviteTTL: admin.InviteTTL(inviteTTL),
	})
	return f
}

func stored(n uint64, active bool) *user.User {
	return user.Rehydrate(apptest.ID(n), apptest.Email("owner@example.com"), "$argon2id$stored", active, true,
		apptest.T0.Add(-time.Duration(n)*time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
}

// expectViews lets the per-page session count, MFA and lock lookups
// through.
func (f *fixture) expectViews() {
	f.sessions.EXPECT().CountActive(gomock.Any(), gomock.Any(), apptest.T0).Return(map[uuid.UUID]int{}, nil).AnyTimes()
	f.Factors.EXPECT().EnabledAmong(gomock.Any(), gomock.Any()).Return(map[uuid.UUID]bool{}, nil).AnyTimes()
	f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil).AnyTimes()
}

func actorEvent(t *testing.T, want audit.Type, userID uuid.UUID, check func(audit.Event)) func(context.Context, audit.Event) error {
	return func(_ context.Context, e audit.Event) error {
		if e.Type != want || e.UserID != userID || e.Detail["actor"] != actor.Name || e.IP != actor.Meta.IP {
			t.Errorf("audit %+v, want %s of %s by %s", e, want, userID, actor.Name)
		}
		if check != nil {
			check(e)
		}
		return nil
	}
}

func TestListPagesWithAnOpaqueCursor(t *testing.T) {
	f := newUsers(t)
	f.expectViews()
	page := []*user.User{stored(1, true), stored(2, true), stored(3, true)}
	f.Users.EXPECT().List(gomock.Any(), app.UserQuery{EmailPrefix: "ow", Limit: 3}).Return(page, nil)
	views, next, err := f.h.List(context.Background(), admin.ListInput{Email: " OW", Limit: ptr(2)})
	if err != nil || len(views) != 2 || next == "" {
		t.Fatalf("List = %d users, next %q, %v; want 2 and a cursor", len(views), next, err)
	}
	// The cursor stands for the last user shown, and leads past it.
	want := &app.UserCursor{CreatedAt: page[1].CreatedAt(), ID: page[1].ID()}
	f.Users.EXPECT().List(gomock.Any(), app.UserQuery{Before: want, Limit: admin.DefaultLimit + 1}).Return(page[2:], nil)
	views, next, err = f.h.List(context.Background(), admin.ListInput{Cursor: next})
	if err != nil || len(views) != 1 || next != "" {
		t.Fatalf("second page = %d users, next %q, %v; want the last one and no cursor", len(views), next, err)
	}
}

func TestListRefusesBadLimitsAndCursorsBeforeAnyLookup(t *testing.T) {
	f := newUsers(t) // no List expected: a strict mock fails on any call
	for _, in := range []admin.ListInput{{Limit: ptr(-1)}, {Limit: ptr(0)}, {Limit: ptr(201)}, {Cursor: "not-a-cursor"}, {Cursor: "YQ"}, {Email: strings.Repeat("a", 300)}} {
		_, _, err := f.h.List(context.Background(), in)
		if !errors.Is(err, domain.ErrInvalidRequest) {
			t.Errorf("List(%+v) = %v, want invalid_request", in, err)
		}
	}
}

func TestCreateWithoutPasswordInvites(t *testing.T) {
	f := newUsers(t)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
		if len(pw.Reveal()) < 40 {
			t.Errorf("an invited account's password is %d characters, want a random secret", len(pw.Reveal()))
		}
		return "$argon2id$random", nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	var created *user.User
	var tok *token.OneTimeToken
	f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
		created = u
		return nil
	})
	f.Repos.Published(apptest.Events(apptest.ID(1), webhook.UserCreated))
	// An invitation is its own purpose: issuing one replaces only earlier
	// invitations, and a reset never replaces it.
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), gomock.Any(), apptest.T0, apptest.Purposes(token.PurposeInvite)).Return(0, nil)
	f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, t *token.OneTimeToken) error {
		tok = t
		return nil
	})
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		if m.Kind != app.MailInvite || m.To != "new@example.com" || !strings.HasPrefix(m.Data["link"], apptest.PublicURL+"/accept-invite?token=") ||
			m.Data["expires_in"] != strconv.FormatInt(int64(tok.ExpiresAt().Sub(tok.CreatedAt())/time.Second), 10) {
			t.Errorf("mail %+v", m)
		}
		if h, _ := token.Parse(strings.TrimPrefix(m.Data["link"], apptest.PublicURL+"/accept-invite?token=")); tok == nil || h != tok.Hash() {
			t.Error("the mailed link is not the stored token")
		}
		return nil
	})
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUserCreated, apptest.ID(1), func(e audit.Event) {
		if e.Detail["invited"] != "true" {
			t.Errorf("detail %v", e.Detail)
		}
	}))
	v, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "New@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if v.User != created || created.Verified() || created.PasswordHash() != "$argon2id$random" {
		t.Errorf("created %+v", created)
	}
	if tok.Purpose() != token.PurposeInvite || !tok.ExpiresAt().Equal(apptest.T0.Add(inviteTTL)) || tok.UserID() != created.ID() {
		t.Errorf("invitation token %+v, want an invitation living %s", tok, inviteTTL)
	}
}

func TestCreateAppliesThePasswordPolicyBeforeHashing(t *testing.T) {
	f := newUsers(t)
	_, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "new@example.com", Password: "short"})
	if !errors.Is(err, domain.Validation()) {
		t.Fatalf("Create with a short password = %v, want validation_failed", err)
	}
}

func TestCreateVerifiedWithPassword(t *testing.T) {
	f := newUsers(t)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$chosen", nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
		if !u.Verified() || u.PasswordHash() != "$argon2id$chosen" {
			t.Errorf("created %+v", u)
		}
		return user.ErrEmailTaken
	})
	_, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "new@example.com", Password: "a long enough password", EmailVerified: true})
	if !errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("Create on a taken address = %v, want email_taken", err)
	}
}

func TestDisableRevokesEverySessionInTheSameTransaction(t *testing.T) {
	f := newUsers(t)
	f.expectViews()
	u := stored(9, true)
	f.Seed(u)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), uuid.Nil, apptest.T0).Return(3, nil)
	f.Repos.Users.EXPECT().Update(gomock.Any(), u).DoAndReturn(func(_ context.Context, uu *user.User) error {
		if uu.Active() {
			t.Error("saved active")
		}
		return nil
	})
	// The sessions the store revoked at once: one event naming the user.
	f.Repos.Published(apptest.Events(u.ID(), webhook.UserDisabled))
	f.Repos.Published(apptest.Events(u.ID(), webhook.SessionRevoked))
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUserUpdated, u.ID(), func(e audit.Event) {
		if e.Detail["disabled"] != "true" || e.Detail["sessions_revoked"] != "3" {
			t.Errorf("detail %v", e.Detail)
		}
	}))
	yes := true
	v, err := f.h.Update(context.Background(), actor, u.ID(), admin.Patch{Disabled: &yes})
	if err != nil || v.User.Active() {
		t.Fatalf("Update = %+v, %v", v, err)
	}
}

// Disabling and enabling publish user.disabled and user.enabled only when
// the account changes; disabling publishes session.revoked only when it
// ended sessions.
func TestDisableAndEnablePublishWhatChanged(t *testing.T) {
	for _, c := range []struct {
		name          string
		active, patch bool // patch: disabled
		revoked       int
		want          []webhook.Type
	}{
		{"disable an active account", true, true, 0, []webhook.Type{webhook.UserDisabled}},
		{"disable a disabled account", false, true, 0, nil},
		{"enable a disabled account", false, false, 0, []webhook.Type{webhook.UserEnabled}},
		{"enable an active account", true, false, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newUsers(t)
			f.expectViews()
			u := stored(9, c.active)
			f.Seed(u)
			apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
			if c.patch {
				f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), uuid.Nil, apptest.T0).Return(c.revoked, nil)
			}
			f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil)
			if c.want != nil {
				f.Repos.Published(apptest.Events(u.ID(), c.want...))
			}
			f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
			if _, err := f.h.Update(context.Background(), actor, u.ID(), admin.Patch{Disabled: &c.patch}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Revoking an account's sessions publishes one session.revoked naming the
// user when it ended any, and nothing when there were none.
func TestRevokeSessionsPublishesWhenAnyEnded(t *testing.T) {
	for _, n := range []int{2, 0} {
		f := newUsers(t)
		u := stored(3, true)
		f.Seed(u)
		apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
		f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), uuid.Nil, apptest.T0).Return(n, nil)
		if n > 0 {
			f.Repos.Published(apptest.Events(u.ID(), webhook.SessionRevoked))
		}
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminSessionsRevoked, u.ID(), nil))
		if got, err := f.h.RevokeSessions(context.Background(), actor, u.ID()); err != nil || got != n {
			t.Fatalf("RevokeSessions = %d, %v; want %d", got, err, n)
		}
	}
}

func TestUpdateRefusesTurningMFAOn(t *testing.T) {
	f := newUsers(t)
	yes := true
	if _, err := f.h.Update(context.Background(), actor, apptest.ID(1), admin.Patch{MFAEnabled: &yes}); !errors.Is(err, domain.Validation()) {
		t.Fatalf("Update(mfa_enabled: true) = %v, want validation_failed", err)
	}
}

// Turning MFA off deletes the factor in the change's transaction, audits
// mfa_disabled with the actor beside the update, and mails the owner; the
// view then shows it off. With MFA off already only the update is audited.
func TestUpdateTurnsMFAOff(t *testing.T) {
	for _, wasOn := range []bool{true, false} {
		f := newUsers(t)
		f.sessions.EXPECT().CountActive(gomock.Any(), gomock.Any(), apptest.T0).Return(map[uuid.UUID]int{}, nil)
		f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil)
		u := stored(8, true)
		f.Seed(u)
		apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
		calls := []any{f.Repos.MFA.EXPECT().DeleteTOTP(gomock.Any(), u.ID()).Return(wasOn, nil)}
		if wasOn {
			calls = append(calls,
				apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
					return m.Kind == app.MailMFADisabled && m.To == u.Email().String() && m.UserID == u.ID() && m.Data["by"] == "operator"
				}),
				f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.MFADisabled, u.ID(), nil)),
			)
		}
		if wasOn {
			f.Repos.Published(apptest.Events(u.ID(), webhook.UserMFADisabled))
		}
		calls = append(calls,
			f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil),
			f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUserUpdated, u.ID(), func(e audit.Event) {
				if e.Detail["mfa_enabled"] != "false" || (e.Detail["mfa_disabled"] == "true") != wasOn {
					t.Errorf("detail %v", e.Detail)
				}
			})),
			f.Factors.EXPECT().EnabledAmong(gomock.Any(), []uuid.UUID{u.ID()}).Return(map[uuid.UUID]bool{}, nil),
		)
		gomock.InOrder(calls...)
		// The second-factor counters (window and lock) are cleared, so a
		// new enrollment is not refused by the old factor's lock.
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
		no := false
		v, err := f.h.Update(context.Background(), actor, u.ID(), admin.Patch{MFAEnabled: &no})
		if err != nil || v.MFAEnabled {
			t.Fatalf("Update(mfa_enabled: false) = %+v, %v", v, err)
		}
	}
}

func TestViewsShowMFA(t *testing.T) {
	f := newUsers(t)
	on, off := stored(1, true), stored(2, true)
	f.sessions.EXPECT().CountActive(gomock.Any(), gomock.Any(), apptest.T0).Return(map[uuid.UUID]int{}, nil)
	f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil).Times(2)
	f.Factors.EXPECT().EnabledAmong(gomock.Any(), []uuid.UUID{on.ID(), off.ID()}).Return(map[uuid.UUID]bool{on.ID(): true}, nil)
	f.Users.EXPECT().List(gomock.Any(), gomock.Any()).Return([]*user.User{on, off}, nil)
	views, _, err := f.h.List(context.Background(), admin.ListInput{})
	if err != nil || len(views) != 2 || !views[0].MFAEnabled || views[1].MFAEnabled {
		t.Fatalf("List = %+v, %v", views, err)
	}
}

func TestDeleteKeepsTheAuditTrail(t *testing.T) {
	f := newUsers(t)
	u := stored(4, true)
	f.Seed(u)
	at := apptest.T0.Add(-time.Hour)
	f.SeedTOTP(mfa.RehydrateTOTP(u.ID(), []byte("sealed"), at, &at, nil))
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	gomock.InOrder(
		f.Repos.Users.EXPECT().Delete(gomock.Any(), u.ID()).DoAndReturn(func(context.Context, uuid.UUID) error {
			f.Repos.Store.ForgetTOTP(u.ID()) // it goes with the user
			return nil
		}),
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUserDeleted, u.ID(), nil)),
	)
	// The user as it was before: with its second factor.
	f.Repos.Published(apptest.Events(u.ID(), webhook.UserDeleted).MFA())
	if err := f.h.Delete(context.Background(), actor, u.ID()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Repos.Store.Locked(), []uuid.UUID{u.ID()}) {
		t.Fatalf("users read for change %v, want the deleted one", f.Repos.Store.Locked())
	}
	if err := f.h.Delete(context.Background(), actor, apptest.ID(5)); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("Delete of an unknown user = %v", err)
	}
}

func TestUnlockClearsTheLockAndEveryPairCount(t *testing.T) {
	f := newUsers(t)
	u := stored(6, true)
	f.Seed(u)
	var prefix string
	f.RL.EXPECT().ResetPrefix(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, p string) error {
		prefix = p
		return nil
	})
	var reset []string
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, k string) error {
		reset = append(reset, k)
		return nil
	}).Times(3)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUserUnlocked, u.ID(), nil))
	if err := f.h.Unlock(context.Background(), actor, u.ID()); err != nil {
		t.Fatal(err)
	}
	// The account's lock and both second-factor counters: the keys
	// BeginCode counts under.
	codeKeys := map[string]bool{}
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
		codeKeys[k] = true
		return true, 0, nil
	}).Times(2)
	if err := f.Guard.BeginCode(context.Background(), u.ID(), false); err != nil {
		t.Fatal(err)
	}
	if len(reset) != 3 || !codeKeys[reset[1]] || !codeKeys[reset[2]] {
		t.Fatalf("Unlock reset %v; want the account lock, then the code keys %v", reset, codeKeys)
	}
	// The prefix is the one BeginLogin's pair counters start with.
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
		if strings.HasPrefix(k, "login:pair") && !strings.HasPrefix(k, prefix) {
			t.Errorf("pair key %q does not start with the unlocked prefix %q", k, prefix)
		}
		return true, 0, nil
	}).Times(2)
	if err := f.Guard.BeginLogin(context.Background(), u.Email(), "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
}

func newKeys(t *testing.T) (*admin.Keys, *mock.MockAdminKeyStore, *mock.MockTxManager, *apptest.Repos) {
	ctrl := gomock.NewController(t)
	store, tx, repos := mock.NewMockAdminKeyStore(ctrl), mock.NewMockTxManager(ctrl), apptest.NewRepos(ctrl)
	return admin.NewKeys(store, tx, apptest.NewClock(apptest.T0), apptest.NewRand("keys")), store, tx, repos
}

func TestKeysStoreOnlyTheHash(t *testing.T) {
	h, store, tx, repos := newKeys(t)
	apptest.ExpectWithin(tx, repos.App(), 1)
	var saved app.AdminKey
	repos.AdminKeys.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, k app.AdminKey) error {
		saved = k
		return nil
	})
	apptest.ExpectAudit(t, repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.AdminKeyCreated && e.Detail["key"] == "ci" && e.Detail["actor"] == "cli"
	})
	key, err := h.Create(context.Background(), admin.CLI(), "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.Reveal(), "gha_") || len(key.Reveal()) != 4+43 || saved.Hash != token.HashOf(key) || saved.Name != "ci" {
		t.Fatalf("key %d chars, saved %+v", len(key.Reveal()), saved)
	}

	store.EXPECT().ByHash(gomock.Any(), saved.Hash).Return(saved, nil)
	if name, err := h.Authenticate(context.Background(), key.Reveal()); err != nil || name != "ci" {
		t.Fatalf("Authenticate = %q, %v", name, err)
	}
	revoked := saved
	at := apptest.T0
	revoked.RevokedAt = &at
	store.EXPECT().ByHash(gomock.Any(), saved.Hash).Return(revoked, nil)
	if _, err := h.Authenticate(context.Background(), key.Reveal()); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
	store.EXPECT().ByHash(gomock.Any(), gomock.Any()).Return(app.AdminKey{}, app.ErrAdminKeyNotFound)
	if _, err := h.Authenticate(context.Background(), "gha_"+strings.Repeat("A", 43)); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("unknown key: %v", err)
	}
	// Malformed keys are refused without a lookup (the strict mock).
	for _, k := range []string{"", "gha_", key.Reveal()[4:], "ghb_" + key.Reveal()[4:], key.Reveal() + "A"} {
		if _, err := h.Authenticate(context.Background(), k); !errors.Is(err, domain.ErrUnauthorized) {
			t.Errorf("Authenticate(%q) = %v", k, err)
		}
	}
}

func TestKeyNamesAreChecked(t *testing.T) {
	h, _, _, _ := newKeys(t)
	for _, n := range []string{"", "-x", "has space", strings.Repeat("a", 65), "tab\t"} {
		if _, err := h.Create(context.Background(), admin.CLI(), n); !errors.Is(err, domain.Validation()) {
			t.Errorf("Create(%q) = %v", n, err)
		}
	}
}

func TestAuditQueryValidatesAndPages(t *testing.T) {
	ctrl := gomock.NewController(t)
	trail := mock.NewMockAuditTrail(ctrl)
	h := admin.NewAudit(trail)
	for _, in := range []admin.AuditInput{{Limit: ptr(500)}, {Limit: ptr(0)}, {Type: "no_such_event"}, {Cursor: "%%%"}} {
		if _, _, err := h.Query(context.Background(), in); !errors.Is(err, domain.ErrInvalidRequest) {
			t.Errorf("Query(%+v) = %v", in, err)
		}
	}
	recs := []audit.Record{{Seq: 9}, {Seq: 7}, {Seq: 4}}
	trail.EXPECT().Query(gomock.Any(), admin.AuditQuery{UserID: apptest.ID(1), Type: audit.LoginFailed, Limit: 3}).Return(recs, nil)
	got, next, err := h.Query(context.Background(), admin.AuditInput{UserID: apptest.ID(1), Type: "login_failed", Limit: ptr(2)})
	if err != nil || len(got) != 2 || next == "" {
		t.Fatalf("Query = %d, %q, %v", len(got), next, err)
	}
	trail.EXPECT().Query(gomock.Any(), admin.AuditQuery{BeforeSeq: 7, Limit: admin.DefaultLimit + 1}).Return(nil, nil)
	if _, next, err := h.Query(context.Background(), admin.AuditInput{Cursor: next}); err != nil || next != "" {
		t.Fatalf("second page: %q, %v", next, err)
	}
}

func ptr[T any](v T) *T { return &v }

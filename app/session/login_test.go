package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const (
	refreshTTL = 720 * time.Hour
	idle       = 168 * time.Hour
	accessTTL  = 15 * time.Minute
	password   = "correct horse battery staple"
	dummyHash  = "$argon2id$dummy"
	storedHash = "$argon2id$stored"
)

var meta = app.RequestMeta{IP: "203.0.113.5", UserAgent: "test-agent"}

type loginFixture struct {
	h *appsession.Login
	*apptest.Ports
	tokens *mock.MockTokenIssuer
	obs    *apptest.Observer
	ids    *apptest.IDs

	// wantResults is what the observer must have heard when the test
	// ends.
	wantResults []app.LoginOutcome

	t          *testing.T
	pairKey    string // key of BeginLogin's pair Hit
	accountKey string // key of BeginLogin's account Hit
}

func newLogin(t *testing.T, requireVerified bool) *loginFixture {
	p := apptest.NewPorts(t)
	f := &loginFixture{Ports: p, tokens: mock.NewMockTokenIssuer(p.Ctrl), obs: &apptest.Observer{}, ids: &apptest.IDs{}, t: t}
	f.h = appsession.NewLogin(appsession.LoginDeps{
		Users:           f.Users,
		Factors:         f.Factors,
		Tx:              f.Tx,
		Hasher:          f.Hasher,
		Tokens:          f.tokens,
		Guard:           f.Guard,
		Audit:           f.Audit,
		Clock:           apptest.NewClock(apptest.T0),
		IDs:             f.ids,
		Random:          apptest.NewRand(t.Name()),
		TTL:             appsession.RefreshTTL(refreshTTL),
		RequireVerified: app.RequireVerifiedEmail(requireVerified),
		Observer:        f.obs,
	})
	f.Hasher.EXPECT().DummyHash().Return(dummyHash).AnyTimes()
	f.obs.HeardAtEnd(t, func() []string { return apptest.LoginResults(f.wantResults...) })
	return f
}

// expectBegin expects BeginLogin's two counters, pair then account, and
// lets them through; it records their keys.
func (f *loginFixture) expectBegin() {
	gomock.InOrder(
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
			f.pairKey = k
			return true, 0, nil
		}),
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 100, gomock.Any()).DoAndReturn(func(_ context.Context, k string, _ int, w time.Duration) (bool, time.Duration, error) {
			if w < 10*365*24*time.Hour {
				f.t.Errorf("account window %v", w)
			}
			f.accountKey = k
			return true, 0, nil
		}),
	)
}

// expectFailureCounted expects LoginFailed to read the account counter
// BeginLogin hit, answering locked.
func (f *loginFixture) expectFailureCounted(locked bool) *gomock.Call {
	return f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), 100).DoAndReturn(func(_ context.Context, k string, _ int) (bool, time.Duration, error) {
		if k == "" || k != f.accountKey {
			f.t.Errorf("Blocked key %q, want the account key %q", k, f.accountKey)
		}
		return locked, 0, nil
	})
}

func (f *loginFixture) expectAudit(t *testing.T, typ audit.Type, uid func() any) *gomock.Call {
	return f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != typ || e.IP != meta.IP || e.UserAgent != meta.UserAgent || !e.At.Equal(apptest.T0) {
			t.Errorf("audit %+v, want %s", e, typ)
		}
		if want := uid(); want != nil && e.UserID != want {
			t.Errorf("audit user %v, want %v", e.UserID, want)
		}
		return errors.New("audit down: must not change the answer")
	})
}

func loginUser(verified, active bool) *user.User {
	return loginUserWithHash(verified, active, storedHash)
}

func loginUserWithHash(verified, active bool, hash string) *user.User {
	var vAt *time.Time
	if verified {
		v := apptest.T0.Add(-time.Hour)
		vAt = &v
	}
	return user.Rehydrate(apptest.ID(100), user.RehydrateEmail("owner@example.com"), hash, active, verified,
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-48*time.Hour), vAt, nil)
}

// verifyOnce expects exactly one password check, after BeginLogin counted
// it.
func verifyOnce(t *testing.T, f *loginFixture, encoded string, ok, rehash bool) {
	f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), encoded).Times(1).DoAndReturn(func(_ context.Context, pw user.Password, _ string) (bool, bool, error) {
		if pw.Reveal() != password && pw.Reveal() != "wrong password here" {
			t.Errorf("verified %q", pw.Reveal())
		}
		if f.pairKey == "" || f.accountKey == "" {
			t.Errorf("password checked before BeginLogin counted it")
		}
		return ok, rehash, nil
	})
}

// expectPassword seeds u, expects the attempt counted and u's stored hash
// checked once (ok, rehash), in that order.
func (f *loginFixture) expectPassword(t *testing.T, u *user.User, ok, rehash bool) {
	f.Seed(u)
	f.expectBegin()
	verifyOnce(t, f, storedHash, ok, rehash)
}

func in(email, pw string) appsession.LoginInput {
	return appsession.LoginInput{Email: email, Password: pw, Meta: meta}
}

func TestLoginUnknownEmailCostsOneDummyVerify(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials}
	f.expectBegin()
	f.Users.EXPECT().ForLogin(gomock.Any(), apptest.Email("ghost@example.com")).Return(nil, false, user.ErrNotFound)
	verifyOnce(t, f, dummyHash, true, false) // even a dummy "match" must not log in
	gomock.InOrder(
		f.expectFailureCounted(false),
		apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
			return e.Type == audit.LoginFailed && e.UserID == uuid.Nil && e.Detail["email"] == "ghost@example.com"
		}),
	)
	pair, err := f.h.Handle(context.Background(), in(" Ghost@Example.com", password))
	if err != domain.ErrInvalidCredentials || pair != nil {
		t.Fatalf("Handle = %v, %v; want exactly ErrInvalidCredentials", pair, err)
	}
}

func TestLoginWrongPasswordSameAnswer(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials}
	u := loginUser(true, true)
	f.expectPassword(t, u, false, false)
	gomock.InOrder(
		f.expectFailureCounted(false),
		f.expectAudit(t, audit.LoginFailed, func() any { return u.ID() }),
	)
	// Strict mocks: no Reset (the failure stays counted), no transaction.
	_, err := f.h.Handle(context.Background(), in("owner@example.com", "wrong password here"))
	if err != domain.ErrInvalidCredentials {
		t.Fatalf("err = %v; want exactly ErrInvalidCredentials (same value as unknown email)", err)
	}
}

func TestLoginFailureThatLocks(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials} // this attempt was checked: the next ones are locked
	u := loginUser(true, true)
	f.expectPassword(t, u, false, false)
	gomock.InOrder(
		f.expectFailureCounted(true),
		f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.LoginFailed {
				t.Errorf("first audit %s", e.Type)
			}
			return nil
		}),
		f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.AccountLocked || e.UserID != u.ID() {
				t.Errorf("second audit %+v", e)
			}
			return nil
		}),
	)
	if _, err := f.h.Handle(context.Background(), in("owner@example.com", "wrong password here")); err != domain.ErrInvalidCredentials {
		t.Fatalf("err = %v", err)
	}
}

func TestLoginFailureCheckUnavailable(t *testing.T) {
	f := newLogin(t, true)
	f.expectPassword(t, loginUser(true, true), false, false)
	f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), 100).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
	_, err := f.h.Handle(context.Background(), in("owner@example.com", "wrong password here"))
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoginRightPasswordButRefused(t *testing.T) {
	for _, c := range []struct {
		name            string
		u               *user.User
		requireVerified bool
		want            error
	}{
		{"disabled", loginUser(true, false), true, domain.ErrAccountDisabled},
		{"disabled and unverified", loginUser(false, false), false, domain.ErrAccountDisabled},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newLogin(t, c.requireVerified)
			f.wantResults = []app.LoginOutcome{app.LoginDisabled}
			f.expectPassword(t, c.u, true, false)
			// No counter reset, no session, no tokens.
			_, err := f.h.Handle(context.Background(), in("owner@example.com", password))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindForbidden {
				t.Fatalf("kind %v", de)
			}
		})
	}
}

// With verification required, an address not verified yet has no usable
// password: whoever registered it, and whatever password is typed, login
// verifies the dummy hash once (a "match" changes nothing), counts the
// failure like a wrong password and answers exactly like an unknown
// address, so login tells nothing about pending registrations.
func TestLoginUnverifiedHasNoUsablePassword(t *testing.T) {
	for _, c := range []struct {
		name   string
		u      *user.User
		locked bool
	}{
		{"right password", loginUser(false, true), false},
		{"disabled too", loginUser(false, false), false},
		{"failure that locks", loginUser(false, true), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newLogin(t, true)
			f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials} // the metrics tell no more than the answer
			f.Seed(c.u)
			f.expectBegin()
			verifyOnce(t, f, dummyHash, true, false) // never the stored hash
			calls := []any{
				f.expectFailureCounted(c.locked),
				f.expectAudit(t, audit.LoginFailed, func() any { return c.u.ID() }),
			}
			if c.locked {
				calls = append(calls, f.expectAudit(t, audit.AccountLocked, func() any { return c.u.ID() }))
			}
			gomock.InOrder(calls...)
			// Strict mocks: no Reset (the failure stays counted), no
			// rehash, no transaction, no session.
			pair, err := f.h.Handle(context.Background(), in("owner@example.com", password))
			if err != domain.ErrInvalidCredentials || pair != nil {
				t.Fatalf("Handle = %v, %v; want exactly ErrInvalidCredentials (same value as unknown email)", pair, err)
			}
		})
	}
}

func TestLoginThrottledNeverHashes(t *testing.T) {
	for _, c := range []struct {
		name          string
		accountLocked bool
		retry         time.Duration
	}{{"pair over the limit", false, 5 * time.Minute}, {"account locked", true, time.Hour}} {
		t.Run(c.name, func(t *testing.T) {
			f := newLogin(t, true)
			f.wantResults = []app.LoginOutcome{app.LoginRateLimited}
			if c.accountLocked {
				f.wantResults = []app.LoginOutcome{app.LoginLocked}
				gomock.InOrder(
					f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(true, time.Duration(0), nil),
					f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 100, gomock.Any()).Return(false, time.Duration(0), nil),
				)
			} else {
				f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(false, 5*time.Minute, nil)
			}
			f.expectAudit(t, audit.LoginThrottled, func() any { return uuid.Nil })
			// Strict mocks: no ByEmail, no Verify, no Blocked, no Reset.
			_, err := f.h.Handle(context.Background(), in("owner@example.com", password))
			var de *domain.Error
			if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.Kind != domain.KindRateLimited || de.RetryAfter != c.retry {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

// started is what the success transaction stored.
type started struct {
	s  *session.Session
	rt app.RefreshToken
}

// loginRecorded checks that the locked row is saved with the login's
// time (and the stored hash unchanged: no rehash).
func loginRecorded(t *testing.T) func(*user.User) {
	return func(uu *user.User) {
		if uu.LastLoginAt() == nil || !uu.LastLoginAt().Equal(apptest.T0) || uu.PasswordHash() != storedHash {
			t.Errorf("saved with last login %v, hash %q", uu.LastLoginAt(), uu.PasswordHash())
		}
	}
}

// expectStart expects the success transaction to lock u's row, where it
// finds fresh, and then, after the calls in before (in order), to store
// at once (Sessions.Start) fresh, checked by saved, the session, its
// first credential and the audit event; st, when not nil, gets what it
// stored before saved runs.
func (f *loginFixture) expectStart(t *testing.T, u, fresh *user.User, saved func(*user.User), st *app.SessionStart, before ...any) *apptest.TxResults {
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID(), fresh)
	gomock.InOrder(append(before,
		f.Repos.Sessions.EXPECT().Start(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, got app.SessionStart) error {
			if got.User != fresh {
				t.Errorf("Start saves %+v, not the row read under the lock", got.User)
			}
			if st != nil {
				*st = got
			}
			saved(got.User)
			e, s := got.Event, got.Session
			if m := apptest.Events(u.ID(), webhook.SessionCreated).Session(s.ID()); !m.Matches(got.Events) {
				t.Errorf("events %+v, want %v", got.Events, m)
			}
			if e.Type != audit.LoginSucceeded || e.UserID != u.ID() || e.Detail["session_id"] != s.ID().String() || e.IP != meta.IP || e.UserAgent != meta.UserAgent || !e.At.Equal(apptest.T0) {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
	)...)
	return res
}

// expectSessionStart is expectStart for an API client: the access token
// signed first, then the session with its refresh token stored.
func (f *loginFixture) expectSessionStart(t *testing.T, u, fresh *user.User, saved func(*user.User)) (*started, *apptest.TxResults) {
	st := &started{}
	var claimed uuid.UUID
	var stored app.SessionStart
	res := f.expectStart(t, u, fresh, func(uu *user.User) {
		saved(uu)
		if stored.RefreshToken == nil || stored.BrowserSecret != (token.Hash{}) {
			t.Errorf("stored refresh token %v, browser secret %x", stored.RefreshToken, stored.BrowserSecret)
			return
		}
		st.s, st.rt = stored.Session, *stored.RefreshToken
		if claimed != st.s.ID() {
			t.Errorf("access token of session %s, stored %s", claimed, st.s.ID())
		}
	}, &stored,
		f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
			if c.Subject != u.ID() || c.Email != u.Email().String() || c.EmailVerified != u.Verified() || !slices.Equal(c.AMR, []string{"pwd"}) {
				t.Errorf("claims %+v", c)
			}
			claimed = c.SessionID
			c.ID, c.IssuedAt, c.ExpiresAt = "jti-1", apptest.T0, apptest.T0.Add(accessTTL)
			return "signed.jwt", c, nil
		}),
	)
	return st, res
}

// expectCounterReset expects LoginSucceeded to reset the pair key, then
// the account key, both as BeginLogin counted them (the account has no
// second factor).
func (f *loginFixture) expectCounterReset(t *testing.T) {
	var reset []string
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string) error {
		reset = append(reset, k)
		want := f.pairKey
		if len(reset) == 2 {
			want = f.accountKey
		}
		if k == "" || k != want {
			t.Errorf("Reset #%d key %q, want %q (pair %q, account %q)", len(reset), k, want, f.pairKey, f.accountKey)
		}
		return nil
	})
}

func checkPair(t *testing.T, pair *appsession.TokenPair, st *started, u *user.User) {
	t.Helper()
	if pair == nil {
		t.Fatal("nil pair")
	}
	if pair.AccessToken != "signed.jwt" || pair.ExpiresIn != accessTTL || pair.SessionID != st.s.ID() || pair.User.ID() != u.ID() {
		t.Fatalf("pair %+v", pair)
	}
	if token.HashOf(pair.RefreshToken) != st.rt.Hash || st.rt.SessionID != st.s.ID() || !st.rt.CreatedAt.Equal(apptest.T0) || st.rt.UsedAt != nil {
		t.Fatalf("stored refresh token %+v does not match the returned secret", st.rt)
	}
	if len(pair.RefreshToken.Reveal()) != token.EncodedLen {
		t.Fatalf("refresh token length %d", len(pair.RefreshToken.Reveal()))
	}
}

func checkCommitted(t *testing.T, res *apptest.TxResults) {
	t.Helper()
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("transaction results %v, want one commit", errs)
	}
}

func TestLoginSuccess(t *testing.T) {
	for _, c := range []struct {
		name            string
		verified        bool
		requireVerified bool
	}{{"verified", true, true}, {"unverified allowed when not required", false, false}} {
		t.Run(c.name, func(t *testing.T) {
			f := newLogin(t, c.requireVerified)
			f.wantResults = []app.LoginOutcome{app.LoginSuccess}
			u := loginUser(c.verified, true)
			f.expectPassword(t, u, true, false)
			f.expectCounterReset(t)
			// No rehash: strict mocks refuse Hash and Users.Update.
			fresh := loginUser(c.verified, true)
			st, res := f.expectSessionStart(t, u, fresh, loginRecorded(t))
			pair, err := f.h.Handle(context.Background(), in("Owner@Example.com", password))
			if err != nil {
				t.Fatal(err)
			}
			checkPair(t, pair.TokenPair, st, u)
			checkCommitted(t, res)
			s := st.s
			if s.UserID() != u.ID() || s.IP() != meta.IP || s.UserAgent() != meta.UserAgent ||
				!s.CreatedAt().Equal(apptest.T0) || !s.ExpiresAt().Equal(apptest.T0.Add(refreshTTL)) || s.RevokedAt() != nil {
				t.Fatalf("session %+v", s)
			}
		})
	}
}

func TestLoginRehash(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	u := loginUser(true, true)
	f.expectPassword(t, u, true, true)
	f.expectCounterReset(t)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, pw user.Password) (string, error) {
		if pw.Reveal() != password {
			t.Errorf("rehashed %q", pw.Reveal())
		}
		return "$argon2id$upgraded", nil
	})
	fresh := loginUser(true, true)
	st, res := f.expectSessionStart(t, u, fresh, func(uu *user.User) {
		if uu.PasswordHash() != "$argon2id$upgraded" || !uu.UpdatedAt().Equal(apptest.T0) || uu.LastLoginAt() == nil {
			t.Errorf("saved with hash %q", uu.PasswordHash())
		}
	})
	pair, err := f.h.Handle(context.Background(), in("owner@example.com", password))
	if err != nil {
		t.Fatal(err)
	}
	checkPair(t, pair.TokenPair, st, u)
	checkCommitted(t, res)
}

// A password reset or change that committed between the check and the
// transaction has revoked every session; the login must not outlive it.
func TestLoginRefusedWhenLockedRowChanged(t *testing.T) {
	for _, c := range []struct {
		name   string
		fresh  *user.User
		rehash bool
		want   error
		result app.LoginOutcome
	}{
		{"hash changed meanwhile", loginUserWithHash(true, true, "$argon2id$changed-meanwhile"), false, domain.ErrInvalidCredentials, app.LoginInvalidCredentials},
		{"hash changed meanwhile, rehash pending", loginUserWithHash(true, true, "$argon2id$changed-meanwhile"), true, domain.ErrInvalidCredentials, app.LoginInvalidCredentials},
		{"disabled meanwhile", loginUser(true, false), false, domain.ErrAccountDisabled, app.LoginDisabled},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newLogin(t, true)
			f.wantResults = []app.LoginOutcome{c.result}
			u := loginUser(true, true)
			f.expectPassword(t, u, true, c.rehash)
			f.expectCounterReset(t)
			if c.rehash {
				f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$upgraded", nil)
			}
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID(), c.fresh)
			// Strict mocks: no Users.Update, no session, no refresh token,
			// no access token, no audit.
			pair, err := f.h.Handle(context.Background(), in("owner@example.com", password))
			if err != c.want || pair != nil {
				t.Fatalf("Handle = %v, %v; want exactly %v", pair, err, c.want)
			}
			if errs := res.Errs(); len(errs) != 1 || errs[0] != c.want {
				t.Fatalf("transaction results %v: it must roll back", errs)
			}
			if f.ids.Count() != 0 {
				t.Fatalf("%d ids drawn: a session was being built", f.ids.Count())
			}
		})
	}
}

// An infrastructure failure is no login result: the observer hears
// nothing (the fixture checks).
func TestLoginPropagatesInfrastructureFailures(t *testing.T) {
	t.Run("hasher overloaded", func(t *testing.T) {
		f := newLogin(t, true)
		f.Seed(loginUser(true, true))
		f.expectBegin()
		f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, false, domain.ErrOverloaded)
		// A busy hasher is not a failed login: no lock check, no audit.
		_, err := f.h.Handle(context.Background(), in("owner@example.com", password))
		if !errors.Is(err, domain.ErrOverloaded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("user repository unavailable", func(t *testing.T) {
		f := newLogin(t, true)
		f.expectBegin()
		f.Users.EXPECT().ForLogin(gomock.Any(), gomock.Any()).Return(nil, false, domain.Unavailable(errors.New("conn refused")))
		_, err := f.h.Handle(context.Background(), in("owner@example.com", password))
		if !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("err = %v; a database outage must not become invalid_credentials", err)
		}
	})
	t.Run("rate limiter unavailable", func(t *testing.T) {
		f := newLogin(t, true)
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
		// Not throttled: no LoginThrottled audit, and no password check.
		_, err := f.h.Handle(context.Background(), in("owner@example.com", password))
		if !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("locking the user row fails", func(t *testing.T) {
		f := newLogin(t, true)
		u := loginUser(true, true)
		f.expectBegin()
		f.Users.EXPECT().ForLogin(gomock.Any(), u.Email()).Return(u, false, nil) // not seeded: the locked read fails
		verifyOnce(t, f, storedHash, true, false)
		f.expectCounterReset(t)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), u.ID()).Return(nil, domain.Unavailable(errors.New("x")))
		pair, err := f.h.Handle(context.Background(), in("owner@example.com", password))
		if !errors.Is(err, domain.ErrUnavailable) || pair != nil {
			t.Fatalf("Handle = %v, %v", pair, err)
		}
	})
	t.Run("session store fails", func(t *testing.T) {
		f := newLogin(t, true)
		u := loginUser(true, true)
		f.expectPassword(t, u, true, false)
		f.expectCounterReset(t)
		fresh := loginUser(true, true)
		apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID(), fresh)
		gomock.InOrder(
			f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).Return("signed.jwt", app.AccessClaims{}, nil),
			f.Repos.Sessions.EXPECT().Start(gomock.Any(), gomock.Any()).Return(domain.Unavailable(errors.New("x"))),
		)
		pair, err := f.h.Handle(context.Background(), in("owner@example.com", password))
		if !errors.Is(err, domain.ErrUnavailable) || pair != nil {
			t.Fatalf("Handle = %v, %v", pair, err)
		}
	})
}

func TestLoginInvalidEmailIsInvalidCredentials(t *testing.T) {
	f := newLogin(t, true)
	for _, e := range []string{"", "no-at-sign", "a@b", strings.Repeat("x", 300) + "@x.io"} {
		if _, err := f.h.Handle(context.Background(), in(e, password)); err != domain.ErrInvalidCredentials {
			t.Fatalf("Handle(%q) = %v", e, err)
		}
		f.wantResults = append(f.wantResults, app.LoginInvalidCredentials)
	}
}

func enabledFactor(u *user.User) *mfa.TOTP {
	at, step := apptest.T0.Add(-24*time.Hour), mfa.Step(apptest.T0)-100
	sealed, _ := apptest.Sealer{}.Seal(mfaPlain, "totp:"+u.ID().String())
	return mfa.RehydrateTOTP(u.ID(), sealed, at, &at, &step)
}

// With MFA on, a right password starts no session: it gives its attempt
// back on the password counters (never the second-factor ones), stores a
// login token bound to the user, the checked hash and the client, living
// five minutes, and answers its secret.
func TestLoginWithMFAAnswersTheSecondStep(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginMFARequired}
	u := loginUser(true, true)
	f.expectPassword(t, u, true, false)
	f.SeedTOTP(enabledFactor(u))
	var stored *mfa.LoginToken
	gomock.InOrder(
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, k string) error {
			if !strings.HasPrefix(k, "login:") {
				t.Errorf("a right password reset %q, not a password counter", k)
			}
			return nil
		}).Times(2),
		f.Factors.EXPECT().AddLoginToken(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, lt *mfa.LoginToken) error {
			stored = lt
			return nil
		}),
	)
	// Strict mocks: no transaction, no session, no access token.
	res, err := f.h.Handle(context.Background(), in("owner@example.com", password))
	if err != nil {
		t.Fatal(err)
	}
	if !res.MFARequired() || res.TokenPair != nil || len(res.MFAToken.Reveal()) != token.EncodedLen {
		t.Fatalf("result %+v: want only an mfa token", res)
	}
	if stored == nil || stored.Hash() != token.HashOf(res.MFAToken) || stored.UserID() != u.ID() ||
		!stored.ExpiresAt().Equal(apptest.T0.Add(5*time.Minute)) || stored.FailedAttempts() != 0 ||
		!stored.Binding().Equal(mfa.BindingOf(u.ID(), storedHash, meta.IP, meta.UserAgent)) {
		t.Fatalf("stored login token %+v", stored)
	}
}

// A pending enrollment is not MFA: the login goes on as usual.
func TestLoginWithPendingEnrollmentIsAPlainLogin(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	u := loginUser(true, true)
	f.expectPassword(t, u, true, false)
	f.SeedTOTP(mfa.RehydrateTOTP(u.ID(), []byte("sealed"), apptest.T0, nil, nil))
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
	fresh := loginUser(true, true)
	st, _ := f.expectSessionStart(t, u, fresh, loginRecorded(t))
	res, err := f.h.Handle(context.Background(), in("owner@example.com", password))
	if err != nil || res.MFARequired() {
		t.Fatalf("Handle = %+v, %v", res, err)
	}
	checkPair(t, res.TokenPair, st, u)
}

// The second step binds to the upgraded hash when the password step
// rehashed it.
func TestLoginWithMFARehashesFirst(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginMFARequired}
	u := loginUser(true, true)
	f.expectPassword(t, u, true, true)
	f.SeedTOTP(enabledFactor(u))
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
	f.Hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$upgraded", nil)
	fresh := loginUser(true, true)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID(), fresh)
	gomock.InOrder(
		f.Repos.Users.EXPECT().Update(gomock.Any(), fresh).DoAndReturn(func(_ context.Context, uu *user.User) error {
			if uu.PasswordHash() != "$argon2id$upgraded" || uu.LastLoginAt() != nil {
				t.Errorf("Update with hash %q, last login %v", uu.PasswordHash(), uu.LastLoginAt())
			}
			return nil
		}),
		f.Factors.EXPECT().AddLoginToken(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, lt *mfa.LoginToken) error {
			if !lt.Binding().Equal(mfa.BindingOf(u.ID(), "$argon2id$upgraded", meta.IP, meta.UserAgent)) {
				t.Error("the token is not bound to the upgraded hash")
			}
			return nil
		}),
	)
	if res, err := f.h.Handle(context.Background(), in("owner@example.com", password)); err != nil || !res.MFARequired() {
		t.Fatalf("Handle = %+v, %v", res, err)
	}
}

// loginMFAFixture is the second step's use case on mocks.
type loginMFAFixture struct {
	h *appsession.LoginMFA
	*apptest.Ports
	tokens *mock.MockTokenIssuer
	ids    *apptest.IDs
	u      *user.User
	secret token.Secret
	lt     *mfa.LoginToken

	wantResults []app.LoginOutcome
}

var mfaPlain = bytes.Repeat([]byte{9}, mfa.SecretBytes)

func mfaCode(d int64) string { return fmt.Sprintf("%06d", (mfa.Step(apptest.T0)+d)%1000000) }

func newLoginMFA(t *testing.T) *loginMFAFixture {
	p := apptest.NewPorts(t)
	f := &loginMFAFixture{Ports: p, tokens: mock.NewMockTokenIssuer(p.Ctrl), ids: &apptest.IDs{}, u: loginUser(true, true)}
	f.Seed(f.u)
	f.SeedTOTP(enabledFactor(f.u))
	obs := &apptest.Observer{}
	f.h = appsession.NewLoginMFA(appsession.LoginMFADeps{
		Users:    f.Users,
		Factors:  f.Factors,
		Tx:       f.Tx,
		Tokens:   f.tokens,
		Verifier: appmfa.NewVerifier(apptest.TOTP{Secret: mfaPlain}, apptest.Sealer{}),
		Attempts: appmfa.NewAttempts(f.Guard, f.Audit, f.Clock),
		Clock:    f.Clock,
		IDs:      f.ids,
		Random:   apptest.NewRand(t.Name()),
		TTL:      appsession.RefreshTTL(refreshTTL),
		Observer: obs,
	})
	var hash token.Hash
	f.secret, hash = apptest.Secret(t, "mfa-token")
	f.lt, _ = mfa.IssueLoginToken(hash, f.u.ID(), mfa.BindingOf(f.u.ID(), storedHash, meta.IP, meta.UserAgent), apptest.T0.Add(-time.Minute))
	obs.HeardAtEnd(t, func() []string { return apptest.LoginResults(f.wantResults...) })
	return f
}

func (f *loginMFAFixture) input(code string) appsession.LoginMFAInput {
	return appsession.LoginMFAInput{Token: f.secret.Reveal(), Code: code, Meta: meta}
}

// expectToken expects the token and its user read, and one attempt
// counted before any check: against the token, then the account's
// second-factor counters (window, then lock).
func (f *loginMFAFixture) expectToken() {
	gomock.InOrder(
		f.Factors.EXPECT().LoginToken(gomock.Any(), f.lt.Hash()).Return(f.lt, nil),
		f.Factors.EXPECT().FailLoginToken(gomock.Any(), f.lt.Hash(), 5).Return(true, nil),
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(true, time.Duration(0), nil),
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 100, gomock.Any()).Return(true, time.Duration(0), nil),
	)
}

// expectSession expects the token used and then, after the calls in
// before (in order), the access token (amr pwd+otp) signed and the sign-in
// stored at once (Sessions.Start): the user with its login time, the
// session with the second factor, its refresh token, its session.created
// (MFA on) and the audit event naming method. It returns where the
// session lands.
func (f *loginMFAFixture) expectSession(t *testing.T, method string, before ...any) **session.Session {
	var s *session.Session
	calls := append([]any{
		// This code is among the counted ones: a token at its fifth
		// attempt is still usable by a right code.
		f.Repos.MFA.EXPECT().UseLoginToken(gomock.Any(), f.lt.Hash(), apptest.T0, 6).Return(true, nil),
	}, before...)
	gomock.InOrder(append(calls,
		f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
			if !slices.Equal(c.AMR, []string{"pwd", "otp"}) || !c.AuthTime.Equal(apptest.T0) || c.Subject != f.u.ID() {
				t.Errorf("claims %+v", c)
			}
			c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(accessTTL)
			return "signed.jwt", c, nil
		}),
		f.expectStarted(t, method, &s, func(st app.SessionStart) {
			if st.RefreshToken == nil || st.RefreshToken.SessionID != st.Session.ID() {
				t.Errorf("refresh token %+v", st.RefreshToken)
			}
		}),
	)...)
	return &s
}

// expectStarted expects the sign-in of the code step stored at once
// (Sessions.Start), as expectSession describes, checked further by check;
// the session lands in s.
func (f *loginMFAFixture) expectStarted(t *testing.T, method string, s **session.Session, check func(app.SessionStart)) *gomock.Call {
	return f.Repos.Sessions.EXPECT().Start(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, st app.SessionStart) error {
		*s = st.Session
		if u := st.User; u.ID() != f.u.ID() || u.LastLoginAt() == nil || !u.LastLoginAt().Equal(apptest.T0) {
			t.Errorf("user %v, last login %v", u.ID(), u.LastLoginAt())
		}
		ss := st.Session
		if !slices.Equal(ss.AMR(), []string{"pwd", "otp"}) || !ss.AuthTime().Equal(apptest.T0) || ss.UserID() != f.u.ID() || ss.IP() != meta.IP {
			t.Errorf("session %+v", ss)
		}
		if m := apptest.Events(f.u.ID(), webhook.SessionCreated).Session(ss.ID()).MFA(); !m.Matches(st.Events) {
			t.Errorf("events %+v, want %v", st.Events, m)
		}
		if e := st.Event; e.Type != audit.LoginSucceeded || e.UserID != f.u.ID() || e.Detail["mfa"] != method || e.Detail["session_id"] != ss.ID().String() || !e.At.Equal(apptest.T0) {
			t.Errorf("audit %+v", e)
		}
		check(st)
		return nil
	})
}

func TestLoginMFAWithATOTPCode(t *testing.T) {
	f := newLoginMFA(t)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	f.expectToken()
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)-1).Return(true, nil)
	s := f.expectSession(t, "totp")
	// The code, not the password, ends the failures.
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
	pair, err := f.h.Handle(context.Background(), f.input(mfaCode(-1)))
	if err != nil || pair.AccessToken != "signed.jwt" || pair.SessionID != (*s).ID() {
		t.Fatalf("Handle = %+v, %v", pair, err)
	}
	checkCommitted(t, res)
}

func TestLoginMFAWithARecoveryCodeTellsHowManyRemain(t *testing.T) {
	codes, hashes, _ := mfa.NewRecoveryCodes(apptest.NewRand("codes"))
	f := newLoginMFA(t)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	f.expectToken()
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	f.Repos.MFA.EXPECT().UseRecoveryCode(gomock.Any(), f.u.ID(), hashes[4], apptest.T0).Return(true, nil)
	f.expectSession(t, "recovery_code",
		f.Repos.MFA.EXPECT().UnusedRecoveryCodes(gomock.Any(), f.u.ID()).Return(3, nil),
		apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
			return m.Kind == app.MailRecoveryCodeUsed && m.To == "owner@example.com" && m.Data["remaining"] == "3"
		}),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.MFARecoveryCodeUsed && e.Detail["remaining"] == "3"
		}),
	)
	f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
	if _, err := f.h.Handle(context.Background(), f.input(codes[4].Reveal())); err != nil {
		t.Fatal(err)
	}
}

// A wrong, replayed or raced code was counted against the token and the
// account's second-factor limits before it was checked; it is audited
// (and, the failure that locks, mfa_locked) and answers invalid_code.
func TestLoginMFAWrongCode(t *testing.T) {
	for _, c := range []struct {
		name    string
		code    string
		replay  bool
		lockout bool
	}{{"wrong", mfaCode(3), false, false}, {"replayed", mfaCode(0), true, false}, {"not a code", "hello", false, false}, {"the failure that locks", mfaCode(5), false, true}} {
		t.Run(c.name, func(t *testing.T) {
			f := newLoginMFA(t)
			f.wantResults = []app.LoginOutcome{app.LoginInvalidCode}
			f.expectToken()
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			var calls []any
			if c.replay {
				calls = append(calls, f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)).Return(false, nil))
			}
			calls = append(calls,
				f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), 100).Return(c.lockout, time.Duration(0), nil),
				apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
					return e.Type == audit.MFACodeFailed && e.UserID == f.u.ID() && e.Detail["during"] == "login"
				}),
			)
			if c.lockout {
				calls = append(calls, apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
					return e.Type == audit.MFALocked
				}))
			}
			gomock.InOrder(calls...)
			// Strict mocks: no session, no Reset.
			pair, err := f.h.Handle(context.Background(), f.input(c.code))
			if err != mfa.ErrInvalidCode || pair != nil {
				t.Fatalf("Handle = %v, %v; want exactly mfa.ErrInvalidCode", pair, err)
			}
			checkCommitted(t, res)
		})
	}
}

// An unusable token is refused before any code is checked or counted.
func TestLoginMFATokenRefusals(t *testing.T) {
	used := apptest.T0.Add(-time.Second)
	for _, c := range []struct {
		name string
		lt   func(f *loginMFAFixture) *mfa.LoginToken
		meta app.RequestMeta
	}{
		{"burned", func(f *loginMFAFixture) *mfa.LoginToken {
			return mfa.RehydrateLoginToken(f.lt.Hash(), f.u.ID(), f.lt.Binding(), f.lt.CreatedAt(), f.lt.ExpiresAt(), 5, nil)
		}, meta},
		{"used", func(f *loginMFAFixture) *mfa.LoginToken {
			return mfa.RehydrateLoginToken(f.lt.Hash(), f.u.ID(), f.lt.Binding(), f.lt.CreatedAt(), f.lt.ExpiresAt(), 0, &used)
		}, meta},
		{"expired", func(f *loginMFAFixture) *mfa.LoginToken {
			return mfa.RehydrateLoginToken(f.lt.Hash(), f.u.ID(), f.lt.Binding(), apptest.T0.Add(-10*time.Minute), apptest.T0, 0, nil)
		}, meta},
		{"another client", func(f *loginMFAFixture) *mfa.LoginToken { return f.lt }, app.RequestMeta{IP: "198.51.100.77", UserAgent: meta.UserAgent}},
		{"another browser", func(f *loginMFAFixture) *mfa.LoginToken { return f.lt }, app.RequestMeta{IP: meta.IP, UserAgent: "curl"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newLoginMFA(t)
			f.Factors.EXPECT().LoginToken(gomock.Any(), f.lt.Hash()).Return(c.lt(f), nil)
			_, err := f.h.Handle(context.Background(), appsession.LoginMFAInput{Token: f.secret.Reveal(), Code: mfaCode(0), Meta: c.meta})
			if err != mfa.ErrLoginTokenInvalid {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// Its attempts used up by concurrent codes since it was read: refused
	// before the code is checked or counted against the account.
	t.Run("attempts used up meanwhile", func(t *testing.T) {
		f := newLoginMFA(t)
		f.Factors.EXPECT().LoginToken(gomock.Any(), f.lt.Hash()).Return(f.lt, nil)
		f.Factors.EXPECT().FailLoginToken(gomock.Any(), f.lt.Hash(), 5).Return(false, nil)
		if _, err := f.h.Handle(context.Background(), f.input(mfaCode(0))); err != mfa.ErrLoginTokenInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("password changed since the token", func(t *testing.T) {
		f := newLoginMFA(t)
		f.Factors.EXPECT().LoginToken(gomock.Any(), f.lt.Hash()).Return(f.lt, nil)
		f.Seed(loginUserWithHash(true, true, "$argon2id$reset"))
		if _, err := f.h.Handle(context.Background(), f.input(mfaCode(0))); err != mfa.ErrLoginTokenInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown and malformed", func(t *testing.T) {
		f := newLoginMFA(t)
		f.Factors.EXPECT().LoginToken(gomock.Any(), gomock.Any()).Return(nil, mfa.ErrLoginTokenInvalid)
		for _, tok := range []string{f.secret.Reveal(), "short", ""} {
			if _, err := f.h.Handle(context.Background(), appsession.LoginMFAInput{Token: tok, Code: mfaCode(0), Meta: meta}); err != mfa.ErrLoginTokenInvalid {
				t.Fatalf("Handle(%q) = %v", tok, err)
			}
		}
	})
}

// The token used or burned between the check and the transaction: the
// transaction rolls back, so the code consumed in it stays unused.
func TestLoginMFATokenRacedRollsBack(t *testing.T) {
	f := newLoginMFA(t)
	f.expectToken()
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	gomock.InOrder(
		f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)).Return(true, nil),
		f.Repos.MFA.EXPECT().UseLoginToken(gomock.Any(), f.lt.Hash(), apptest.T0, 6).Return(false, nil),
	)
	if _, err := f.h.Handle(context.Background(), f.input(mfaCode(0))); err != mfa.ErrLoginTokenInvalid {
		t.Fatalf("err = %v", err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != mfa.ErrLoginTokenInvalid {
		t.Fatalf("transaction results %v: it must roll back", errs)
	}
}

func TestLoginMFARefusedUnderTheLock(t *testing.T) {
	for _, c := range []struct {
		name   string
		fresh  *user.User
		mfaOff bool
		want   error
		result []app.LoginOutcome
	}{
		{"password reset meanwhile", loginUserWithHash(true, true, "$argon2id$reset"), false, mfa.ErrLoginTokenInvalid, nil},
		{"disabled meanwhile", loginUser(true, false), false, domain.ErrAccountDisabled, []app.LoginOutcome{app.LoginDisabled}},
		{"MFA turned off meanwhile", loginUser(true, true), true, mfa.ErrLoginTokenInvalid, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newLoginMFA(t)
			f.wantResults = c.result
			f.expectToken()
			res := apptest.ExpectWithinAfter(f.Tx, f.Repos.App(), 1, func() {
				f.Seed(c.fresh)
				if c.mfaOff {
					f.Repos.Store.ForgetTOTP(f.u.ID())
				}
			})
			if _, err := f.h.Handle(context.Background(), f.input(mfaCode(0))); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if errs := res.Errs(); len(errs) != 1 || errs[0] == nil {
				t.Fatalf("transaction results %v: it must roll back", errs)
			}
		})
	}
}

// The account's used-up second-factor attempts refuse the code step
// before any code is checked: the window (every code, even the right
// one, until it ends), and the lock of TOTP codes.
func TestLoginMFAThrottled(t *testing.T) {
	for _, c := range []struct {
		name           string
		window, locked bool
		result         app.LoginOutcome
	}{
		{"window used up", false, false, app.LoginRateLimited},
		{"TOTP codes locked", true, true, app.LoginLocked},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newLoginMFA(t)
			f.wantResults = []app.LoginOutcome{c.result}
			calls := []any{
				f.Factors.EXPECT().LoginToken(gomock.Any(), f.lt.Hash()).Return(f.lt, nil),
				f.Factors.EXPECT().FailLoginToken(gomock.Any(), f.lt.Hash(), 5).Return(true, nil),
				f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(c.window, 9*time.Minute, nil),
			}
			if c.window {
				calls = append(calls, f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 100, gomock.Any()).Return(false, time.Duration(0), nil))
			}
			calls = append(calls, apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
				return e.Type == audit.LoginThrottled && e.Detail["during"] == "login"
			}))
			gomock.InOrder(calls...)
			_, err := f.h.Handle(context.Background(), f.input(mfaCode(0)))
			var de *domain.Error
			if !errors.Is(err, domain.ErrRateLimited) || errors.Is(err, limits.ErrLocked) != c.locked || !errors.As(err, &de) || de.RetryAfter <= 0 {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// An account made by an upstream sign-in has no password until a reset
// sets one: whatever is typed, login verifies the dummy hash once (a
// "match" changes nothing) and answers exactly as for a wrong password.
func TestLoginWithoutPasswordIsInvalidCredentials(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials}
	u := loginUserWithHash(true, true, "")
	f.Seed(u)
	f.expectBegin()
	verifyOnce(t, f, dummyHash, true, false)
	gomock.InOrder(
		f.expectFailureCounted(false),
		f.expectAudit(t, audit.LoginFailed, func() any { return u.ID() }),
	)
	pair, err := f.h.Handle(context.Background(), in("owner@example.com", password))
	if err != domain.ErrInvalidCredentials || pair != nil {
		t.Fatalf("Handle = %v, %v; want exactly ErrInvalidCredentials", pair, err)
	}
}

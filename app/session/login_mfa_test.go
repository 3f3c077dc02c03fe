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
	"go.uber.org/mock/gomock"
)

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
	st, _ := f.expectSessionStart(t, u, fresh, f.expectLoginRecorded(t, fresh))
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
	ctrl := gomock.NewController(t)
	f := &loginMFAFixture{
		Ports:  apptest.NewPorts(ctrl),
		tokens: mock.NewMockTokenIssuer(ctrl),
		ids:    &apptest.IDs{}, u: loginUser(true, true),
	}
	f.Seed(f.u)
	f.SeedTOTP(enabledFactor(f.u))
	clock := apptest.NewClock(apptest.T0)
	guard := limits.NewGuard(f.RL, limits.DefaultPolicy())
	obs := &apptest.Observer{}
	f.h = appsession.NewLoginMFA(appsession.LoginMFADeps{
		Users:    f.Users,
		Factors:  f.Factors,
		Tx:       f.Tx,
		Tokens:   f.tokens,
		Verifier: appmfa.NewVerifier(apptest.TOTP{Secret: mfaPlain}, apptest.Sealer{}),
		Attempts: appmfa.NewAttempts(guard, f.Audit, clock),
		Clock:    clock,
		IDs:      f.ids,
		Random:   apptest.NewRand(t.Name()),
		TTL:      appsession.RefreshTTL(refreshTTL),
		Observer: obs,
	})
	var hash token.Hash
	var err error
	f.secret, hash, err = token.NewSecret(apptest.NewRand("mfa-token"))
	if err != nil {
		t.Fatal(err)
	}
	f.lt, _ = mfa.IssueLoginToken(hash, f.u.ID(), mfa.BindingOf(f.u.ID(), storedHash, meta.IP, meta.UserAgent), apptest.T0.Add(-time.Minute))
	t.Cleanup(func() {
		if got, want := obs.Heard(), apptest.LoginResults(f.wantResults...); !slices.Equal(got, want) {
			t.Errorf("observed %q, want %q", got, want)
		}
	})
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

// expectSession expects the session (with the second factor), its tokens
// (amr pwd+otp) and returns where the session lands.
func (f *loginMFAFixture) expectSession(t *testing.T) (**session.Session, []any) {
	var s *session.Session
	return &s, []any{
		// This code is among the counted ones: a token at its fifth
		// attempt is still usable by a right code.
		f.Repos.MFA.EXPECT().UseLoginToken(gomock.Any(), f.lt.Hash(), apptest.T0, 6).Return(true, nil),
		f.Repos.Users.EXPECT().Update(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, uu *user.User) error {
			if uu.LastLoginAt() == nil || !uu.LastLoginAt().Equal(apptest.T0) {
				t.Errorf("last login %v", uu.LastLoginAt())
			}
			return nil
		}),
		f.Repos.Sessions.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, ss *session.Session) error {
			s = ss
			if !slices.Equal(ss.AMR(), []string{"pwd", "otp"}) || !ss.AuthTime().Equal(apptest.T0) || ss.UserID() != f.u.ID() || ss.IP() != meta.IP {
				t.Errorf("session %+v", ss)
			}
			return nil
		}),
		f.Repos.Sessions.EXPECT().AddRefreshToken(gomock.Any(), gomock.Any()).Return(nil),
		f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
			if !slices.Equal(c.AMR, []string{"pwd", "otp"}) || !c.AuthTime.Equal(apptest.T0) || c.Subject != f.u.ID() {
				t.Errorf("claims %+v", c)
			}
			c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(accessTTL)
			return "signed.jwt", c, nil
		}),
	}
}

func TestLoginMFAWithATOTPCode(t *testing.T) {
	f := newLoginMFA(t)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	f.expectToken()
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	s, sessionCalls := f.expectSession(t)
	calls := append([]any{
		f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)-1).Return(true, nil),
	}, sessionCalls...)
	calls = append(calls,
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.LoginSucceeded || e.Detail["mfa"] != "totp" || e.Detail["session_id"] != (*s).ID().String() {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2), // the code, not the password, ends the failures
	)
	gomock.InOrder(calls...)
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
	_, sessionCalls := f.expectSession(t)
	calls := append([]any{
		f.Repos.MFA.EXPECT().UseRecoveryCode(gomock.Any(), f.u.ID(), hashes[4], apptest.T0).Return(true, nil),
	}, sessionCalls...)
	calls = append(calls,
		f.Repos.MFA.EXPECT().UnusedRecoveryCodes(gomock.Any(), f.u.ID()).Return(3, nil),
		f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
			if m.Kind != app.MailRecoveryCodeUsed || m.To != "owner@example.com" || m.Data["remaining"] != "3" {
				t.Errorf("mail %+v", m)
			}
			return nil
		}),
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.MFARecoveryCodeUsed || e.Detail["remaining"] != "3" {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.LoginSucceeded || e.Detail["mfa"] != "recovery_code" {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2),
	)
	gomock.InOrder(calls...)
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
				f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
					if e.Type != audit.MFACodeFailed || e.UserID != f.u.ID() || e.Detail["during"] != "login" {
						t.Errorf("audit %+v", e)
					}
					return nil
				}),
			)
			if c.lockout {
				calls = append(calls, f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
					if e.Type != audit.MFALocked {
						t.Errorf("audit %+v", e)
					}
					return nil
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
			calls = append(calls, f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
				if e.Type != audit.LoginThrottled || e.Detail["during"] != "login" {
					t.Errorf("audit %+v", e)
				}
				return nil
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

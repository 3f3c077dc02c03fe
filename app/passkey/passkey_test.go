package passkey_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

var meta = app.RequestMeta{IP: "203.0.113.7", UserAgent: "test/1.0"}

// fixture is the passkey use cases over strict mocks: the store of users
// and factors is seeded, Passkeys (outside a transaction) and the
// transaction's repositories are mocks, as is the WebAuthn port.
type fixture struct {
	*apptest.Ports
	passkeys   *mock.MockPasskeyRepository
	ceremonies *mock.MockCeremonies
	tokens     *mock.MockTokenIssuer
	ids        *apptest.IDs
	u          *user.User
	// obs must hear the login results wantResults, no more, by the end.
	obs         *apptest.Observer
	wantResults []app.LoginOutcome
}

func newFixture(t *testing.T, withPassword bool) *fixture {
	p := apptest.NewPorts(t)
	hash := ""
	if withPassword {
		hash = "$argon2id$stored"
	}
	u := user.Rehydrate(uuid.New(), apptest.Email("ada@example.com"), hash, true, true, apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
	p.Seed(u)
	f := &fixture{Ports: p, passkeys: mock.NewMockPasskeyRepository(p.Ctrl), ceremonies: mock.NewMockCeremonies(p.Ctrl),
		tokens: mock.NewMockTokenIssuer(p.Ctrl), ids: &apptest.IDs{}, u: u, obs: &apptest.Observer{}}
	f.obs.HeardAtEnd(t, func() []string { return apptest.LoginResults(f.wantResults...) })
	return f
}

func (f *fixture) deps() apppasskey.Deps {
	return apppasskey.Deps{Users: f.Users, Passkeys: f.passkeys, Tx: f.Tx, Ceremonies: f.ceremonies, Clock: f.Clock, IDs: f.ids, StepUp: f.StepUp()}
}

func (f *fixture) login() *apppasskey.Login {
	return apppasskey.NewLogin(apppasskey.LoginDeps{Deps: f.deps(), Factors: f.Factors, Tokens: f.tokens, Audit: f.Audit, Observer: f.obs,
		Random: apptest.NewRand("passkey"), TTL: appsession.RefreshTTL(24 * time.Hour), RequireVerified: true})
}

// stored is a passkey of the fixture's user at counter count.
func (f *fixture) stored(count uint32) *passkey.Credential {
	return passkey.Rehydrate(uuid.New(), f.u.ID(), "Laptop", passkey.Registration{CredentialID: []byte("cred-1"), PublicKey: []byte("key"), SignCount: count},
		apptest.T0.Add(-time.Hour), nil)
}

// challenge is a stored challenge of purpose for userID, begun at begun.
func challenge(purpose passkey.Purpose, userID uuid.UUID, begun time.Time) *passkey.Challenge {
	return passkey.RehydrateChallenge(uuid.New(), userID, purpose, []byte(`{"challenge":"c"}`), begun, begun.Add(passkey.ChallengeTTL))
}

func TestRegisterBegin(t *testing.T) {
	f := newFixture(t, true)
	existing := []*passkey.Credential{f.stored(3)}
	f.passkeys.EXPECT().List(gomock.Any(), f.u.ID()).Return(existing, nil)
	f.ceremonies.EXPECT().BeginRegistration(apppasskey.Account{ID: f.u.ID(), Name: "ada@example.com"}, existing).
		Return(json.RawMessage(`{"publicKey":{}}`), []byte(`{"challenge":"c"}`), nil)
	f.passkeys.EXPECT().AddChallenge(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c *passkey.Challenge) error {
		if c.ID() != apptest.ID(1) || c.UserID() != f.u.ID() || c.Purpose() != passkey.PurposeRegister || string(c.State()) != `{"challenge":"c"}` ||
			!c.ExpiresAt().Equal(apptest.T0.Add(5*time.Minute)) {
			t.Errorf("challenge %s %s %s %s %v", c.ID(), c.UserID(), c.Purpose(), c.State(), c.ExpiresAt())
		}
		return nil
	})
	b, err := apppasskey.NewRegister(f.deps()).Begin(context.Background(), f.u.ID(), appmfa.Proof{}, meta)
	if err != nil || b.ChallengeID != apptest.ID(1) || string(b.Options) != `{"publicKey":{}}` {
		t.Fatalf("Begin = %+v, %v", b, err)
	}
}

// withTOTP turns TOTP on for the fixture's user.
func (f *fixture) withTOTP() {
	at, step := apptest.T0.Add(-time.Hour), int64(1)
	f.SeedTOTP(mfa.RehydrateTOTP(f.u.ID(), []byte("sealed secret, 21+ bytes"), at, &at, &step))
}

// sessionOf is a session of the fixture's user that proved amr at auth.
func (f *fixture) sessionOf(amr []string, auth time.Time) *session.Session {
	s := session.Rehydrate(uuid.New(), f.u.ID(), apptest.T0.Add(-2*time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "ua", "ip")
	s.RehydrateAuthentication(amr, auth)
	return s
}

// A passkey that verifies its user satisfies MFA and outlives a password
// reset: on an account with TOTP on, adding or deleting one needs the
// step-up of a password change. Without it nothing else runs (strict
// mocks): no challenge, no read of the passkeys.
func TestAddingAndDeletingAPasskeyNeedTheStepUpWithTOTPOn(t *testing.T) {
	recent := apptest.T0.Add(-5 * time.Minute)
	for name, mk := range map[string]func(f *fixture) appmfa.Proof{
		"no session":              func(*fixture) appmfa.Proof { return appmfa.Proof{} },
		"a password-only session": func(f *fixture) appmfa.Proof { return appmfa.Proof{Session: f.sessionOf([]string{"pwd"}, recent)} },
		"a passkey without user verification": func(f *fixture) appmfa.Proof {
			return appmfa.Proof{Session: f.sessionOf([]string{"hwk"}, recent)}
		},
		"a second factor long ago": func(f *fixture) appmfa.Proof {
			return appmfa.Proof{Session: f.sessionOf([]string{"pwd", "otp"}, apptest.T0.Add(-time.Hour))}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, true)
			f.withTOTP()
			if _, err := apppasskey.NewRegister(f.deps()).Begin(context.Background(), f.u.ID(), mk(f), meta); err != mfa.ErrStepUpRequired {
				t.Errorf("Begin: %v, want exactly mfa.ErrStepUpRequired", err)
			}
			if err := apppasskey.NewDelete(f.deps()).Handle(context.Background(), f.u.ID(), uuid.New(), mk(f), meta); err != mfa.ErrStepUpRequired {
				t.Errorf("Delete: %v, want exactly mfa.ErrStepUpRequired", err)
			}
		})
	}
	for name, amr := range map[string][]string{"an OTP": {"pwd", "otp"}, "a passkey with UV": {"hwk", "user"}} {
		t.Run("a session that proved "+name+" recently", func(t *testing.T) {
			f := newFixture(t, true)
			f.withTOTP()
			p := appmfa.Proof{Session: f.sessionOf(amr, recent)}
			f.passkeys.EXPECT().List(gomock.Any(), f.u.ID()).Return(nil, nil)
			f.ceremonies.EXPECT().BeginRegistration(gomock.Any(), gomock.Any()).Return(json.RawMessage(`{}`), []byte(`{}`), nil)
			f.passkeys.EXPECT().AddChallenge(gomock.Any(), gomock.Any()).Return(nil)
			if _, err := apppasskey.NewRegister(f.deps()).Begin(context.Background(), f.u.ID(), p, meta); err != nil {
				t.Fatalf("Begin: %v", err)
			}
			apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			f.Repos.Passkeys.EXPECT().List(gomock.Any(), f.u.ID()).Return(nil, nil)
			if err := apppasskey.NewDelete(f.deps()).Handle(context.Background(), f.u.ID(), uuid.New(), p, meta); !errors.Is(err, passkey.ErrNotFound) {
				t.Fatalf("Delete: %v, want the step-up passed and passkey.ErrNotFound", err)
			}
		})
	}
}

func TestRegisterFinishStoresTheNamedPasskey(t *testing.T) {
	for name, tc := range map[string]struct {
		given *string
		want  string
	}{
		"named":   {ptr(" Phone "), "Phone"},
		"default": {nil, "Passkey 2025-03-14"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, true)
			ch := challenge(passkey.PurposeRegister, f.u.ID(), apptest.T0.Add(-time.Minute))
			f.passkeys.EXPECT().TakeChallenge(gomock.Any(), ch.ID()).Return(ch, nil)
			reg := passkey.Registration{CredentialID: []byte("new"), PublicKey: []byte("pk"), SignCount: 0, Flags: passkey.Flags{UserVerified: true}}
			f.ceremonies.EXPECT().FinishRegistration(apppasskey.Account{ID: f.u.ID(), Name: "ada@example.com"}, ch.State(), []byte(`{"id":"x"}`)).Return(reg, nil)
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			f.Repos.Passkeys.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c *passkey.Credential) error {
				if c.UserID() != f.u.ID() || c.Name() != tc.want || string(c.CredentialID()) != "new" || !c.CreatedAt().Equal(apptest.T0) {
					t.Errorf("stored %s %q %q %v", c.UserID(), c.Name(), c.CredentialID(), c.CreatedAt())
				}
				return nil
			})
			apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
				return e.Type == audit.PasskeyAdded && e.UserID == f.u.ID() && e.Detail["passkey_id"] != "" && e.IP == meta.IP
			})
			c, err := apppasskey.NewRegister(f.deps()).Finish(context.Background(), apppasskey.FinishInput{
				UserID: f.u.ID(), ChallengeID: ch.ID().String(), Name: tc.given, Credential: json.RawMessage(`{"id":"x"}`), Meta: meta})
			if err != nil || c.Name() != tc.want || !slices.Equal(res.Errs(), []error{nil}) {
				t.Fatalf("Finish = %v, %v; transactions %v", c, err, res.Errs())
			}
		})
	}
}

func TestRegisterFinishRefusals(t *testing.T) {
	other := uuid.New()
	for name, tc := range map[string]struct {
		name    *string
		id      func(ch *passkey.Challenge) string
		ch      func(f *fixture) *passkey.Challenge
		verify  error // the ceremony's answer, when it is reached
		want    error
		takes   bool
		reaches bool
	}{
		"a bad name is refused before the challenge is used": {name: ptr("   "), want: domain.Validation()},
		"not a challenge id": {id: func(*passkey.Challenge) string { return "nope" }, want: passkey.ErrChallengeInvalid},
		"another user's challenge": {ch: func(*fixture) *passkey.Challenge {
			return challenge(passkey.PurposeRegister, other, apptest.T0)
		}, takes: true, want: passkey.ErrChallengeInvalid},
		"a sign-in's challenge": {ch: func(*fixture) *passkey.Challenge {
			return challenge(passkey.PurposeLogin, uuid.Nil, apptest.T0)
		}, takes: true, want: passkey.ErrChallengeInvalid},
		"an expired challenge": {ch: func(f *fixture) *passkey.Challenge {
			return challenge(passkey.PurposeRegister, f.u.ID(), apptest.T0.Add(-passkey.ChallengeTTL))
		}, takes: true, want: passkey.ErrChallengeInvalid},
		"an answer that does not verify": {takes: true, reaches: true, verify: passkey.ErrInvalidCredential, want: passkey.ErrInvalidCredential},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, true)
			ch := challenge(passkey.PurposeRegister, f.u.ID(), apptest.T0)
			if tc.ch != nil {
				ch = tc.ch(f)
			}
			id := ch.ID().String()
			if tc.id != nil {
				id = tc.id(ch)
			}
			if tc.takes {
				f.passkeys.EXPECT().TakeChallenge(gomock.Any(), ch.ID()).Return(ch, nil)
			}
			if tc.reaches {
				f.ceremonies.EXPECT().FinishRegistration(gomock.Any(), gomock.Any(), gomock.Any()).Return(passkey.Registration{}, tc.verify)
			}
			_, err := apppasskey.NewRegister(f.deps()).Finish(context.Background(), apppasskey.FinishInput{
				UserID: f.u.ID(), ChallengeID: id, Name: tc.name, Credential: json.RawMessage(`{}`), Meta: meta})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Finish: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDeleteKeepsTheLastWayToSignIn(t *testing.T) {
	for name, tc := range map[string]struct {
		password   bool
		others     int
		identities int
		want       error
	}{
		"no password, no other passkey":              {false, 0, 0, passkey.ErrLastWayToSignIn},
		"no password, another passkey":               {false, 1, 0, nil},
		"a password":                                 {true, 0, 0, nil},
		"no password, no other passkey, an identity": {false, 0, 1, nil},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.password)
			target := f.stored(1)
			all := []*passkey.Credential{target}
			for range tc.others {
				all = append(all, f.stored(1))
			}
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			f.Repos.Passkeys.EXPECT().List(gomock.Any(), f.u.ID()).Return(all, nil)
			var ids []*upstream.Identity
			for range tc.identities {
				i, _ := upstream.NewIdentity(uuid.New(), f.u.ID(), "example", "subject", "a@example.com", apptest.T0)
				ids = append(ids, i)
			}
			f.Repos.Upstream.EXPECT().Identities(gomock.Any(), f.u.ID()).Return(ids, nil)
			if tc.want == nil {
				f.Repos.Passkeys.EXPECT().Delete(gomock.Any(), f.u.ID(), target.ID()).Return(nil)
				apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
					return e.Type == audit.PasskeyDeleted && e.UserID == f.u.ID() && e.Detail["passkey_id"] == target.ID().String()
				})
			}
			err := apppasskey.NewDelete(f.deps()).Handle(context.Background(), f.u.ID(), target.ID(), appmfa.Proof{}, meta)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (res.Errs()[0] == nil) {
				t.Fatalf("Delete: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDeleteOfAnUnknownPasskey(t *testing.T) {
	f := newFixture(t, true)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	f.Repos.Passkeys.EXPECT().List(gomock.Any(), f.u.ID()).Return([]*passkey.Credential{f.stored(1)}, nil)
	if err := apppasskey.NewDelete(f.deps()).Handle(context.Background(), f.u.ID(), uuid.New(), appmfa.Proof{}, meta); !errors.Is(err, passkey.ErrNotFound) {
		t.Fatalf("Delete: %v", err)
	}
}

func TestRenameChecksTheName(t *testing.T) {
	f := newFixture(t, true)
	if _, err := apppasskey.NewRename(f.deps()).Handle(context.Background(), f.u.ID(), uuid.New(), ""); !errors.Is(err, domain.Validation()) {
		t.Fatalf("Rename to an empty name: %v", err)
	}
	c := f.stored(1)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	f.Repos.Passkeys.EXPECT().ByID(gomock.Any(), f.u.ID(), c.ID()).Return(c, nil)
	f.Repos.Passkeys.EXPECT().Update(gomock.Any(), c).Return(nil)
	if got, err := apppasskey.NewRename(f.deps()).Handle(context.Background(), f.u.ID(), c.ID(), " Desk key "); err != nil || got.Name() != "Desk key" {
		t.Fatalf("Rename = %v, %v", got, err)
	}
}

// expectSignIn makes the sign-in's first steps answer: the challenge is
// taken, and the ceremony finds stored and verifies a.
func (f *fixture) expectSignIn(stored *passkey.Credential, a passkey.Assertion) *passkey.Challenge {
	ch := challenge(passkey.PurposeLogin, uuid.Nil, apptest.T0.Add(-time.Minute))
	f.passkeys.EXPECT().TakeChallenge(gomock.Any(), ch.ID()).Return(ch, nil)
	f.passkeys.EXPECT().ByCredentialID(gomock.Any(), stored.CredentialID()).Return(stored, nil)
	f.ceremonies.EXPECT().FinishLogin(ch.State(), []byte(`{"id":"x"}`), gomock.Any()).DoAndReturn(
		func(_, _ []byte, find func(credentialID, userHandle []byte) (*passkey.Credential, error)) (*passkey.Credential, passkey.Assertion, error) {
			c, err := find(stored.CredentialID(), nil)
			return c, a, err
		})
	return ch
}

func (f *fixture) finish(ch *passkey.Challenge) (*appsession.LoginResult, error) {
	return f.login().Finish(context.Background(), apppasskey.LoginInput{ChallengeID: ch.ID().String(), Credential: json.RawMessage(`{"id":"x"}`), Meta: meta})
}

func TestLoginStartsASessionOfThePasskey(t *testing.T) {
	for name, tc := range map[string]struct {
		uv   bool
		totp bool
		amr  []string
	}{
		"user verified":                     {true, false, []string{"hwk", "user"}},
		"user verified, TOTP on":            {true, true, []string{"hwk", "user"}},
		"user not verified, no second step": {false, false, []string{"hwk"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, true)
			f.wantResults = []app.LoginOutcome{app.LoginSuccess}
			if tc.totp {
				f.SeedTOTP(mfa.RehydrateTOTP(f.u.ID(), []byte("sealed"), apptest.T0, &apptest.T0, nil))
			} else {
				f.SeedTOTP()
			}
			stored := f.stored(4)
			ch := f.expectSignIn(stored, passkey.Assertion{SignCount: 5, UserVerified: tc.uv, BackupState: true})
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			fresh := f.stored(4)
			f.Repos.Passkeys.EXPECT().ByCredentialID(gomock.Any(), stored.CredentialID()).Return(fresh, nil)
			f.Repos.Passkeys.EXPECT().Update(gomock.Any(), fresh).DoAndReturn(func(_ context.Context, c *passkey.Credential) error {
				if c.SignCount() != 5 || c.LastUsedAt() == nil || !c.LastUsedAt().Equal(apptest.T0) || !c.Flags().BackupState {
					t.Errorf("passkey saved with count %d, last used %v, flags %+v", c.SignCount(), c.LastUsedAt(), c.Flags())
				}
				return nil
			})
			var s *session.Session
			f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
				if !slices.Equal(c.AMR, tc.amr) || !c.AuthTime.Equal(apptest.T0) {
					t.Errorf("access token amr %v, auth_time %v", c.AMR, c.AuthTime)
				}
				c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(15*time.Minute)
				return "signed", c, nil
			})
			// The user's last login, the session with its refresh token,
			// its session.created and the audit event, stored at once.
			f.Repos.Sessions.EXPECT().Start(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, st app.SessionStart) error {
				s = st.Session
				if st.User != f.u || st.RefreshToken == nil || st.RefreshToken.SessionID != s.ID() {
					t.Errorf("Start stores user %v, refresh token %+v", st.User, st.RefreshToken)
				}
				if e := st.Event; e.Type != audit.LoginSucceeded || e.UserID != f.u.ID() || e.Detail["passkey_id"] != fresh.ID().String() || e.Detail["session_id"] != s.ID().String() {
					t.Errorf("audit %+v", e)
				}
				created := apptest.Events(f.u.ID(), webhook.SessionCreated).Session(s.ID())
				if tc.totp {
					created = created.MFA()
				}
				if !created.Matches(st.Events) {
					t.Errorf("events %+v, want %s", st.Events, created)
				}
				return nil
			})
			r, err := f.finish(ch)
			if err != nil || r.MFARequired() || r.AccessToken != "signed" || !slices.Equal(res.Errs(), []error{nil}) {
				t.Fatalf("Finish = %+v, %v", r, err)
			}
			if !slices.Equal(s.AMR(), tc.amr) || f.u.LastLoginAt() == nil {
				t.Errorf("session amr %v; last login %v", s.AMR(), f.u.LastLoginAt())
			}
		})
	}
}

// A user with TOTP whose authenticator did not verify them gets the
// token of the second step, which remembers the passkey.
func TestLoginWithoutUserVerificationAsksForTheCode(t *testing.T) {
	f := newFixture(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginMFARequired}
	f.SeedTOTP(mfa.RehydrateTOTP(f.u.ID(), []byte("sealed"), apptest.T0, &apptest.T0, nil))
	stored := f.stored(0)
	ch := f.expectSignIn(stored, passkey.Assertion{SignCount: 0})
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	f.Repos.Passkeys.EXPECT().ByCredentialID(gomock.Any(), stored.CredentialID()).Return(stored, nil)
	f.Repos.Passkeys.EXPECT().Update(gomock.Any(), stored).Return(nil)
	f.Repos.MFA.EXPECT().AddLoginToken(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, lt *mfa.LoginToken) error {
		if lt.UserID() != f.u.ID() || !slices.Equal(lt.FirstFactor(), []string{"hwk"}) ||
			!lt.Binding().Equal(mfa.BindingOf(f.u.ID(), f.u.PasswordHash(), meta.IP, meta.UserAgent)) {
			t.Errorf("login token of %s after %v", lt.UserID(), lt.FirstFactor())
		}
		return nil
	})
	r, err := f.finish(ch)
	if err != nil || !r.MFARequired() || r.TokenPair != nil {
		t.Fatalf("Finish = %+v, %v", r, err)
	}
}

// A counter that went backwards refuses the sign-in; the audit event
// commits, the passkey is not saved.
func TestLoginRefusesACounterGoingBackwards(t *testing.T) {
	f := newFixture(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials}
	stored := f.stored(9)
	ch := f.expectSignIn(stored, passkey.Assertion{SignCount: 10, UserVerified: true})
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	// Another sign-in moved the counter meanwhile: read under the lock.
	moved := f.stored(10)
	f.Repos.Passkeys.EXPECT().ByCredentialID(gomock.Any(), stored.CredentialID()).Return(moved, nil)
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.PasskeyCloneDetected && e.UserID == f.u.ID() && e.Detail["stored_count"] == "10" && e.Detail["sent_count"] == "10"
	})
	r, err := f.finish(ch)
	if !errors.Is(err, passkey.ErrCloned) || r != nil || !slices.Equal(res.Errs(), []error{nil}) {
		t.Fatalf("Finish = %+v, %v; transactions %v", r, err, res.Errs())
	}
}

func TestLoginRefusals(t *testing.T) {
	t.Run("disabled account", func(t *testing.T) {
		f := newFixture(t, true)
		f.wantResults = []app.LoginOutcome{app.LoginDisabled}
		f.u.Deactivate(apptest.T0)
		ch := f.expectSignIn(f.stored(1), passkey.Assertion{SignCount: 2, UserVerified: true})
		if _, err := f.finish(ch); !errors.Is(err, domain.ErrAccountDisabled) {
			t.Fatalf("Finish: %v", err)
		}
	})
	t.Run("address not verified yet", func(t *testing.T) {
		f := newFixture(t, true)
		f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials}
		f.u.UnverifyEmail(apptest.T0)
		ch := f.expectSignIn(f.stored(1), passkey.Assertion{SignCount: 2, UserVerified: true})
		if _, err := f.finish(ch); !errors.Is(err, passkey.ErrInvalidCredential) {
			t.Fatalf("Finish: %v", err)
		}
	})
	t.Run("an answer of a known passkey that does not verify is audited", func(t *testing.T) {
		f := newFixture(t, true)
		f.wantResults = []app.LoginOutcome{app.LoginInvalidCredentials}
		stored := f.stored(1)
		ch := challenge(passkey.PurposeLogin, uuid.Nil, apptest.T0)
		f.passkeys.EXPECT().TakeChallenge(gomock.Any(), ch.ID()).Return(ch, nil)
		f.passkeys.EXPECT().ByCredentialID(gomock.Any(), stored.CredentialID()).Return(stored, nil)
		f.ceremonies.EXPECT().FinishLogin(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
			func(_, _ []byte, find func(credentialID, userHandle []byte) (*passkey.Credential, error)) (*passkey.Credential, passkey.Assertion, error) {
				_, _ = find(stored.CredentialID(), nil)
				return nil, passkey.Assertion{}, passkey.ErrInvalidCredential
			})
		apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
			return e.Type == audit.LoginFailed && e.UserID == f.u.ID() && e.Detail["passkey_id"] == stored.ID().String()
		})
		if _, err := f.finish(ch); !errors.Is(err, passkey.ErrInvalidCredential) {
			t.Fatalf("Finish: %v", err)
		}
	})
	t.Run("a registration's challenge", func(t *testing.T) {
		f := newFixture(t, true)
		ch := challenge(passkey.PurposeRegister, f.u.ID(), apptest.T0)
		f.passkeys.EXPECT().TakeChallenge(gomock.Any(), ch.ID()).Return(ch, nil)
		if _, err := f.finish(ch); !errors.Is(err, passkey.ErrChallengeInvalid) {
			t.Fatalf("Finish: %v", err)
		}
	})
	t.Run("a store failure is no refusal", func(t *testing.T) {
		f := newFixture(t, true)
		down := domain.Unavailable(errors.New("connection refused"))
		id := uuid.New()
		f.passkeys.EXPECT().TakeChallenge(gomock.Any(), id).Return(nil, down)
		_, err := f.login().Finish(context.Background(), apppasskey.LoginInput{ChallengeID: id.String(), Meta: meta})
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Finish: %v", err)
		}
	})
}

func TestLoginBegin(t *testing.T) {
	f := newFixture(t, true)
	f.ceremonies.EXPECT().BeginLogin().Return(json.RawMessage(`{"publicKey":{}}`), []byte(`{"challenge":"c"}`), nil)
	f.passkeys.EXPECT().AddChallenge(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c *passkey.Challenge) error {
		if c.UserID() != uuid.Nil || c.Purpose() != passkey.PurposeLogin {
			t.Errorf("challenge of %s for %s", c.UserID(), c.Purpose())
		}
		return nil
	})
	if b, err := f.login().Begin(context.Background()); err != nil || b.ChallengeID != apptest.ID(1) {
		t.Fatalf("Begin = %+v, %v", b, err)
	}
}

func ptr[T any](v T) *T { return &v }

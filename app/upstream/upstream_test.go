package upstream_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

var meta = app.RequestMeta{IP: "203.0.113.7", UserAgent: "test-agent"}

const addr = "ada@example.com"

type fixture struct {
	*apptest.Ports
	providers *mock.MockUpstreamProviders
	h         *appupstream.SignIn
	state     token.Secret
	hash      token.Hash
}

func newFixture(t *testing.T, trust bool) *fixture {
	p := apptest.NewPorts(t)
	f := &fixture{Ports: p, providers: mock.NewMockUpstreamProviders(p.Ctrl)}
	f.state, f.hash = apptest.Secret(t, "state")
	f.providers.EXPECT().Provider("corp").Return(appupstream.Provider{ID: "corp", Name: "Corp", TrustEmail: trust}, true).AnyTimes()
	f.h = appupstream.NewSignIn(appupstream.SignInDeps{
		Deps:            appupstream.Deps{Providers: f.providers, Tx: f.Tx, Clock: f.Clock, IDs: &apptest.IDs{}},
		Tokens:          mock.NewMockTokenIssuer(p.Ctrl),
		Random:          apptest.NewRand(t.Name()),
		Links:           apptest.Links(),
		TTL:             appsession.RefreshTTL(time.Hour),
		VerificationTTL: account.VerificationTTL(24 * time.Hour),
	})
	return f
}

// flow is the flow the callback takes: of provider "corp", begun at T0,
// linking to linkTo (uuid.Nil: a sign-in).
func (f *fixture) flow(linkTo uuid.UUID) *upstream.Flow {
	fl, err := upstream.NewFlow(f.hash, "corp", "the-nonce", "the-verifier", uuid.Nil, linkTo, apptest.T0.Add(-time.Minute))
	if err != nil {
		panic(err)
	}
	return fl
}

// expectAnswer expects the callback to take fl and exchange the code for
// v, and the linking transaction to run once.
func (f *fixture) expectAnswer(fl *upstream.Flow, v upstream.Verified) *apptest.TxResults {
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	f.Repos.Upstream.EXPECT().TakeFlow(gomock.Any(), f.hash).Return(fl, nil)
	f.providers.EXPECT().Exchange(gomock.Any(), "corp", "the-code", appupstream.Authorization{State: f.state.Reveal(), Nonce: "the-nonce", Verifier: "the-verifier"}).Return(v, nil)
	return res
}

func (f *fixture) callback() (*appupstream.Result, error) {
	return f.h.Callback(context.Background(), appupstream.CallbackInput{Provider: "corp", State: f.state.Reveal(), BrowserState: f.state.Reveal(), Code: "the-code", Meta: meta})
}

// expectAudit expects one audit event of each type, in order.
func (f *fixture) expectAudit(t *testing.T, types ...audit.Type) {
	var calls []any
	for _, typ := range types {
		calls = append(calls, apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool { return e.Type == typ }))
	}
	apptest.InOrder(calls...)
}

// expectSession expects the browser session of userID with amr [swk].
func (f *fixture) expectSession(t *testing.T, userID uuid.UUID) {
	f.Repos.Sessions.EXPECT().Start(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, st app.SessionStart) error {
		if st.User.ID() != userID || st.Session.UserID() != userID || !slices.Equal(st.Session.AMR(), []string{upstream.Method}) || st.RefreshToken != nil {
			t.Errorf("session start %+v, amr %v", st, st.Session.AMR())
		}
		if st.Event.Type != audit.LoginSucceeded || st.Event.Detail["provider"] != "corp" {
			t.Errorf("sign-in audit %+v", st.Event)
		}
		return nil
	})
}

// seedOther makes the store serve lookups, with a user of another
// address: the address of the test has no account.
func (f *fixture) seedOther() {
	f.Seed(user.Rehydrate(apptest.ID(99), apptest.Email("someone-else@example.com"), "$argon2id$x", true, true, apptest.T0, apptest.T0, nil, nil))
}

func verifiedUser(active bool) *user.User {
	at := apptest.T0.Add(-time.Hour)
	return user.Rehydrate(apptest.ID(9), apptest.Email(addr), "$argon2id$stored", active, true, at, at, &at, nil)
}

func TestCallbackRefusesWhatIsNotThisBrowsersLiveFlow(t *testing.T) {
	t.Run("a state the browser does not hold", func(t *testing.T) {
		f := newFixture(t, true)
		_, err := f.h.Callback(context.Background(), appupstream.CallbackInput{Provider: "corp", State: f.state.Reveal(), BrowserState: "another", Code: "c", Meta: meta})
		if !errors.Is(err, upstream.ErrFlowInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	for name, fl := range map[string]func(f *fixture) *upstream.Flow{
		"another provider's flow (mix-up)": func(f *fixture) *upstream.Flow {
			return upstream.RehydrateFlow(f.hash, "social", "n", "v", uuid.Nil, uuid.Nil, apptest.T0, apptest.T0.Add(time.Minute))
		},
		"an expired flow": func(f *fixture) *upstream.Flow {
			return upstream.RehydrateFlow(f.hash, "corp", "n", "v", uuid.Nil, uuid.Nil, apptest.T0.Add(-time.Hour), apptest.T0)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, true)
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.Repos.Upstream.EXPECT().TakeFlow(gomock.Any(), f.hash).Return(fl(f), nil)
			// Strict mocks: no exchange.
			if _, err := f.callback(); !errors.Is(err, upstream.ErrFlowInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("a used or unknown flow", func(t *testing.T) {
		f := newFixture(t, true)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Upstream.EXPECT().TakeFlow(gomock.Any(), f.hash).Return(nil, upstream.ErrFlowInvalid)
		if _, err := f.callback(); !errors.Is(err, upstream.ErrFlowInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the provider's error", func(t *testing.T) {
		f := newFixture(t, true)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Upstream.EXPECT().TakeFlow(gomock.Any(), f.hash).Return(f.flow(uuid.Nil), nil)
		_, err := f.h.Callback(context.Background(), appupstream.CallbackInput{Provider: "corp", State: f.state.Reveal(), BrowserState: f.state.Reveal(), Error: "access_denied<script>", Meta: meta})
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != "upstream_refused" || de.Message != "Corp did not sign you in (access_deniedscript)." {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFirstSignInWithATrustedVerifiedAddressMakesAVerifiedAccount(t *testing.T) {
	f := newFixture(t, true)
	f.seedOther()
	res := f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: addr, EmailVerified: true})
	f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(nil, upstream.ErrNotFound)
	var made *user.User
	f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
		made = u
		if u.HasPassword() || !u.Verified() || u.Email().String() != addr || u.PendingRegistration() {
			t.Errorf("account made: password %v, verified %v, %s", u.HasPassword(), u.Verified(), u.Email())
		}
		f.Seed(u)
		return nil
	})
	f.Repos.Upstream.EXPECT().AddIdentity(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, i *upstream.Identity) error {
		if i.UserID() != made.ID() || i.Provider() != "corp" || i.Subject() != "s-1" {
			t.Errorf("identity %+v", i)
		}
		return nil
	})
	f.Repos.Events.EXPECT().Publish(gomock.Any(), gomock.Any()).Times(1) // user.created
	f.expectAudit(t, audit.UpstreamIdentityLinked, audit.Registered)
	f.Repos.Sessions.EXPECT().Start(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, st app.SessionStart) error {
		if st.User.ID() != made.ID() || !slices.Equal(st.Session.AMR(), []string{upstream.Method}) {
			t.Errorf("session of %s, amr %v", st.User.ID(), st.Session.AMR())
		}
		return nil
	})
	r, err := f.callback()
	if err != nil || r.Outcome != appupstream.SignedIn || r.Login.BrowserSecret == "" || r.Email != addr {
		t.Fatalf("Callback = %+v, %v", r, err)
	}
	if res.Errs()[1] != nil {
		t.Fatal("the linking transaction rolled back")
	}
}

// An address the provider's word does not verify (no trust_email, or the
// provider says it is unverified) makes an account that waits for its
// verification link: no session.
func TestFirstSignInWithAnUnverifiedAddressSendsTheVerificationMail(t *testing.T) {
	for name, c := range map[string]struct{ trust, verified bool }{
		"trusted provider, unverified address": {true, false},
		"untrusted provider, verified address": {false, true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, c.trust)
			f.seedOther()
			f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: addr, EmailVerified: c.verified})
			f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(nil, upstream.ErrNotFound)
			f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
				if u.HasPassword() || u.Verified() {
					t.Errorf("account made: password %v, verified %v", u.HasPassword(), u.Verified())
				}
				return nil
			})
			f.Repos.Upstream.EXPECT().AddIdentity(gomock.Any(), gomock.Any()).Return(nil)
			f.Repos.Events.EXPECT().Publish(gomock.Any(), gomock.Any()).Times(1)
			f.expectAudit(t, audit.UpstreamIdentityLinked, audit.Registered)
			f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tok *token.OneTimeToken) error {
				if tok.PasswordHash() != "" {
					t.Errorf("the link carries a password hash")
				}
				return nil
			})
			apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool { return m.Kind == app.MailVerifyEmail && m.To == addr })
			// Strict mocks: no session.
			r, err := f.callback()
			if err != nil || r.Outcome != appupstream.VerifyMailSent || r.Login != nil {
				t.Fatalf("Callback = %+v, %v", r, err)
			}
		})
	}
}

// An unverified upstream address never reaches an existing account: only
// a provider with trust_email that says the address is verified links to
// the account that has it (verified itself); otherwise nothing is linked,
// made or signed in.
func TestAnUnverifiedUpstreamAddressNeverReachesAnExistingAccount(t *testing.T) {
	pending, err := user.NewRegistration(apptest.ID(9), apptest.Email(addr), "$argon2id$someone-elses", apptest.T0)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		trust, verified bool
		account         *user.User
	}{
		"trusted provider, unverified address":   {true, false, verifiedUser(true)},
		"untrusted provider, verified address":   {false, true, verifiedUser(true)},
		"untrusted provider, unverified address": {false, false, verifiedUser(true)},
		// A registration nobody verified may be someone else's: its
		// password must not come to sign in to the owner's account.
		"trusted verified address, account not verified": {true, true, pending},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, c.trust)
			f.Seed(c.account)
			f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: "  ADA@example.com", EmailVerified: c.verified})
			f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(nil, upstream.ErrNotFound)
			// Strict mocks: no AddIdentity, Create, session or audit.
			if _, err := f.callback(); !errors.Is(err, upstream.ErrLinkFirst) {
				t.Fatalf("err = %v, want ErrLinkFirst", err)
			}
		})
	}
}

func TestATrustedVerifiedAddressLinksTheExistingAccount(t *testing.T) {
	f := newFixture(t, true)
	u := verifiedUser(true)
	f.Seed(u)
	res := f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: addr, EmailVerified: true})
	f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(nil, upstream.ErrNotFound)
	f.Repos.Upstream.EXPECT().AddIdentity(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, i *upstream.Identity) error {
		if i.UserID() != u.ID() {
			t.Errorf("linked to %s, want %s", i.UserID(), u.ID())
		}
		return nil
	})
	f.expectAudit(t, audit.UpstreamIdentityLinked)
	f.expectSession(t, u.ID())
	if r, err := f.callback(); err != nil || r.Outcome != appupstream.SignedIn {
		t.Fatalf("Callback = %+v, %v", r, err)
	}
	if !slices.Contains(f.Repos.Store.Locked(), u.ID()) || res.Errs()[1] != nil {
		t.Fatal("the account was not read for change, or the transaction rolled back")
	}
}

func TestAKnownIdentitySignsInItsUser(t *testing.T) {
	known := func(userID uuid.UUID) *upstream.Identity {
		return upstream.RehydrateIdentity(apptest.ID(50), userID, "corp", "s-1", "old@example.com", apptest.T0.Add(-time.Hour), nil)
	}
	t.Run("signs in, whatever the address says now", func(t *testing.T) {
		f := newFixture(t, false)
		u := verifiedUser(true)
		f.Seed(u)
		f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: "new@example.com"})
		f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(known(u.ID()), nil)
		f.Repos.Upstream.EXPECT().UpdateIdentity(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, i *upstream.Identity) error {
			if i.Email() != "new@example.com" || i.LastUsedAt() == nil || !i.LastUsedAt().Equal(apptest.T0) {
				t.Errorf("identity not updated: %+v", i)
			}
			return nil
		})
		f.expectSession(t, u.ID())
		if r, err := f.callback(); err != nil || r.Outcome != appupstream.SignedIn {
			t.Fatalf("Callback = %+v, %v", r, err)
		}
	})
	for name, c := range map[string]struct {
		u    *user.User
		want error
	}{
		"a disabled user": {verifiedUser(false), domain.ErrAccountDisabled},
		"an address not verified yet": {user.Rehydrate(apptest.ID(9), apptest.Email(addr), "", true, false, apptest.T0, apptest.T0, nil, nil),
			upstream.ErrVerifyFirst},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, false)
			f.Seed(c.u)
			f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: addr, EmailVerified: true})
			f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(known(c.u.ID()), nil)
			f.Repos.Upstream.EXPECT().UpdateIdentity(gomock.Any(), gomock.Any()).Return(nil).MaxTimes(1) // rolled back
			if _, err := f.callback(); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestAUserWithTOTPIsAskedForTheCode(t *testing.T) {
	f := newFixture(t, false)
	u := verifiedUser(true)
	f.Seed(u)
	f.SeedTOTP(mfa.RehydrateTOTP(u.ID(), []byte("sealed"), apptest.T0, &apptest.T0, nil))
	f.expectAnswer(f.flow(uuid.Nil), upstream.Verified{Subject: "s-1", Email: addr})
	f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(
		upstream.RehydrateIdentity(apptest.ID(50), u.ID(), "corp", "s-1", addr, apptest.T0, nil), nil)
	f.Repos.Upstream.EXPECT().UpdateIdentity(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Users.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.MFA.EXPECT().AddLoginToken(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, lt *mfa.LoginToken) error {
		if lt.UserID() != u.ID() || !slices.Equal(lt.FirstFactor(), []string{upstream.Method}) {
			t.Errorf("login token of %s, first factor %v", lt.UserID(), lt.FirstFactor())
		}
		return nil
	})
	// Strict mocks: no session before the code.
	r, err := f.callback()
	if err != nil || r.Login == nil || !r.Login.MFARequired() {
		t.Fatalf("Callback = %+v, %v", r, err)
	}
}

func TestARoundTripBegunSignedInLinksToThatUser(t *testing.T) {
	t.Run("a new identity is linked, whatever its address", func(t *testing.T) {
		f := newFixture(t, false)
		u := verifiedUser(true)
		f.Seed(u)
		f.expectAnswer(f.flow(u.ID()), upstream.Verified{Subject: "s-1", Email: "elsewhere@example.org"})
		f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(nil, upstream.ErrNotFound)
		f.Repos.Upstream.EXPECT().AddIdentity(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, i *upstream.Identity) error {
			if i.UserID() != u.ID() {
				t.Errorf("linked to %s", i.UserID())
			}
			return nil
		})
		f.expectAudit(t, audit.UpstreamIdentityLinked)
		// Strict mocks: no new session.
		if r, err := f.callback(); err != nil || r.Outcome != appupstream.Linked {
			t.Fatalf("Callback = %+v, %v", r, err)
		}
	})
	t.Run("another user's identity is refused", func(t *testing.T) {
		f := newFixture(t, false)
		u := verifiedUser(true)
		f.Seed(u)
		f.expectAnswer(f.flow(u.ID()), upstream.Verified{Subject: "s-1", Email: addr})
		f.Repos.Upstream.EXPECT().Identity(gomock.Any(), "corp", "s-1").Return(
			upstream.RehydrateIdentity(apptest.ID(50), apptest.ID(77), "corp", "s-1", addr, apptest.T0, nil), nil)
		if _, err := f.callback(); !errors.Is(err, upstream.ErrIdentityTaken) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestUnlinkKeepsTheLastWayToSignIn(t *testing.T) {
	for name, c := range map[string]struct {
		password         bool
		passkeys, others int
		want             error
	}{
		"nothing else":     {false, 0, 0, upstream.ErrLastWayToSignIn},
		"a password":       {true, 0, 0, nil},
		"a passkey":        {false, 1, 0, nil},
		"another identity": {false, 0, 1, nil},
	} {
		t.Run(name, func(t *testing.T) {
			p := apptest.NewPorts(t)
			hash := ""
			if c.password {
				hash = "$argon2id$stored"
			}
			u := user.Rehydrate(apptest.ID(9), apptest.Email(addr), hash, true, true, apptest.T0, apptest.T0, nil, nil)
			p.Seed(u)
			target := upstream.RehydrateIdentity(apptest.ID(50), u.ID(), "corp", "s-1", addr, apptest.T0, nil)
			all := []*upstream.Identity{target}
			for range c.others {
				all = append(all, upstream.RehydrateIdentity(uuid.New(), u.ID(), "other", "s-2", addr, apptest.T0, nil))
			}
			var keys []*passkey.Credential
			for range c.passkeys {
				keys = append(keys, passkey.Rehydrate(uuid.New(), u.ID(), "Key", passkey.Registration{CredentialID: []byte{1}, PublicKey: []byte{2}}, apptest.T0, nil))
			}
			apptest.ExpectLockingWithin(t, p.Tx, p.Repos, 1, u.ID())
			p.Repos.Upstream.EXPECT().Identities(gomock.Any(), u.ID()).Return(all, nil)
			p.Repos.Passkeys.EXPECT().List(gomock.Any(), u.ID()).Return(keys, nil)
			if c.want == nil {
				p.Repos.Upstream.EXPECT().DeleteIdentity(gomock.Any(), u.ID(), target.ID()).Return(nil)
				apptest.ExpectAudit(t, p.Repos.Audit, func(e audit.Event) bool {
					return e.Type == audit.UpstreamIdentityUnlinked && e.Detail["identity_id"] == target.ID().String() && e.Detail["provider"] == "corp"
				})
			}
			err := appupstream.NewUnlink(appupstream.Deps{Tx: p.Tx, Clock: p.Clock, IDs: &apptest.IDs{}}).Handle(context.Background(), u.ID(), target.ID(), meta)
			if !errors.Is(err, c.want) {
				t.Fatalf("Unlink = %v, want %v", err, c.want)
			}
		})
	}
}

package upstream

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// SignInDeps are what SignIn needs.
type SignInDeps struct {
	Deps
	Tokens          appsession.TokenIssuer
	Random          io.Reader
	Links           app.Links
	TTL             appsession.RefreshTTL
	VerificationTTL account.VerificationTTL
}

// SignIn is the round trip to a provider: Begin sends the browser there,
// Callback takes it back and applies the linking rules.
//
// The rules: an identity (provider, subject) belongs to one user.
//   - A known identity signs in its user (a disabled one is refused; an
//     address not verified yet is refused until its link verifies it).
//   - A round trip begun while signed in links a new identity to the
//     signed-in user (an identity of another user is refused).
//   - A new identity whose address no account has creates an account
//     without a password, verified only when the provider has trust_email
//     and says the address is verified; otherwise the verification mail
//     is sent, and the account signs in once its link verified it.
//   - A new identity whose address an account has is linked to it only
//     when the provider has trust_email and says the address is verified,
//     and the account's address is verified too;
//     otherwise the owner must sign in to the account first and link it
//     from there (upstream.ErrLinkFirst). An unverified upstream address
//     never reaches an existing account.
//
// A user with a second factor is asked for the code after the provider
// (the login token's first factor is upstream.Method); a sign-in's
// session has amr [upstream.Method] and publishes session.created (and
// user.created for a new account) like any sign-in.
type SignIn struct {
	d         SignInDeps
	ttl       time.Duration
	verifyTTL time.Duration
}

// NewSignIn builds the use case.
func NewSignIn(d SignInDeps) *SignIn {
	return &SignIn{d: d, ttl: time.Duration(d.TTL), verifyTTL: time.Duration(d.VerificationTTL)}
}

// Providers lists the configured providers (the sign-in page's links).
func (h *SignIn) Providers() []Provider { return h.d.Providers.List() }

// BeginInput starts a round trip.
type BeginInput struct {
	Provider string
	// Pending is the authorization request the sign-in answers, uuid.Nil
	// for none.
	Pending uuid.UUID
	// LinkTo is the user signed in in this browser, uuid.Nil for none:
	// the identity is then linked to them.
	LinkTo uuid.UUID
}

// Begun is where to send the browser, and the state it must hold until
// the callback (the browser binding: its cookie).
type Begun struct {
	URL   string
	State token.Secret
}

// Begin stores a new flow and answers the provider's authorization URL.
// An unknown provider is upstream.ErrUnknownProvider.
func (h *SignIn) Begin(ctx context.Context, in BeginInput) (Begun, error) {
	if _, ok := h.d.Providers.Provider(in.Provider); !ok {
		return Begun{}, upstream.ErrUnknownProvider
	}
	state, stateHash, err := token.NewSecret(h.d.Random)
	if err != nil {
		return Begun{}, err
	}
	nonce, _, err := token.NewSecret(h.d.Random)
	if err != nil {
		return Begun{}, err
	}
	// 43 base64url characters: a PKCE code verifier (RFC 7636 §4.1).
	verifier, _, err := token.NewSecret(h.d.Random)
	if err != nil {
		return Begun{}, err
	}
	f, err := upstream.NewFlow(stateHash, in.Provider, nonce.Reveal(), verifier.Reveal(), in.Pending, in.LinkTo, h.d.Clock.Now())
	if err != nil {
		return Begun{}, err
	}
	if err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.Upstream.AddFlow(ctx, f) }); err != nil {
		return Begun{}, err
	}
	url, err := h.d.Providers.AuthCodeURL(ctx, in.Provider, Authorization{State: state.Reveal(), Nonce: f.Nonce(), Verifier: f.Verifier()})
	if err != nil {
		return Begun{}, err
	}
	return Begun{URL: url, State: state}, nil
}

// CallbackInput is the provider's answer as the browser brought it.
type CallbackInput struct {
	Provider string
	// State is the callback's state parameter; BrowserState what the
	// browser held since Begin (its cookie).
	State        string
	BrowserState string
	Code         string
	// Error is the provider's error parameter, "" when it sent a code.
	Error string
	Meta  app.RequestMeta
}

// Outcome is what a callback did.
type Outcome int

const (
	// SignedIn: Result.Login holds the browser session, or the token of
	// the code step when the user has a second factor.
	SignedIn Outcome = iota + 1
	// Linked: the identity was linked to the user signed in when the
	// round trip began; no new session.
	Linked
	// VerifyMailSent: a new account was made and its verification mail
	// sent; it signs in once its link verified the address.
	VerifyMailSent
)

// Result is the outcome of a callback.
type Result struct {
	Outcome Outcome
	Login   *appsession.LoginResult
	// Pending is the authorization request the sign-in answers.
	Pending uuid.UUID
	// Provider is the provider's name; Email the address it told.
	Provider string
	Email    string
}

// errRaced: a concurrent first sign-in of the same identity or address
// won a unique index; the transaction runs again and finds what it made.
var errRaced = errors.New("upstream: first sign-in raced")

// Callback checks the state against the browser, takes the flow (once),
// exchanges the code and applies the linking rules (see SignIn). A state
// that does not match the browser's, an unknown, used or expired flow, or
// a flow of another provider is upstream.ErrFlowInvalid.
func (h *SignIn) Callback(ctx context.Context, in CallbackInput) (*Result, error) {
	p, ok := h.d.Providers.Provider(in.Provider)
	if !ok {
		return nil, upstream.ErrUnknownProvider
	}
	hash, err := token.Parse(in.State)
	if err != nil || subtle.ConstantTimeCompare([]byte(in.State), []byte(in.BrowserState)) != 1 {
		return nil, upstream.ErrFlowInvalid
	}
	var f *upstream.Flow
	if err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		f, err = r.Upstream.TakeFlow(ctx, hash)
		return err
	}); err != nil {
		return nil, err
	}
	if err := f.Answerable(p.ID, h.d.Clock.Now()); err != nil {
		return nil, err
	}
	if in.Error != "" {
		return nil, Refused(p.Name, in.Error)
	}
	if in.Code == "" {
		return nil, upstream.ErrNotVerified
	}
	v, err := h.d.Providers.Exchange(ctx, p.ID, in.Code, Authorization{State: in.State, Nonce: f.Nonce(), Verifier: f.Verifier()})
	if err != nil {
		return nil, err
	}
	if v.Subject == "" {
		return nil, upstream.ErrNotVerified
	}
	email, err := v.Address()
	if err != nil {
		return nil, err
	}
	c := callback{h: h, p: p, f: f, v: v, email: email, trusted: p.TrustEmail && v.EmailVerified, meta: in.Meta}
	for attempt := 0; ; attempt++ {
		var res *Result
		err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			res, err = c.link(ctx, r)
			return err
		})
		if errors.Is(err, errRaced) && attempt == 0 {
			continue
		}
		if errors.Is(err, errRaced) {
			err = upstream.ErrIdentityTaken
		}
		if err != nil {
			return nil, err
		}
		res.Pending, res.Provider, res.Email = f.Pending(), p.Name, email.String()
		return res, nil
	}
}

// callback is one callback's verified answer, linked in a transaction.
type callback struct {
	h       *SignIn
	p       Provider
	f       *upstream.Flow
	v       upstream.Verified
	email   user.Email
	trusted bool
	meta    app.RequestMeta
}

func (c callback) link(ctx context.Context, r app.Repos) (*Result, error) {
	now := c.h.d.Clock.Now()
	id, err := r.Upstream.Identity(ctx, c.p.ID, c.v.Subject)
	switch {
	case err == nil:
		if c.f.LinkTo() != uuid.Nil && id.UserID() != c.f.LinkTo() {
			return nil, upstream.ErrIdentityTaken
		}
		u, err := lockUser(ctx, r, id.UserID())
		if errors.Is(err, domain.ErrUnauthorized) {
			return nil, upstream.ErrNotVerified // deleted meanwhile
		} else if err != nil {
			return nil, err
		}
		id.Used(c.email.String(), now)
		if err := r.Upstream.UpdateIdentity(ctx, id); err != nil {
			return nil, err
		}
		if c.f.LinkTo() != uuid.Nil {
			return &Result{Outcome: Linked}, nil
		}
		return c.signIn(ctx, r, u, now)
	case !errors.Is(err, upstream.ErrNotFound):
		return nil, err
	}
	if c.f.LinkTo() != uuid.Nil {
		u, err := lockUser(ctx, r, c.f.LinkTo())
		if err != nil {
			return nil, err
		}
		if err := c.addIdentity(ctx, r, u, now); err != nil {
			return nil, err
		}
		return &Result{Outcome: Linked}, nil
	}
	existing, err := r.Users.ByEmail(ctx, c.email)
	switch {
	case err == nil:
		// An account has the address: only the provider's trusted word
		// that the address is verified links to it, and only to an
		// account whose address is verified too: an unverified one may be
		// a registration by someone else, whose password would then sign
		// in to the owner's account. Its owner signs in (or resets the
		// password, which verifies the address) and links from there.
		if !c.trusted || !existing.Verified() {
			return nil, upstream.ErrLinkFirst
		}
		u, err := lockUser(ctx, r, existing.ID())
		if errors.Is(err, domain.ErrUnauthorized) {
			return nil, errRaced
		} else if err != nil {
			return nil, err
		}
		if err := c.addIdentity(ctx, r, u, now); err != nil {
			return nil, err
		}
		return c.signIn(ctx, r, u, now)
	case !errors.Is(err, user.ErrNotFound):
		return nil, err
	}
	u, err := user.NewWithoutPassword(c.h.d.IDs.NewID(), c.email, c.trusted, now)
	if err != nil {
		return nil, err
	}
	if err := r.Users.Create(ctx, u); errors.Is(err, user.ErrEmailTaken) {
		return nil, errRaced
	} else if err != nil {
		return nil, err
	}
	if err := c.addIdentity(ctx, r, u, now); err != nil {
		return nil, err
	}
	if err := app.PublishCreated(ctx, r, c.h.d.IDs, now, u); err != nil {
		return nil, err
	}
	if err := r.Audit.Append(ctx, c.meta.Event(audit.Registered, u.ID(), now, map[string]string{"provider": c.p.ID})); err != nil {
		return nil, err
	}
	if !c.trusted {
		// No password travels with the link: the link alone verifies.
		if err := app.AddVerificationToken(ctx, r, c.h.d.IDs, c.h.d.Random, c.h.d.Links, u, "", now, c.h.verifyTTL); err != nil {
			return nil, err
		}
		return &Result{Outcome: VerifyMailSent}, nil
	}
	return c.signIn(ctx, r, u, now)
}

// addIdentity links the verified identity to u, audited.
func (c callback) addIdentity(ctx context.Context, r app.Repos, u *user.User, now time.Time) error {
	id, err := upstream.NewIdentity(c.h.d.IDs.NewID(), u.ID(), c.p.ID, c.v.Subject, c.email.String(), now)
	if err != nil {
		return err
	}
	if err := r.Upstream.AddIdentity(ctx, id); errors.Is(err, upstream.ErrIdentityTaken) {
		return errRaced
	} else if err != nil {
		return err
	}
	return r.Audit.Append(ctx, c.meta.Event(audit.UpstreamIdentityLinked, u.ID(), now, map[string]string{
		"provider": c.p.ID, "identity_id": id.ID().String()}))
}

// signIn starts u's browser session, or answers the token of the code
// step when u has a second factor.
func (c callback) signIn(ctx context.Context, r app.Repos, u *user.User, now time.Time) (*Result, error) {
	if !u.Verified() {
		if !c.trusted || u.Email() != c.email {
			return nil, upstream.ErrVerifyFirst
		}
		// The provider's trusted word verifies the address now.
		u.VerifyEmail(now)
		if err := app.Publish(ctx, r, c.h.d.IDs, now, u, webhook.UserVerified); err != nil {
			return nil, err
		}
	}
	amr := []string{upstream.Method}
	mfaOn, err := app.MFAEnabled(ctx, r.MFA, u.ID())
	if err != nil {
		return nil, err
	}
	if mfaOn {
		if err := r.Users.Update(ctx, u); err != nil {
			return nil, err
		}
		secret, hash, err := token.NewSecret(c.h.d.Random)
		if err != nil {
			return nil, err
		}
		lt, err := mfa.IssueLoginTokenAfter(hash, u.ID(), mfa.BindingOf(u.ID(), u.PasswordHash(), c.meta.IP, c.meta.UserAgent), amr, now)
		if err != nil {
			return nil, err
		}
		if err := r.MFA.AddLoginToken(ctx, lt); err != nil {
			return nil, err
		}
		return &Result{Outcome: SignedIn, Login: &appsession.LoginResult{MFAToken: secret}}, nil
	}
	u.LoggedIn(now)
	s, err := session.NewSignedInBy(c.h.d.IDs.NewID(), u.ID(), now, c.h.ttl, c.meta.UserAgent, c.meta.IP, amr)
	if err != nil {
		return nil, err
	}
	pair, err := appsession.StartSession(ctx, r, c.h.d.Tokens, c.h.d.Random, app.SessionStart{User: u, Session: s,
		Events: app.CreatedSessionEvents(c.h.d.IDs, now, u, mfaOn, s),
		Event: c.meta.Event(audit.LoginSucceeded, u.ID(), now, map[string]string{
			"session_id": s.ID().String(), "provider": c.p.ID}),
	}, u, now, true)
	if err != nil {
		return nil, err
	}
	return &Result{Outcome: SignedIn, Login: &appsession.LoginResult{TokenPair: pair}}, nil
}

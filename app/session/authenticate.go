package session

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// ErrNotFirstParty refuses an application's token where the account's own
// credentials change.
var ErrNotFirstParty = &domain.Error{Kind: domain.KindForbidden, Code: "first_party_only",
	Message: "An application's token cannot change how the account signs in: sign in to the account itself (the JSON API or the hosted pages) and try again."}

// Principal is the authenticated caller of a bearer endpoint.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Claims    app.AccessClaims
	// User is the caller's account as the check read it (active), and
	// MFAEnabled whether it has a confirmed second factor: what GET /v1/me
	// shows, with no second read.
	User       *user.User
	MFAEnabled bool
	// Session is the caller's session as the check read it: how and when
	// it authenticated (amr, auth_time), which the step-up of sensitive
	// changes reads. Nil for a caller without a session.
	Session *session.Session
}

// Authenticate checks a bearer token: the JWT first, then, in one read of
// the store on every request, that its session is still live and its user
// still active (not disabled), so logout, revocation, disabling and
// password changes take effect at once on Gatehouse's own endpoints, on
// every instance.
type Authenticate struct {
	tokens   TokenVerifier
	sessions app.SessionRepository
	clock    app.Clock
	idle     time.Duration
}

// NewAuthenticate builds the use case. sessions works outside any transaction.
func NewAuthenticate(tokens TokenVerifier, sessions app.SessionRepository, clock app.Clock, idle IdleTimeout) *Authenticate {
	return &Authenticate{tokens: tokens, sessions: sessions, clock: clock, idle: time.Duration(idle)}
}

// Handle returns the principal or domain.ErrUnauthorized.
func (h *Authenticate) Handle(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" {
		return Principal{}, domain.ErrUnauthorized
	}
	claims, err := h.tokens.Verify(ctx, bearer)
	if err != nil {
		return Principal{}, err
	}
	// A client's own token (client_credentials) has no user: nothing of a
	// user's is its to see.
	if claims.SessionID == uuid.Nil {
		return Principal{}, domain.ErrUnauthorized
	}
	b, err := h.sessions.ForBearer(ctx, claims.SessionID)
	if errors.Is(err, session.ErrNotFound) {
		return Principal{}, domain.ErrUnauthorized
	} else if err != nil {
		return Principal{}, err
	}
	s, u := b.Session, b.User
	if s.UserID() != claims.Subject || !s.Live(h.clock.Now(), h.idle) || u.ID() != claims.Subject || !u.Active() {
		return Principal{}, domain.ErrUnauthorized
	}
	return Principal{UserID: claims.Subject, SessionID: claims.SessionID, Claims: claims, User: u, MFAEnabled: b.MFAEnabled, Session: s}, nil
}

// Browser returns the principal of the browser whose session cookie holds
// secret (a sign-in on the hosted pages), or domain.ErrUnauthorized, by
// the rules of Handle: one read of the store, the session live and its
// user active. The principal has no claims.
func (h *Authenticate) Browser(ctx context.Context, secret string) (Principal, error) {
	hash, err := token.Parse(secret)
	if err != nil {
		return Principal{}, domain.ErrUnauthorized
	}
	b, err := h.sessions.ForBrowser(ctx, hash)
	if errors.Is(err, session.ErrNotFound) {
		return Principal{}, domain.ErrUnauthorized
	} else if err != nil {
		return Principal{}, err
	}
	s, u := b.Session, b.User
	if s.UserID() != u.ID() || !s.Live(h.clock.Now(), h.idle) || !u.Active() {
		return Principal{}, domain.ErrUnauthorized
	}
	return Principal{UserID: u.ID(), SessionID: s.ID(), User: u, MFAEnabled: b.MFAEnabled, Session: s}, nil
}

// FirstParty refuses p when its token is an application's: one a client
// got from the authorization endpoint (a grant). Such tokens serve the
// bearer endpoints, but a way into the account (a passkey) is added or
// removed only from a sign-in to the account itself, so that an
// application a user signed in to cannot give itself a lasting way in.
func (p Principal) FirstParty() error {
	if p.Claims.ClientID != "" || (p.Session != nil && p.Session.ClientID() != "") {
		return ErrNotFirstParty
	}
	return nil
}

// Package grant holds what the authorization endpoint hands out and how it
// is redeemed: the pending authorization request kept while the user signs
// in, the authorization code that request ends in, and the consent a user
// gives a client. The protocol's parsing is the OpenID Connect adapter's;
// the rules of what may be redeemed, when and by whom live here.
package grant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// ErrNotFound is returned by repositories when no request, code or consent
// matches.
var ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "The authorization request was not found."}

// Lifetimes.
const (
	// CodeTTL: an authorization code is redeemed at once by a working
	// client; RFC 6749 recommends at most 10 minutes.
	CodeTTL = 60 * time.Second
	// RequestTTL: a pending request waits for the user to sign in (or sign
	// up and follow the verification mail) for this long.
	RequestTTL = time.Hour
)

// Request is an authorization request a client made that waits for the
// user to sign in (or consent): everything the code it ends in is bound
// to. The adapter has checked it against the client (registered redirect
// URI, known scopes, S256 challenge) before it is kept.
type Request struct {
	ID            uuid.UUID
	ClientID      string
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string // S256 of the client's verifier (RFC 7636)
	// ForceLogin (prompt=login) asks for a sign-in made after the
	// request; MaxAge (max_age, when HasMaxAge) for one at most that old.
	ForceLogin bool
	// ForceConsent (prompt=consent) asks for a consent given after the
	// request, even when one was given before.
	ForceConsent bool
	HasMaxAge    bool
	MaxAge       time.Duration
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// Expired reports whether the request may no longer be continued at now.
func (r *Request) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// SignInFresh reports whether a sign-in made at authTime answers the
// request at now: one made for the request (after it was made) always
// does; an earlier one only when the request did not force a login and is
// within max_age when it set one.
func (r *Request) SignInFresh(authTime, now time.Time) bool {
	if !authTime.Before(r.CreatedAt) {
		return true
	}
	return !r.ForceLogin && (!r.HasMaxAge || now.Sub(authTime) <= r.MaxAge)
}

// Code is an authorization code: the hash of the secret handed to the
// client through the browser, bound to everything the request and the
// sign-in fixed. It is redeemed once; GrantID is the session the
// redemption made (uuid.Nil until then), which a replay revokes.
type Code struct {
	Hash          token.Hash
	ClientID      string
	RedirectURI   string
	Scopes        []string
	Nonce         string
	CodeChallenge string
	// SessionID is the browser session that signed in (the id_token's
	// sid); UserID its user; AuthTime and AMR how it authenticated.
	SessionID uuid.UUID
	UserID    uuid.UUID
	AuthTime  time.Time
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	GrantID   uuid.UUID
}

// NewCode binds a code to the request r and a sign-in of session s.
func NewCode(hash token.Hash, r *Request, sessionID, userID uuid.UUID, authTime time.Time, amr []string, now time.Time) *Code {
	return &Code{
		Hash: hash, ClientID: r.ClientID, RedirectURI: r.RedirectURI, Scopes: slices.Clone(r.Scopes),
		Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, SessionID: sessionID, UserID: userID,
		AuthTime: authTime, AMR: slices.Clone(amr), CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	}
}

// Redeemable reports whether clientID may exchange the unused code at now
// for tokens, sending redirectURI and the PKCE verifier: the code has not
// expired, was issued to that client for that exact redirect URI, and the
// verifier's S256 is the challenge (RFC 7636 4.6). Any failure is the
// same invalid_grant to the client.
func (c *Code) Redeemable(clientID, redirectURI, verifier string, now time.Time) bool {
	if c.UsedAt != nil || !now.Before(c.ExpiresAt) || c.ClientID != clientID || c.RedirectURI != redirectURI {
		return false
	}
	if !ValidVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(c.CodeChallenge)) == 1
}

// ValidVerifier reports whether v is a PKCE code verifier: 43 to 128
// characters of [A-Za-z0-9-._~] (RFC 7636 4.1).
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			return false
		}
	}
	return true
}

// ValidChallenge reports whether c can be an S256 code challenge: the
// unpadded base64url of a SHA-256 (43 characters).
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

func unreserved(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~'
}

// Consent is what a user allowed a client that asks for consent: the
// scopes, until the user revokes it.
type Consent struct {
	UserID   uuid.UUID
	ClientID string
	Scopes   []string
	GivenAt  time.Time
}

// Covers reports whether the consent allows every one of scopes.
func (c *Consent) Covers(scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// Errors of the authorization and token endpoints. Codes are the OAuth 2.0
// and OpenID Connect error codes the client receives. The first three are
// shown to the user on a page and never sent to a redirect URI: the
// request names no client or place that may receive them.
var (
	ErrUnknownClient = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_client", Message: "The application that sent you here is not registered."}
	ErrRedirectURI   = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_redirect_uri", Message: "The application asked to send you back to an address it has not registered."}
	ErrRequestGone   = &domain.Error{Kind: domain.KindNotFound, Code: "request_gone", Message: "This sign-in request has expired or was already completed."}

	ErrPKCERequired       = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_request", Message: "PKCE is required: send code_challenge with code_challenge_method S256."}
	ErrUnauthorizedClient = &domain.Error{Kind: domain.KindBadRequest, Code: "unauthorized_client", Message: "The client is not registered for this grant."}
	ErrLoginRequired      = &domain.Error{Kind: domain.KindBadRequest, Code: "login_required", Message: "The user is not signed in."}
	ErrConsentRequired    = &domain.Error{Kind: domain.KindBadRequest, Code: "consent_required", Message: "The user has not allowed this application."}
	ErrAccessDenied       = &domain.Error{Kind: domain.KindBadRequest, Code: "access_denied", Message: "The user did not allow this application."}
	ErrInvalidGrant       = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_grant", Message: "The code is invalid, expired, already used, or was issued to another client or redirect URI."}
	ErrInvalidScope       = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_scope", Message: "None of the requested scopes is allowed for this client."}
)

// ErrInvalidClient: the token endpoints could not authenticate the client
// (unknown, wrong or missing secret, or a secret from a public client).
var ErrInvalidClient = &domain.Error{Kind: domain.KindUnauthorized, Code: "invalid_client", Message: "Client authentication failed."}

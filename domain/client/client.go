// Package client holds the applications registered to sign their users in
// through Gatehouse (OAuth 2.0 / OpenID Connect clients) and the rules a
// registration follows: which redirect URIs are acceptable, which grants a
// client of each type may use, which scopes exist.
package client

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// Type says whether a client can keep a secret. The values are stored.
type Type string

// The types.
const (
	// Public clients (browser apps, native and CLI apps) hold no secret:
	// they authenticate nothing at the token endpoint and rely on PKCE.
	Public Type = "public"
	// Confidential clients (server-side apps, services) hold a secret.
	Confidential Type = "confidential"
)

// Grant is an OAuth 2.0 grant type a client may use. The values are stored.
type Grant string

// The grants Gatehouse offers.
const (
	AuthorizationCode Grant = "authorization_code"
	RefreshToken      Grant = "refresh_token"
	ClientCredentials Grant = "client_credentials"
)

// Scopes Gatehouse knows.
const (
	ScopeOpenID        = "openid"
	ScopeEmail         = "email"
	ScopeProfile       = "profile"
	ScopeOfflineAccess = "offline_access"
)

// KnownScopes are the scopes a client may be registered for, in the order
// discovery lists them.
var KnownScopes = []string{ScopeOpenID, ScopeEmail, ScopeProfile, ScopeOfflineAccess}

// Limits of a registration, so that a client stays a small record.
const (
	MaxNameLen      = 100  // characters
	MaxRedirectURIs = 20   // of each kind
	MaxURILen       = 2000 // bytes
)

// SecretPrefix starts every client secret, so that a leaked one is
// recognizable (secret scanners, logs).
const SecretPrefix = "ghc_"

// Client is one registered application. ID is public (it appears in
// tokens as client_id and aud); SecretHash is the SHA-256 of the secret of
// a confidential client and nil for a public one: the secret itself is
// shown once and never kept.
type Client struct {
	ID                     string
	Name                   string
	Type                   Type
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []Grant
	Scopes                 []string
	Consent                bool
	IDTokenAlg             signingkey.Algorithm // RS256 unless the client asks for EdDSA
	SecretHash             *token.Hash
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Errors of a registration.
var (
	ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "No client has this id."}
	ErrExists   = &domain.Error{Kind: domain.KindConflict, Code: "client_exists", Message: "A client with this id already exists."}
	ErrPublic   = &domain.Error{Kind: domain.KindConflict, Code: "public_client", Message: "A public client has no secret; register a confidential client to use one."}
)

// Settings are what an operator chooses for a client. On a change, a nil
// field keeps what the client has.
type Settings struct {
	Name                   *string
	Type                   *Type // set at registration only
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	GrantTypes             *[]Grant
	Scopes                 *[]string
	Consent                *bool
	IDTokenAlg             *signingkey.Algorithm
}

// New registers a client from s as of now. Defaults: grants
// authorization_code and refresh_token, every known scope, no consent
// page, id_tokens signed RS256. A confidential client then needs its
// secret (SetSecret).
func New(id string, s Settings, now time.Time) (*Client, error) {
	c := &Client{
		ID:         id,
		GrantTypes: []Grant{AuthorizationCode, RefreshToken},
		Scopes:     slices.Clone(KnownScopes),
		IDTokenAlg: signingkey.RS256, // every OpenID Connect client supports it
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	var fields []domain.FieldError
	if s.Type == nil || (*s.Type != Public && *s.Type != Confidential) {
		fields = append(fields, domain.FieldError{Field: "type", Code: "invalid_type", Message: `type is "public" or "confidential".`})
	} else {
		c.Type = *s.Type
	}
	if s.Name == nil {
		fields = append(fields, domain.FieldError{Field: "name", Code: "required", Message: "A client needs a name: users see it on the consent page."})
	}
	s.Type = nil
	if err := c.apply(s, fields); err != nil {
		return nil, err
	}
	return c, nil
}

// SetSecret makes hash the hash of c's secret as of now (registration or
// rotation: the secret before stops working), or gives ErrPublic.
func (c *Client) SetSecret(hash token.Hash, now time.Time) error {
	if c.Type != Confidential {
		return ErrPublic
	}
	c.SecretHash = &hash
	c.UpdatedAt = now
	return nil
}

// Change applies s to c as of now. The type is chosen at registration
// and cannot change (a public client has no secret to keep).
func (c *Client) Change(s Settings, now time.Time) error {
	var fields []domain.FieldError
	if s.Type != nil && *s.Type != c.Type {
		fields = append(fields, domain.FieldError{Field: "type", Code: "immutable", Message: "A client's type cannot change; register a new client instead."})
	}
	s.Type = nil
	if err := c.apply(s, fields); err != nil {
		return err
	}
	c.UpdatedAt = now
	return nil
}

// apply checks and sets every field s names, adding to fields what breaks
// a rule; nothing changes unless all of it holds.
func (c *Client) apply(s Settings, fields []domain.FieldError) error {
	next := *c
	if s.Name != nil {
		name := strings.TrimSpace(*s.Name)
		if name == "" || utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name) {
			fields = append(fields, domain.FieldError{Field: "name", Code: "invalid_name", Message: "A client name is 1 to 100 characters."})
		}
		next.Name = name
	}
	if s.RedirectURIs != nil {
		next.RedirectURIs = uriList("redirect_uris", *s.RedirectURIs, &fields)
	}
	if s.PostLogoutRedirectURIs != nil {
		next.PostLogoutRedirectURIs = uriList("post_logout_redirect_uris", *s.PostLogoutRedirectURIs, &fields)
	}
	if s.GrantTypes != nil {
		next.GrantTypes = dedupe(*s.GrantTypes)
		for _, g := range next.GrantTypes {
			if g != AuthorizationCode && g != RefreshToken && g != ClientCredentials {
				fields = append(fields, domain.FieldError{Field: "grant_types", Code: "invalid_grant_type", Message: "grant_types are authorization_code, refresh_token and client_credentials."})
				break
			}
		}
	}
	if s.Scopes != nil {
		next.Scopes = dedupe(*s.Scopes)
		for _, sc := range next.Scopes {
			if !slices.Contains(KnownScopes, sc) {
				fields = append(fields, domain.FieldError{Field: "scopes", Code: "invalid_scope", Message: "scopes are openid, email, profile and offline_access."})
				break
			}
		}
	}
	if s.Consent != nil {
		next.Consent = *s.Consent
	}
	if s.IDTokenAlg != nil {
		if !s.IDTokenAlg.Valid() {
			fields = append(fields, domain.FieldError{Field: "id_token_signed_response_alg", Code: "invalid_alg", Message: "id_token_signed_response_alg is RS256 or EdDSA."})
		}
		next.IDTokenAlg = *s.IDTokenAlg
	}
	fields = append(fields, next.consistent()...)
	if len(fields) > 0 {
		return domain.Validation(fields...)
	}
	*c = next
	return nil
}

// consistent checks the rules between fields: what a grant needs, what a
// type may do.
func (c *Client) consistent() []domain.FieldError {
	var fields []domain.FieldError
	if len(c.GrantTypes) == 0 {
		fields = append(fields, domain.FieldError{Field: "grant_types", Code: "required", Message: "A client needs at least one grant type."})
	}
	if c.Uses(AuthorizationCode) && len(c.RedirectURIs) == 0 {
		fields = append(fields, domain.FieldError{Field: "redirect_uris", Code: "required", Message: "The authorization_code grant needs at least one redirect URI."})
	}
	if c.Uses(RefreshToken) && !c.Uses(AuthorizationCode) {
		fields = append(fields, domain.FieldError{Field: "grant_types", Code: "refresh_without_code", Message: "refresh_token comes with authorization_code: refresh tokens are issued for signed-in users."})
	}
	if c.Type == Public && c.Uses(ClientCredentials) {
		fields = append(fields, domain.FieldError{Field: "grant_types", Code: "public_client_credentials", Message: "client_credentials needs a confidential client: a public client has no secret to prove who it is."})
	}
	return fields
}

// Uses reports whether c may use grant g.
func (c *Client) Uses(g Grant) bool { return slices.Contains(c.GrantTypes, g) }

// Allows reports whether c is registered for scope.
func (c *Client) Allows(scope string) bool { return slices.Contains(c.Scopes, scope) }

func dedupe[T comparable](in []T) []T {
	out := make([]T, 0, len(in))
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// uriList checks a list of redirect URIs, adding a field error per rule
// broken (the first URI that breaks it is named).
func uriList(field string, uris []string, fields *[]domain.FieldError) []string {
	uris = dedupe(uris)
	if len(uris) > MaxRedirectURIs {
		*fields = append(*fields, domain.FieldError{Field: field, Code: "too_many", Message: "At most 20 redirect URIs of each kind."})
		return uris
	}
	for _, u := range uris {
		if fault := RedirectURIFault(u); fault != "" {
			*fields = append(*fields, domain.FieldError{Field: field, Code: "invalid_redirect_uri", Message: fault})
			break
		}
	}
	return uris
}

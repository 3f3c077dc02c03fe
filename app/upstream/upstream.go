// Package upstream holds the use cases of upstream (social) sign-in: a
// browser goes to a provider and comes back with a verified identity,
// which signs in the user it belongs to, creates an account, or is linked
// to the signed-in user, under the linking rules below; a signed-in user
// lists and removes their identities. The providers' protocol (OpenID
// Connect, GitHub's OAuth) is a port (Providers).
package upstream

//go:generate go tool mockgen -destination=../mock/upstream.go -package=mock -mock_names=Providers=MockUpstreamProviders github.com/gatehouse-auth/gatehouse/app/upstream Providers

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Provider is one configured upstream provider.
type Provider struct {
	ID   string
	Name string
	// TrustEmail: an address the provider says is verified is taken as
	// verified (a new account is verified; an existing account with the
	// address is linked).
	TrustEmail bool
}

// Authorization is what one round trip sends to the provider and proves
// at the exchange: the state, the nonce of the id_token (OpenID Connect)
// and the PKCE code verifier (its S256 challenge goes out first).
type Authorization struct {
	State    string
	Nonce    string
	Verifier string
}

// Providers is the upstream providers' protocol.
type Providers interface {
	// List returns every provider, in the configured order.
	List() []Provider
	// Provider finds provider id, or false.
	Provider(id string) (Provider, bool)
	// AuthCodeURL is where the browser goes to sign in at provider id,
	// with a's state, nonce and PKCE challenge.
	AuthCodeURL(ctx context.Context, id string, a Authorization) (string, error)
	// Exchange redeems code at provider id and answers the identity the
	// provider vouched for: for OpenID Connect an id_token verified
	// against the provider's keys (issuer, audience, expiry, a's nonce).
	// An answer that does not verify, or a code the provider refuses, is
	// upstream.ErrNotVerified; a provider that cannot be reached is
	// domain.ErrUnavailable.
	Exchange(ctx context.Context, id, code string, a Authorization) (upstream.Verified, error)
}

// Deps are what the use cases of this package share.
type Deps struct {
	Providers Providers
	Tx        app.TxManager
	Clock     app.Clock
	IDs       app.IDGenerator
}

// lockUser reads the user for change: a missing user is
// domain.ErrUnauthorized (their session outlived them), a disabled one
// domain.ErrAccountDisabled.
func lockUser(ctx context.Context, r app.Repos, id uuid.UUID) (*user.User, error) {
	u, err := r.Users.ByIDForChange(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, domain.ErrUnauthorized
	} else if err != nil {
		return nil, err
	}
	if !u.Active() {
		return nil, domain.ErrAccountDisabled
	}
	return u, nil
}

// Refused is the answer to a callback that carries the provider's error
// (the user declined, the provider refused the request): a 400 that says
// what the provider said, reduced to the characters an OAuth error code
// may have.
func Refused(providerName, code string) error {
	code = strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, code)
	if len(code) > 64 {
		code = code[:64]
	}
	return &domain.Error{Kind: domain.KindBadRequest, Code: "upstream_refused",
		Message: providerName + " did not sign you in (" + code + ")."}
}

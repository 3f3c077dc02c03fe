package http

import (
	"context"
	"encoding/json"
	"errors"
	nethttp "net/http"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/go-jose/go-jose/v4"
	"github.com/gofiber/fiber/v2"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The OpenID Connect provider's JSON endpoints run on
// github.com/zitadel/oidc's op.Server: the library parses and checks each
// request (client credentials from Basic or the form, required fields,
// the grant type allowed for the client) and writes the answers and
// errors the standards define; oidcServer only calls the use cases. The
// paths are one segment below the root, like the pages.
const (
	pathToken      = "/token"
	pathUserinfo   = "/userinfo"
	pathRevoke     = "/revoke"
	pathIntrospect = "/introspect"
	pathEndSession = "/end-session"
	pathJWKS       = "/.well-known/jwks.json"
)

// The use cases of the token endpoints.
type (
	CodeExchanger interface {
		Handle(ctx context.Context, in oauth.ExchangeInput) (*oauth.Grant, error)
	}
	GrantRefresher interface {
		Grant(ctx context.Context, clientID, raw string, meta app.RequestMeta) (*session.TokenPair, error)
	}
	ClientAuthenticator interface {
		Handle(ctx context.Context, clientID, secret string, meta app.RequestMeta) (*client.Client, error)
	}
	// IDTokenSigner signs claims with the current key of alg.
	IDTokenSigner interface {
		SignJWT(alg signingkey.Algorithm, claims any) (string, error)
	}
	ClientTokens interface {
		Handle(ctx context.Context, c *client.Client, scopes []string) (string, app.AccessClaims, error)
	}
	TokenRevoker interface {
		Handle(ctx context.Context, c *client.Client, raw string, meta app.RequestMeta) error
	}
	Introspector interface {
		Handle(ctx context.Context, c *client.Client, raw string) (oauth.Introspection, error)
	}
)

// discovery is the provider's metadata (OpenID Connect Discovery 1.0,
// RFC 8414), with RFC 9207's flag that the library's type lacks.
type discovery struct {
	oidc.DiscoveryConfiguration
	IssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

func newDiscovery(issuer string) discovery {
	at := func(path string) string { return issuer + path }
	return discovery{DiscoveryConfiguration: oidc.DiscoveryConfiguration{
		Issuer:                            issuer,
		AuthorizationEndpoint:             at("/authorize"),
		TokenEndpoint:                     at(pathToken),
		UserinfoEndpoint:                  at(pathUserinfo),
		RevocationEndpoint:                at(pathRevoke),
		IntrospectionEndpoint:             at(pathIntrospect),
		EndSessionEndpoint:                at(pathEndSession),
		JwksURI:                           at(pathJWKS),
		ScopesSupported:                   client.KnownScopes,
		ResponseTypesSupported:            []string{string(oidc.ResponseTypeCode)},
		ResponseModesSupported:            []string{string(oidc.ResponseModeQuery)},
		GrantTypesSupported:               []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{string(signingkey.RS256), string(signingkey.EdDSA)},
		TokenEndpointAuthMethodsSupported: []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone},
		CodeChallengeMethodsSupported:     []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "azp", "at_hash", "email", "email_verified"},
		RequestParameterSupported:         false,
		RequestURIParameterSupported:      false,
	}, IssParameterSupported: true}
}

// registerOIDCRoutes serves discovery (both documents) and the token
// endpoints.
func registerOIDCRoutes(a *fiber.App, uc UseCases, issuer string, obs RequestObserver) {
	doc := newDiscovery(issuer)
	metadata := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		return c.JSON(doc)
	}
	a.Get("/.well-known/openid-configuration", metadata)
	a.Get("/.well-known/oauth-authorization-server", metadata)

	// CORS is the service's own (GATEHOUSE_CORS_ORIGINS, answered by its
	// middleware): a browser app's origin is listed there.
	noCORS := op.WithServerCORSOptions(nil)
	h := op.RegisterServer(&oidcServer{uc: uc, issuer: issuer}, op.Endpoints{
		Token:         op.NewEndpoint(pathToken),
		Userinfo:      op.NewEndpoint(pathUserinfo),
		Revocation:    op.NewEndpoint(pathRevoke),
		Introspection: op.NewEndpoint(pathIntrospect),
	}, noCORS)
	serve := func(c *fiber.Ctx) error {
		r := &oidcRequest{meta: meta(c)}
		c.SetUserContext(context.WithValue(c.UserContext(), oidcRequestKey{}, r))
		// Token answers are never cached (RFC 6749 5.1); userinfo and
		// introspection answers are a user's data.
		NoStore(c)
		if err := serveHTTP(h)(c); err != nil {
			return err
		}
		if c.Response().StatusCode() == fiber.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, challenge(c))
		}
		// A fault or a limit (not a refusal) goes to the one error
		// handler, which logs a fault and answers 500 without its
		// details, or 429 with Retry-After.
		return r.fault
	}
	// The endpoints a client authenticates at count against the per-IP
	// limit of token refresh first.
	limited := limitIP(uc.Guard, limits.Token, func(_ *fiber.Ctx, err error) error { return err })
	a.Post(pathToken, counted(obs), limited, serve)
	a.Post(pathRevoke, limited, serve)
	a.Post(pathIntrospect, limited, serve)
	a.Get(pathUserinfo, serve)
	a.Post(pathUserinfo, serve)
}

// challenge is the WWW-Authenticate of a 401: for userinfo the bearer
// token's (RFC 6750 3), for the client-authenticated endpoints Basic's
// (RFC 6749 5.2).
func challenge(c *fiber.Ctx) string {
	if c.Path() == pathUserinfo {
		return `Bearer error="invalid_token"`
	}
	return `Basic realm="gatehouse"`
}

// tokenGrants and tokenResults are the label values of the token
// requests' metric: anything else is "other".
var (
	tokenGrants  = []string{string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken), string(oidc.GrantTypeClientCredentials)}
	tokenResults = []string{string(oidc.InvalidRequest), string(oidc.InvalidClient), string(oidc.InvalidGrant), string(oidc.UnauthorizedClient),
		string(oidc.UnsupportedGrantType), string(oidc.InvalidScope), string(oidc.ServerError)}
)

// counted tells obs of each answered token request: its grant type and
// result (success, the OAuth error code of the answer, or rate_limited).
func counted(obs RequestObserver) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		if obs == nil {
			return err
		}
		grantType := c.FormValue("grant_type")
		if !slices.Contains(tokenGrants, grantType) {
			grantType = "other"
		}
		result := "success"
		var de *domain.Error
		switch {
		case errors.As(err, &de) && de.Kind == domain.KindRateLimited:
			result = "rate_limited"
		case err != nil:
			result = string(oidc.ServerError)
		case c.Response().StatusCode() != fiber.StatusOK:
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(c.Response().Body(), &body)
			result = "other"
			if slices.Contains(tokenResults, body.Error) {
				result = body.Error
			}
		}
		obs.TokenRequest(grantType, result)
		return err
	}
}

// oidcRequest carries into the library's handlers the request's
// app.RequestMeta (the client IP as the trusted proxies tell it), and back
// out the fault that made a handler answer server_error.
type oidcRequest struct {
	meta  app.RequestMeta
	fault error
}

type oidcRequestKey struct{}

func requestMeta(ctx context.Context) app.RequestMeta {
	if r, ok := ctx.Value(oidcRequestKey{}).(*oidcRequest); ok {
		return r.meta
	}
	return app.RequestMeta{}
}

// oidcServer answers the token endpoints with the use cases.
type oidcServer struct {
	op.UnimplementedServer
	uc     UseCases
	issuer string
}

// VerifyClient authenticates the client of a token, revocation or
// introspection request (client_secret_basic, client_secret_post, or none
// for a public client). Assertions are not accepted.
func (s *oidcServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	if r.Data.ClientAssertion != "" {
		return nil, oidc.ErrInvalidClient().WithDescription("Client assertions are not supported.")
	}
	c, err := s.uc.ClientAuth.Handle(ctx, r.Data.ClientID, r.Data.ClientSecret, requestMeta(ctx))
	if err != nil {
		return nil, oidcError(ctx, err)
	}
	return opClient{c}, nil
}

// CodeExchange redeems an authorization code.
func (s *oidcServer) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	c := r.Client.(opClient).Client
	g, err := s.uc.Exchange.Handle(ctx, oauth.ExchangeInput{
		Client: c, Code: r.Data.Code, RedirectURI: r.Data.RedirectURI, Verifier: r.Data.CodeVerifier, Meta: requestMeta(ctx),
	})
	if err != nil {
		return nil, oidcError(ctx, err)
	}
	return s.tokenResponse(ctx, c, g.TokenPair, g.Nonce)
}

// RefreshToken rotates a grant's refresh token.
func (s *oidcServer) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	c := r.Client.(opClient).Client
	pair, err := s.uc.RefreshGrant.Grant(ctx, c.ID, r.Data.RefreshToken, requestMeta(ctx))
	if err != nil {
		if errors.Is(err, domain.ErrRefreshInvalid) {
			return nil, oidc.ErrInvalidGrant().WithDescription("The refresh token is invalid, expired or revoked.")
		}
		return nil, oidcError(ctx, err)
	}
	return s.tokenResponse(ctx, c, pair, "")
}

// ClientCredentialsExchange issues a confidential client's own access
// token (the library refuses public clients and clients without the
// grant before this runs).
func (s *oidcServer) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	c := r.Client.(opClient).Client
	signed, claims, err := s.uc.ClientTokens.Handle(ctx, c, r.Data.Scope)
	if err != nil {
		return nil, oidcError(ctx, err)
	}
	return op.NewResponse(&oidc.AccessTokenResponse{
		AccessToken: signed, TokenType: oidc.BearerToken, ExpiresIn: uint64(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second), Scope: claims.Scope,
	}), nil
}

// Revocation ends the grant of a token the client presents (RFC 7009):
// 200 whether or not there was anything to end.
func (s *oidcServer) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	if err := s.uc.RevokeToken.Handle(ctx, r.Client.(opClient).Client, r.Data.Token, requestMeta(ctx)); err != nil {
		return nil, oidcError(ctx, err)
	}
	return op.NewResponse(struct{}{}), nil
}

// Introspect tells an authenticated confidential client about a token
// (RFC 7662); an inactive token is {"active": false} and nothing else.
func (s *oidcServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	cc := r.Data.ClientCredentials
	c, err := s.uc.ClientAuth.Handle(ctx, cc.ClientID, cc.ClientSecret, requestMeta(ctx))
	if err != nil {
		return nil, oidcError(ctx, err)
	}
	in, err := s.uc.Introspect.Handle(ctx, c, r.Data.Token)
	if err != nil {
		return nil, oidcError(ctx, err)
	}
	out := &oidc.IntrospectionResponse{Active: in.Active}
	if in.Active {
		out.Scope, out.ClientID, out.Subject, out.Issuer = in.Scope, in.ClientID, in.Subject, s.issuer
		out.Expiration, out.IssuedAt = oidc.FromTime(in.ExpiresAt), oidc.FromTime(in.IssuedAt)
		// RFC 7662's token_type is RFC 6749's: an access token is a
		// bearer token; a refresh token has none.
		if !in.Refresh {
			out.TokenType = oidc.BearerToken
		}
	}
	return op.NewResponse(out), nil
}

// tokenResponse is the token endpoint's answer for a grant's pair: the
// access and refresh tokens, and with the openid scope an id_token signed
// with the client's algorithm.
func (s *oidcServer) tokenResponse(ctx context.Context, c *client.Client, pair *session.TokenPair, nonce string) (*op.Response, error) {
	g := pair.Session
	resp := &oidc.AccessTokenResponse{
		AccessToken: pair.AccessToken, TokenType: oidc.BearerToken, RefreshToken: pair.RefreshToken.Reveal(),
		ExpiresIn: uint64(pair.ExpiresIn / time.Second), Scope: g.Scopes(),
	}
	if slices.Contains(g.Scopes(), client.ScopeOpenID) {
		now := time.Now()
		claims := &idTokenClaims{
			Issuer: s.issuer, Subject: pair.User.ID().String(), Audience: []string{c.ID},
			Expiration: oidc.FromTime(now.Add(pair.ExpiresIn)), IssuedAt: oidc.FromTime(now), AuthTime: oidc.FromTime(g.AuthTime()),
			Nonce: nonce, AMR: g.AMR(), AuthorizedParty: c.ID, SessionID: g.ParentID().String(),
		}
		// at_hash is of the id_token's own algorithm's hash.
		hash, err := oidc.ClaimHash(pair.AccessToken, jose.SignatureAlgorithm(c.IDTokenAlg))
		if err != nil {
			return nil, oidcError(ctx, err)
		}
		claims.AccessTokenHash = hash
		if slices.Contains(g.Scopes(), client.ScopeEmail) {
			verified := pair.User.Verified()
			claims.Email, claims.EmailVerified = pair.User.Email().String(), &verified
		}
		signed, err := s.uc.IDTokens.SignJWT(c.IDTokenAlg, claims)
		if err != nil {
			return nil, oidcError(ctx, err)
		}
		resp.IDToken = signed
	}
	return op.NewResponse(resp), nil
}

// UserInfo answers the bearer's subject and the claims its scopes allow.
func (s *oidcServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	p, err := s.uc.Authenticate.Handle(ctx, r.Data.AccessToken)
	if err != nil {
		if errors.Is(err, domain.ErrUnauthorized) {
			return nil, op.NewStatusError(&oidc.Error{ErrorType: "invalid_token", Description: "The access token is invalid, expired or revoked."}, nethttp.StatusUnauthorized)
		}
		return nil, oidcError(ctx, err)
	}
	info := oauth.Claims(p)
	out := userinfoClaims{Subject: info.Subject.String()}
	if info.HasEmail {
		out.Email, out.EmailVerified = info.Email, &info.EmailVerified
	}
	return op.NewResponse(out), nil
}

// userinfoClaims is the userinfo answer (OpenID Connect Core 5.3.2) with
// the claims the service has. It is not the library's oidc.UserInfo,
// whose encoding marshals its many registered claims, decodes them into a
// map to merge the extra ones (email_verified false needs one) and
// marshals that map again: a sixth of the request's CPU on the server
// when profiled, with garbage for the collector.
type userinfoClaims struct {
	Subject       string `json:"sub"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

// idTokenClaims are the claims of the id_tokens the service issues
// (OpenID Connect Core 2 and 5.1), as the library's oidc.IDTokenClaims
// writes them, in one struct that encoding/json writes in one pass: the
// library's type marshals its registered claims, decodes them into a map
// to merge the extra ones (email_verified false needs one) and marshals
// that map again.
type idTokenClaims struct {
	Issuer          string    `json:"iss"`
	Subject         string    `json:"sub"`
	Audience        []string  `json:"aud"`
	Expiration      oidc.Time `json:"exp"`
	IssuedAt        oidc.Time `json:"iat"`
	AuthTime        oidc.Time `json:"auth_time,omitempty"`
	Nonce           string    `json:"nonce,omitempty"`
	AMR             []string  `json:"amr,omitempty"`
	AuthorizedParty string    `json:"azp"`
	AccessTokenHash string    `json:"at_hash"`
	SessionID       string    `json:"sid"`
	Email           string    `json:"email,omitempty"`
	EmailVerified   *bool     `json:"email_verified,omitempty"`
}

// oidcError is the protocol error of a use case's refusal: its code (the
// use cases speak OAuth's codes) and message. Anything else, a fault or a
// rate limit, is kept for the error handler (see registerOIDCRoutes), and
// a bare server_error for the library, so that no detail of it is
// answered.
func oidcError(ctx context.Context, err error) error {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal || de.Kind == domain.KindUnavailable || de.Kind == domain.KindRateLimited {
		if r, ok := ctx.Value(oidcRequestKey{}).(*oidcRequest); ok {
			r.fault = err
		}
		return oidc.ErrServerError()
	}
	e := &oidc.Error{Description: de.Message}
	switch de.Code {
	case string(oidc.InvalidClient):
		e.ErrorType = oidc.InvalidClient
		return op.NewStatusError(e, nethttp.StatusUnauthorized)
	case string(oidc.InvalidGrant):
		e.ErrorType = oidc.InvalidGrant
	case string(oidc.UnauthorizedClient):
		e.ErrorType = oidc.UnauthorizedClient
	case string(oidc.InvalidScope):
		e.ErrorType = oidc.InvalidScope
	default:
		e.ErrorType = oidc.InvalidRequest
	}
	return e
}

// opClient is a registered client as the library sees it.
type opClient struct{ *client.Client }

func (c opClient) GetID() string                    { return c.ID }
func (c opClient) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c opClient) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }
func (c opClient) ApplicationType() op.ApplicationType {
	if c.Type == client.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.Type == client.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c opClient) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.Client.GrantTypes))
	for _, g := range c.Client.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}
func (c opClient) LoginURL(id string) string            { return "./sign-in?" + pendingParam + "=" + id }
func (c opClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c opClient) IDTokenLifetime() time.Duration       { return 0 }
func (c opClient) DevMode() bool                        { return false }
func (c opClient) IsScopeAllowed(scope string) bool     { return slices.Contains(c.Scopes, scope) }
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c opClient) ClockSkew() time.Duration             { return 0 }
func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	dsession "github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// The token endpoints' tests: the library parses the requests and writes
// the answers; what is checked here is what the adapter makes of the use
// cases' answers.

// codeExchange is the code exchange of the public client "app".
func codeExchange(fields ...string) *nethttp.Request {
	v := url.Values{
		"grant_type": {"authorization_code"}, "code": {"the-code"}, "redirect_uri": {rpRedirect},
		"code_verifier": {"dBjftJeZ4CVP-mJ92ZXRkEjx1LgVCTIY1N0bHyrB3n4"}, "client_id": {"app"},
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	r := formPost("/token", "", v)
	r.Header.Del("Cookie")
	return r
}

// oauthError checks that res is a JSON OAuth error with status and code,
// and returns the body as a map.
// The OpenID Connect library logs its routes through slog's default, as
// serve drops them.
func init() { slog.SetDefault(slog.New(slog.DiscardHandler)) }

func oauthError(t *testing.T, res *nethttp.Response, body []byte, status int, code string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("Content-Type %q: %s", res.Header.Get("Content-Type"), body)
	}
	m := decodeJSON(t, res, body, status)
	if m["error"] != code {
		t.Fatalf("error %v, want %s: %s", m["error"], code, body)
	}
	// Never cached (RFC 6749 5.1); a 401 says how to authenticate
	// (RFC 6749 5.2, RFC 6750 3).
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q", res.Header.Get("Cache-Control"), res.Header.Get("Pragma"))
	}
	if status == 401 && res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("a 401 without WWW-Authenticate")
	}
	return m
}

// knownClient authenticates "app" (public, without a secret) and refuses
// anything else.
func knownClient(_ context.Context, id, secret string, _ app.RequestMeta) (*client.Client, error) {
	if id != "app" || secret != "" {
		return nil, grant.ErrInvalidClient
	}
	return registeredClient(), nil
}

func TestTokenInvalidClient(t *testing.T) {
	t.Parallel()
	f := newOIDC(t) // Exchange unset: reaching it is a 500
	var asked []string
	f.clientAuth.HandleFn = func(ctx context.Context, id, secret string, m app.RequestMeta) (*client.Client, error) {
		asked = append(asked, id+":"+secret)
		if m.IP == "" {
			t.Errorf("client authentication without the request's IP")
		}
		return knownClient(ctx, id, secret, m)
	}
	for name, req := range map[string]*nethttp.Request{
		"unknown client":              codeExchange("client_id", "nobody"),
		"public client with a secret": codeExchange("client_secret", "guess"),
	} {
		res, body := do(t, f.app, req)
		oauthError(t, res, body, 401, "invalid_client")
		if strings.Contains(string(body), "guess") {
			t.Errorf("%s: the answer repeats the secret: %s", name, body)
		}
	}
	basic := codeExchange("client_id", "")
	basic.SetBasicAuth("app", "guess")
	res, body := do(t, f.app, basic)
	oauthError(t, res, body, 401, "invalid_client")
	slices.Sort(asked)
	if !slices.Equal(asked, []string{"app:guess", "app:guess", "nobody:"}) {
		t.Fatalf("client authentication asked %q", asked)
	}
}

func TestTokenInvalidGrant(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	f.clientAuth.HandleFn = knownClient
	var asked []oauth.ExchangeInput
	f.exchange.HandleFn = func(_ context.Context, in oauth.ExchangeInput) (*oauth.Grant, error) {
		asked = append(asked, in)
		return nil, grant.ErrInvalidGrant
	}
	res, body := do(t, f.app, codeExchange())
	oauthError(t, res, body, 400, "invalid_grant")
	if len(asked) != 1 || asked[0].Client.ID != "app" || asked[0].Code != "the-code" || asked[0].RedirectURI != rpRedirect ||
		asked[0].Verifier != "dBjftJeZ4CVP-mJ92ZXRkEjx1LgVCTIY1N0bHyrB3n4" || asked[0].Meta.IP == "" {
		t.Fatalf("Exchange asked %+v", asked)
	}
	// A refresh token refused by its use case is invalid_grant too.
	f.refresh.GrantFn = func(_ context.Context, clientID, raw string, _ app.RequestMeta) (*session.TokenPair, error) {
		if clientID != "app" || raw != "rt" {
			t.Errorf("Grant(%q, %q)", clientID, raw)
		}
		return nil, domain.ErrRefreshInvalid
	}
	res, body = do(t, f.app, codeExchange("grant_type", "refresh_token", "refresh_token", "rt"))
	oauthError(t, res, body, 400, "invalid_grant")
}

// TestTokenFaultSaysNothing: a use case's fault is a 500 (503 when the
// store is unavailable) whose body holds nothing of it.
func TestTokenFaultSaysNothing(t *testing.T) {
	t.Parallel()
	fault := errors.New("pq: password authentication failed for user gatehouse at 10.0.0.5")
	for _, tc := range []struct {
		name   string
		set    func(f *oidcFixture)
		status int
	}{
		{"client authentication", func(f *oidcFixture) {
			f.clientAuth.HandleFn = func(context.Context, string, string, app.RequestMeta) (*client.Client, error) { return nil, fault }
		}, 500},
		{"client authentication, store unavailable", func(f *oidcFixture) {
			f.clientAuth.HandleFn = func(context.Context, string, string, app.RequestMeta) (*client.Client, error) {
				return nil, domain.Unavailable(fault)
			}
		}, 503},
		{"exchange", func(f *oidcFixture) {
			f.clientAuth.HandleFn = knownClient
			f.exchange.HandleFn = func(context.Context, oauth.ExchangeInput) (*oauth.Grant, error) { return nil, fault }
		}, 500},
		{"refresh", func(f *oidcFixture) {
			f.clientAuth.HandleFn = knownClient
			f.refresh.GrantFn = func(context.Context, string, string, app.RequestMeta) (*session.TokenPair, error) { return nil, fault }
		}, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOIDC(t)
			tc.set(f)
			req := codeExchange()
			if tc.name == "refresh" {
				req = codeExchange("grant_type", "refresh_token", "refresh_token", "rt")
			}
			res, body := do(t, f.app, req)
			if res.StatusCode != tc.status || strings.Contains(string(body), "10.0.0.5") || strings.Contains(string(body), "password") {
				t.Fatalf("%d %s, want %d without the fault", res.StatusCode, body, tc.status)
			}
		})
	}
}

// TestTokenIssues: a redeemed code is answered with the grant's tokens,
// and with the openid scope an id_token signed with the client's
// algorithm, naming the client, the browser session, the nonce and the
// sign-in.
func TestTokenIssues(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	f.clientAuth.HandleFn = func(ctx context.Context, id, secret string, m app.RequestMeta) (*client.Client, error) {
		c, err := knownClient(ctx, id, secret, m)
		if c != nil {
			c.IDTokenAlg = signingkey.EdDSA
		}
		return c, err
	}
	authTime := t0.Add(-time.Hour)
	g := dsession.Rehydrate(sessionID, userID, t0, t0, t0.Add(time.Hour), nil, "", "")
	g.GrantedTo("app", []string{"openid", "email"}, userID, []string{"pwd", "otp"}, authTime)
	f.exchange.HandleFn = func(context.Context, oauth.ExchangeInput) (*oauth.Grant, error) {
		return &oauth.Grant{Nonce: "n-0S6", TokenPair: &session.TokenPair{
			AccessToken: "access.jwt", ExpiresIn: 15 * time.Minute, RefreshToken: token.Secret("refresh-secret"),
			SessionID: g.ID(), User: owner(t, "owner@example.com", true), Session: g,
		}}, nil
	}
	var signed []*oidc.IDTokenClaims
	f.idTokens.SignJWTFn = func(alg signingkey.Algorithm, claims any) (string, error) {
		if alg != signingkey.EdDSA {
			t.Errorf("id_token signed %s, want the client's EdDSA", alg)
		}
		// As a client reads them: the payload decoded into the library's
		// type.
		payload, err := json.Marshal(claims)
		if err != nil {
			return "", err
		}
		var c oidc.IDTokenClaims
		if err := json.Unmarshal(payload, &c); err != nil {
			return "", err
		}
		signed = append(signed, &c)
		return "id.jwt", nil
	}
	res, body := do(t, f.app, codeExchange())
	m := decodeJSON(t, res, body, 200)
	if m["access_token"] != "access.jwt" || m["refresh_token"] != "refresh-secret" || m["id_token"] != "id.jwt" ||
		!strings.EqualFold(m["token_type"].(string), "bearer") || m["expires_in"] != float64(900) || m["scope"] != "openid email" {
		t.Fatalf("token response %s", body)
	}
	if len(signed) != 1 {
		t.Fatalf("%d id_tokens signed", len(signed))
	}
	c := signed[0]
	if c.Issuer != oidcIssuer || c.Subject != userID.String() || !slices.Equal(c.Audience, []string{"app"}) || c.Nonce != "n-0S6" ||
		c.SessionID != userID.String() || !c.AuthTime.AsTime().Equal(authTime) || !slices.Equal(c.AuthenticationMethodsReferences, []string{"pwd", "otp"}) ||
		c.Email != "owner@example.com" || !bool(c.EmailVerified) || c.AccessTokenHash == "" || c.AuthorizedParty != "app" ||
		c.Expiration.AsTime().Sub(c.IssuedAt.AsTime()) != 15*time.Minute {
		t.Fatalf("id_token claims %+v", c)
	}
}

func TestUserinfoRefusesWithout(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	f.auth.HandleFn = func(_ context.Context, tok string) (session.Principal, error) {
		if tok != "good-jwt" {
			return session.Principal{}, domain.ErrUnauthorized
		}
		g := dsession.Rehydrate(sessionID, userID, t0, t0, t0.Add(time.Hour), nil, "", "")
		g.GrantedTo("app", []string{"openid"}, userID, nil, t0)
		return session.Principal{UserID: userID, SessionID: sessionID, User: owner(t, "owner@example.com", true), Session: g}, nil
	}
	for name, req := range map[string]*nethttp.Request{
		"no token":       request("GET", "/userinfo", ""),
		"bad token":      request("GET", "/userinfo", "", "Authorization", "Bearer forged"),
		"bad token POST": request("POST", "/userinfo", "", "Authorization", "Bearer forged"),
	} {
		res, body := do(t, f.app, req)
		if res.StatusCode != 401 {
			t.Fatalf("%s: %d %s", name, res.StatusCode, body)
		}
	}
	// The right token sees its subject, and no address without the
	// email scope.
	res, body := do(t, f.app, request("GET", "/userinfo", "", "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 200)
	if m["sub"] != userID.String() || m["email"] != nil {
		t.Fatalf("userinfo %s", body)
	}
}

// TestUserinfoEmailClaims: with the email scope the answer has the
// address and email_verified, also when it is false.
func TestUserinfoEmailClaims(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	unverified := user.Rehydrate(userID, user.RehydrateEmail("owner@example.com"), "$argon2id$stored", true, false, t0, t0, nil, nil)
	f.auth.HandleFn = func(context.Context, string) (session.Principal, error) {
		g := dsession.Rehydrate(sessionID, userID, t0, t0, t0.Add(time.Hour), nil, "", "")
		g.GrantedTo("app", []string{"openid", "email"}, userID, nil, t0)
		return session.Principal{UserID: userID, SessionID: sessionID, User: unverified, Session: g}, nil
	}
	res, body := do(t, f.app, request("GET", "/userinfo", "", "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 200)
	if len(m) != 3 || m["sub"] != userID.String() || m["email"] != "owner@example.com" || m["email_verified"] != false {
		t.Fatalf("userinfo %s", body)
	}
}

// TestDiscovery: both metadata documents are one, at the issuer (the
// public URL), with what the SPEC promises.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	var docs [][]byte
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		res, body := do(t, f.app, request("GET", path, ""))
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
		docs = append(docs, body)
	}
	if string(docs[0]) != string(docs[1]) {
		t.Fatalf("the documents differ:\n%s\n%s", docs[0], docs[1])
	}
	var d map[string]any
	if err := json.Unmarshal(docs[0], &d); err != nil {
		t.Fatal(err)
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range d[k].([]any) {
			out = append(out, v.(string))
		}
		slices.Sort(out)
		return out
	}
	if d["issuer"] != oidcIssuer {
		t.Errorf("issuer %v, want %s", d["issuer"], oidcIssuer)
	}
	for k, want := range map[string][]string{
		"response_types_supported":              {"code"},
		"code_challenge_methods_supported":      {"S256"},
		"grant_types_supported":                 {"authorization_code", "client_credentials", "refresh_token"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      {"email", "offline_access", "openid", "profile"},
	} {
		if got := strs(k); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if algs := strs("id_token_signing_alg_values_supported"); !slices.Contains(algs, "RS256") || !slices.Contains(algs, "EdDSA") {
		t.Errorf("id_token_signing_alg_values_supported = %v", algs)
	}
	if d["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v", d["authorization_response_iss_parameter_supported"])
	}
	for k, path := range map[string]string{
		"authorization_endpoint": "/authorize", "token_endpoint": "/token", "userinfo_endpoint": "/userinfo",
		"revocation_endpoint": "/revoke", "introspection_endpoint": "/introspect", "end_session_endpoint": "/end-session",
		"jwks_uri": "/.well-known/jwks.json",
	} {
		if d[k] != oidcIssuer+path {
			t.Errorf("%s = %v, want %s", k, d[k], oidcIssuer+path)
		}
	}
}

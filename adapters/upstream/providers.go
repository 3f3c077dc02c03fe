package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"golang.org/x/oauth2"
)

var _ appupstream.Providers = (*Providers)(nil)

// Timeout bounds each call to a provider (discovery, keys, the exchange,
// GitHub's API).
const Timeout = 10 * time.Second

// maxBody bounds an API answer read from a provider.
const maxBody = 1 << 20

// Providers are the configured providers. OpenID Connect providers are
// discovered lazily, on their first use, and the result is kept: a
// provider that is down at startup does not stop the service, its sign-in
// answers 503 until it is back, and discovery is tried again on the next
// use.
type Providers struct {
	list   []appupstream.Provider
	byID   map[string]*provider
	client *http.Client
}

type provider struct {
	cfg      ProviderConfig
	redirect string

	mu       sync.Mutex
	oidc     *oidc.Provider // nil until discovered
	verifier *oidc.IDTokenVerifier
}

// New builds the providers of cfgs (from LoadFile); the redirect URI of
// each is publicURL/sign-in/upstream/{id}/callback. client, when nil, is
// a client with Timeout.
func New(cfgs []ProviderConfig, publicURL string, client *http.Client) *Providers {
	if client == nil {
		client = &http.Client{Timeout: Timeout}
	}
	ps := &Providers{byID: map[string]*provider{}, client: client}
	base := strings.TrimRight(publicURL, "/")
	for _, c := range cfgs {
		ps.list = append(ps.list, appupstream.Provider{ID: c.ID, Name: c.Name, TrustEmail: c.TrustEmail})
		ps.byID[c.ID] = &provider{cfg: c, redirect: RedirectURI(base, c.ID)}
	}
	return ps
}

// RedirectURI is the redirect URI to register at provider id.
func RedirectURI(publicURL, id string) string {
	return strings.TrimRight(publicURL, "/") + "/sign-in/upstream/" + id + "/callback"
}

// List returns the providers in the file's order.
func (ps *Providers) List() []appupstream.Provider { return ps.list }

// Provider finds provider id.
func (ps *Providers) Provider(id string) (appupstream.Provider, bool) {
	p, ok := ps.byID[id]
	if !ok {
		return appupstream.Provider{}, false
	}
	return appupstream.Provider{ID: p.cfg.ID, Name: p.cfg.Name, TrustEmail: p.cfg.TrustEmail}, true
}

// ctx carries the client to go-oidc and x/oauth2.
func (ps *Providers) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, ps.client), ps.client)
}

// config is p's OAuth 2.0 client, discovering p first when it is an
// OpenID Connect provider.
func (ps *Providers) config(ctx context.Context, id string) (*provider, *oauth2.Config, error) {
	p, ok := ps.byID[id]
	if !ok {
		return nil, nil, upstream.ErrUnknownProvider
	}
	c := &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.clientSecret, RedirectURL: p.redirect, Scopes: p.cfg.Scopes}
	if p.cfg.Preset == PresetGitHub {
		c.Endpoint = oauth2.Endpoint{AuthURL: or(p.cfg.AuthURL, gitHubAuthURL), TokenURL: or(p.cfg.TokenURL, gitHubTokenURL), AuthStyle: oauth2.AuthStyleInParams}
		return p, c, nil
	}
	op, err := p.discover(ps.ctx(ctx))
	if err != nil {
		return nil, nil, err
	}
	c.Endpoint = op.Endpoint()
	return p, c, nil
}

// discover finds the provider's endpoints once; a failure is kept for no
// one (the next use tries again).
func (p *provider) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oidc != nil {
		return p.oidc, nil
	}
	// The discovery outlives the request that asked for it: the keys it
	// fetches later use the context of each verification.
	op, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, domain.Unavailable(fmt.Errorf("upstream %s: discovery: %w", p.cfg.ID, err))
	}
	p.oidc = op
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return op, nil
}

// AuthCodeURL is the provider's authorization URL for a: state, PKCE S256
// challenge, and for OpenID Connect the nonce.
func (ps *Providers) AuthCodeURL(ctx context.Context, id string, a appupstream.Authorization) (string, error) {
	p, c, err := ps.config(ctx, id)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.Verifier)}
	if p.cfg.Preset == "" {
		opts = append(opts, oidc.Nonce(a.Nonce))
	}
	return c.AuthCodeURL(a.State, opts...), nil
}

// Exchange redeems code with the PKCE verifier and answers the verified
// identity.
func (ps *Providers) Exchange(ctx context.Context, id, code string, a appupstream.Authorization) (upstream.Verified, error) {
	p, c, err := ps.config(ctx, id)
	if err != nil {
		return upstream.Verified{}, err
	}
	ctx = ps.ctx(ctx)
	tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return upstream.Verified{}, exchangeError(p.cfg.ID, err)
	}
	if p.cfg.Preset == PresetGitHub {
		return ps.gitHub(ctx, p, tok)
	}
	return p.verifyIDToken(ctx, c, tok, a.Nonce)
}

// exchangeError tells a code the provider refused (not verified) from a
// provider that could not be reached (unavailable).
func exchangeError(id string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("%w (%s: %s)", upstream.ErrNotVerified, id, re.ErrorCode)
	}
	return domain.Unavailable(fmt.Errorf("upstream %s: exchange: %w", id, err))
}

// verifyIDToken checks the id_token (signature against the provider's
// keys, issuer, audience, expiry) and its nonce, and takes the address
// from it, or from userinfo when it has none.
func (p *provider) verifyIDToken(ctx context.Context, c *oauth2.Config, tok *oauth2.Token, nonce string) (upstream.Verified, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return upstream.Verified{}, fmt.Errorf("%w (%s: no id_token)", upstream.ErrNotVerified, p.cfg.ID)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return upstream.Verified{}, fmt.Errorf("%w (%s: %v)", upstream.ErrNotVerified, p.cfg.ID, err)
	}
	if idt.Nonce != nonce {
		return upstream.Verified{}, fmt.Errorf("%w (%s: nonce)", upstream.ErrNotVerified, p.cfg.ID)
	}
	var claims emailClaims
	if err := idt.Claims(&claims); err != nil {
		return upstream.Verified{}, fmt.Errorf("%w (%s: claims: %v)", upstream.ErrNotVerified, p.cfg.ID, err)
	}
	if claims.Email == "" && p.oidc.UserInfoEndpoint() != "" {
		info, err := p.oidc.UserInfo(ctx, c.TokenSource(ctx, tok))
		if err != nil {
			return upstream.Verified{}, domain.Unavailable(fmt.Errorf("upstream %s: userinfo: %w", p.cfg.ID, err))
		}
		// Userinfo about another subject is not about this user.
		if info.Subject == idt.Subject {
			if err := info.Claims(&claims); err != nil {
				return upstream.Verified{}, fmt.Errorf("%w (%s: userinfo: %v)", upstream.ErrNotVerified, p.cfg.ID, err)
			}
		}
	}
	return upstream.Verified{Subject: idt.Subject, Email: claims.Email, EmailVerified: bool(claims.EmailVerified)}, nil
}

// emailClaims are the address claims of an id_token or userinfo.
type emailClaims struct {
	Email         string   `json:"email"`
	EmailVerified flexBool `json:"email_verified"`
}

// flexBool is a boolean claim that some providers send as a string.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case bool:
		*b = flexBool(t)
	case string:
		*b = flexBool(strings.EqualFold(t, "true"))
	default:
		*b = false
	}
	return nil
}

// gitHub reads the user (its numeric id is the subject) and its primary
// address with whether GitHub verified it.
func (ps *Providers) gitHub(ctx context.Context, p *provider, tok *oauth2.Token) (upstream.Verified, error) {
	api := strings.TrimRight(or(p.cfg.APIURL, gitHubAPIURL), "/")
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
	}
	if err := ps.getJSON(ctx, p.cfg.ID, api+"/user", tok, &u); err != nil {
		return upstream.Verified{}, err
	}
	if u.ID == 0 {
		return upstream.Verified{}, fmt.Errorf("%w (%s: no user id)", upstream.ErrNotVerified, p.cfg.ID)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := ps.getJSON(ctx, p.cfg.ID, api+"/user/emails", tok, &emails); err != nil {
		return upstream.Verified{}, err
	}
	v := upstream.Verified{Subject: strconv.FormatInt(u.ID, 10)}
	for _, e := range emails {
		if e.Primary {
			v.Email, v.EmailVerified = e.Email, e.Verified
		}
	}
	return v, nil
}

// getJSON reads one API answer with the user's token.
func (ps *Providers) getJSON(ctx context.Context, id, url string, tok *oauth2.Token, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	tok.SetAuthHeader(req)
	res, err := ps.client.Do(req)
	if err != nil {
		return domain.Unavailable(fmt.Errorf("upstream %s: %w", id, err))
	}
	defer func() { _ = res.Body.Close() }()
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (%s: API answered %d)", upstream.ErrNotVerified, id, res.StatusCode)
	case res.StatusCode != http.StatusOK:
		return domain.Unavailable(fmt.Errorf("upstream %s: API answered %d", id, res.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxBody)).Decode(dst); err != nil {
		return domain.Unavailable(fmt.Errorf("upstream %s: API answer: %w", id, err))
	}
	return nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

package client_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRedirectURIFault(t *testing.T) {
	long := "https://app.example.com/" + string(slices.Repeat([]byte("a"), client.MaxURILen))
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com/callback?x=1", true},
		{"https://app.example.com:8443/cb%20x", true},
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:4180/oauth2/callback", true},
		{"http://[::1]:9000/cb", true},
		{"http://localhost:3000/login/generic_oauth", true},
		{"com.example.app:/oauth2redirect", true},
		{"com.example.app://callback", true},
		{"http://app.example.com/callback", false},     // http off loopback
		{"http://127.0.0.1.example.com/cb", false},     // not loopback
		{"https://app.example.com/cb#frag", false},     // fragment
		{"https://app.example.com/cb#", false},         // empty fragment
		{"https://user@app.example.com/cb", false},     // userinfo
		{"https://app.example.com/a/../cb", false},     // dot segment
		{"https://app.example.com/a/%2E%2E/cb", false}, // encoded dot segment
		{"/callback", false},                           // relative
		{"app.example.com/callback", false},            // no scheme
		{"https:///callback", false},                   // no host
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{"myapp://callback", false}, // custom scheme without a domain
		{"https://app.example.com/ cb", false},
		{"https://app.example.com\\@evil.example/", false},
		{long, false},
	} {
		if fault := client.RedirectURIFault(tc.uri); (fault == "") != tc.ok {
			t.Errorf("RedirectURIFault(%q) = %q, want ok=%v", tc.uri, fault, tc.ok)
		}
	}
}

func fieldCodes(t *testing.T, err error) []string {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation {
		t.Fatalf("err = %v, want a validation error", err)
	}
	var codes []string
	for _, f := range de.Fields {
		codes = append(codes, f.Field+":"+f.Code)
	}
	return codes
}

func TestNewDefaults(t *testing.T) {
	c, err := client.New("c1", client.Settings{Name: ptr(" Grafana "), Type: ptr(client.Public), RedirectURIs: &[]string{"https://g.example.com/cb", "https://g.example.com/cb"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Grafana" || c.Type != client.Public || !slices.Equal(c.RedirectURIs, []string{"https://g.example.com/cb"}) ||
		!slices.Equal(c.GrantTypes, []client.Grant{client.AuthorizationCode, client.RefreshToken}) ||
		!slices.Equal(c.Scopes, client.KnownScopes) || c.Consent || c.IDTokenAlg != signingkey.RS256 ||
		c.SecretHash != nil || !c.CreatedAt.Equal(t0) || !c.UpdatedAt.Equal(t0) {
		t.Fatalf("client = %+v", c)
	}
	if err := c.SetSecret(token.Hash{1}, t0); !errors.Is(err, client.ErrPublic) {
		t.Fatalf("SetSecret on a public client = %v", err)
	}
}

func TestNewRefusals(t *testing.T) {
	cb := &[]string{"https://app.example.com/cb"}
	for name, tc := range map[string]struct {
		s    client.Settings
		want []string
	}{
		"no type":        {client.Settings{Name: ptr("a"), RedirectURIs: cb}, []string{"type:invalid_type"}},
		"bad type":       {client.Settings{Name: ptr("a"), Type: ptr(client.Type("spa")), RedirectURIs: cb}, []string{"type:invalid_type"}},
		"no name":        {client.Settings{Type: ptr(client.Public), RedirectURIs: cb}, []string{"name:required"}},
		"blank name":     {client.Settings{Name: ptr("  "), Type: ptr(client.Public), RedirectURIs: cb}, []string{"name:invalid_name"}},
		"no redirect":    {client.Settings{Name: ptr("a"), Type: ptr(client.Public)}, []string{"redirect_uris:required"}},
		"bad redirect":   {client.Settings{Name: ptr("a"), Type: ptr(client.Public), RedirectURIs: &[]string{"http://evil.example/cb"}}, []string{"redirect_uris:invalid_redirect_uri"}},
		"bad logout uri": {client.Settings{Name: ptr("a"), Type: ptr(client.Public), RedirectURIs: cb, PostLogoutRedirectURIs: &[]string{"https://a.example/#x"}}, []string{"post_logout_redirect_uris:invalid_redirect_uri"}},
		"too many":       {client.Settings{Name: ptr("a"), Type: ptr(client.Public), RedirectURIs: ptr(manyURIs(client.MaxRedirectURIs + 1))}, []string{"redirect_uris:too_many"}},
		"bad grant":      {client.Settings{Name: ptr("a"), Type: ptr(client.Confidential), RedirectURIs: cb, GrantTypes: &[]client.Grant{"password"}}, []string{"grant_types:invalid_grant_type"}},
		"implicit":       {client.Settings{Name: ptr("a"), Type: ptr(client.Confidential), RedirectURIs: cb, GrantTypes: &[]client.Grant{"implicit"}}, []string{"grant_types:invalid_grant_type"}},
		"no grant":       {client.Settings{Name: ptr("a"), Type: ptr(client.Confidential), RedirectURIs: cb, GrantTypes: &[]client.Grant{}}, []string{"grant_types:required"}},
		"refresh alone":  {client.Settings{Name: ptr("a"), Type: ptr(client.Confidential), GrantTypes: &[]client.Grant{client.RefreshToken}}, []string{"grant_types:refresh_without_code"}},
		"public service": {client.Settings{Name: ptr("a"), Type: ptr(client.Public), GrantTypes: &[]client.Grant{client.ClientCredentials}}, []string{"grant_types:public_client_credentials"}},
		"bad scope":      {client.Settings{Name: ptr("a"), Type: ptr(client.Public), RedirectURIs: cb, Scopes: &[]string{"openid", "admin"}}, []string{"scopes:invalid_scope"}},
		"bad alg":        {client.Settings{Name: ptr("a"), Type: ptr(client.Public), RedirectURIs: cb, IDTokenAlg: ptr(signingkey.Algorithm("HS256"))}, []string{"id_token_signed_response_alg:invalid_alg"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.New("c1", tc.s, t0)
			if got := fieldCodes(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v", got, tc.want)
			}
		})
	}
}

func manyURIs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "https://app.example.com/cb" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return out
}

func TestServiceClient(t *testing.T) {
	c, err := client.New("svc", client.Settings{Name: ptr("billing"), Type: ptr(client.Confidential), GrantTypes: &[]client.Grant{client.ClientCredentials}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Uses(client.ClientCredentials) || c.Uses(client.AuthorizationCode) {
		t.Fatalf("grants = %v", c.GrantTypes)
	}
	t1 := t0.Add(time.Hour)
	if err := c.SetSecret(token.Hash{7}, t1); err != nil || *c.SecretHash != (token.Hash{7}) || !c.UpdatedAt.Equal(t1) {
		t.Fatalf("SetSecret = %v, client %+v", err, c)
	}
}

func TestChange(t *testing.T) {
	c, err := client.New("c1", client.Settings{Name: ptr("app"), Type: ptr(client.Confidential), RedirectURIs: &[]string{"https://app.example.com/cb"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	before := *c
	t1 := t0.Add(time.Minute)
	// A change that breaks a rule changes nothing.
	if err := c.Change(client.Settings{Name: ptr("renamed"), RedirectURIs: &[]string{}}, t1); err == nil {
		t.Fatal("emptying redirect_uris of a code client was accepted")
	}
	if c.Name != before.Name || !slices.Equal(c.RedirectURIs, before.RedirectURIs) || !c.UpdatedAt.Equal(t0) {
		t.Fatalf("a refused change changed the client: %+v", c)
	}
	if got := fieldCodes(t, c.Change(client.Settings{Type: ptr(client.Public)}, t1)); !slices.Equal(got, []string{"type:immutable"}) {
		t.Fatalf("type change fields = %v", got)
	}
	// Naming the type it has is no change.
	if err := c.Change(client.Settings{Type: ptr(client.Confidential), Consent: ptr(true), IDTokenAlg: ptr(signingkey.EdDSA), Scopes: &[]string{"openid"}}, t1); err != nil {
		t.Fatal(err)
	}
	if !c.Consent || c.IDTokenAlg != signingkey.EdDSA || !slices.Equal(c.Scopes, []string{"openid"}) || !c.Allows("openid") || c.Allows("email") ||
		c.Name != "app" || !c.UpdatedAt.Equal(t1) || !c.CreatedAt.Equal(t0) {
		t.Fatalf("changed client = %+v", c)
	}
}

func TestRedirectAllowedMatchesExactlyButALoopbackPort(t *testing.T) {
	registered := []string{"https://app.example.com/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1", "com.example.app:/cb", "http://localhost:3000/cb"}
	for raw, want := range map[string]bool{
		"https://app.example.com/cb":      true,
		"https://APP.example.com/cb":      false,
		"HTTPS://app.example.com/cb":      false,
		"https://app.example.com/cb/":     false,
		"https://app.example.com/cb?a=1":  false,
		"https://app.example.com/cb#f":    false,
		"https://app.example.com/%63b":    false,
		"https://app.example.com/x/../cb": false,
		"https://u@app.example.com/cb":    false,
		"https://app.example.com:443/cb":  false,
		"http://127.0.0.1/cb":             true,
		"http://127.0.0.1:51234/cb":       true,
		"http://127.0.0.1:51234/cb/":      false,
		"http://127.0.0.1:51234/cb?a=1":   false,
		"http://127.0.0.1:5@evil.test/cb": false,
		"http://127.0.0.2:5/cb":           false,
		"http://[::1]/cb?x=1":             true,
		"http://[::1]:9/cb?x=1":           true,
		"http://[::1]:9/cb":               false,
		"http://localhost:3000/cb":        true,
		"http://localhost:3001/cb":        false,
		"com.example.app:/cb":             true,
		"com.example.app:/cb2":            false,
		"":                                false,
	} {
		if got := client.RedirectAllowed(registered, raw); got != want {
			t.Errorf("RedirectAllowed(%q) = %v, want %v", raw, got, want)
		}
	}
}

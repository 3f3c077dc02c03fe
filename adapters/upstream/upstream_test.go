package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	adapter "github.com/gatehouse-auth/gatehouse/adapters/upstream"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/internal/upstreamtest"
)

// writeFiles writes the providers file (with SECRET replaced by the
// path of a secret file holding secret) and returns its path.
func writeFiles(t *testing.T, yaml, secret string) string {
	t.Helper()
	dir := t.TempDir()
	sec := filepath.Join(dir, "secret")
	if err := os.WriteFile(sec, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "SECRET", sec)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFileRefusesWhatCannotWork(t *testing.T) {
	for name, c := range map[string]struct{ yaml, secret, want string }{
		"no providers":      {"providers: []\n", "s", "no providers"},
		"unknown field":     {"providers:\n- id: a\n  nmae: A\n", "s", "nmae"},
		"bad id":            {"providers:\n- id: Bad_ID\n  name: A\n  issuer: https://a.example\n  client_id: c\n  client_secret_file: SECRET\n", "s", "id must be"},
		"duplicate id":      {"providers:\n- {id: a, name: A, issuer: 'https://a.example', client_id: c, client_secret_file: SECRET}\n- {id: a, name: B, issuer: 'https://b.example', client_id: c, client_secret_file: SECRET}\n", "s", "used twice"},
		"no name":           {"providers:\n- {id: a, issuer: 'https://a.example', client_id: c, client_secret_file: SECRET}\n", "s", "name is required"},
		"plain http":        {"providers:\n- {id: a, name: A, issuer: 'http://a.example', client_id: c, client_secret_file: SECRET}\n", "s", "https"},
		"issuer and preset": {"providers:\n- {id: a, name: A, issuer: 'https://a.example', preset: github, client_id: c, client_secret_file: SECRET}\n", "s", "not both"},
		"unknown preset":    {"providers:\n- {id: a, name: A, preset: gitlab, client_id: c, client_secret_file: SECRET}\n", "s", "unknown preset"},
		"neither":           {"providers:\n- {id: a, name: A, client_id: c, client_secret_file: SECRET}\n", "s", "give issuer"},
		"no client id":      {"providers:\n- {id: a, name: A, issuer: 'https://a.example', client_secret_file: SECRET}\n", "s", "client_id"},
		"missing secret":    {"providers:\n- {id: a, name: A, issuer: 'https://a.example', client_id: c, client_secret_file: /nonexistent/secret}\n", "s", "client_secret_file"},
		"empty secret":      {"providers:\n- {id: a, name: A, issuer: 'https://a.example', client_id: c, client_secret_file: SECRET}\n", " ", "is empty"},
		"no openid scope":   {"providers:\n- {id: a, name: A, issuer: 'https://a.example', client_id: c, client_secret_file: SECRET, scopes: [email]}\n", "s", "openid"},
		"urls with issuer":  {"providers:\n- {id: a, name: A, issuer: 'https://a.example', auth_url: 'https://a.example/x', client_id: c, client_secret_file: SECRET}\n", "s", "go with a preset"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := adapter.LoadFile(writeFiles(t, c.yaml, c.secret))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadFile = %v, want an error saying %q", err, c.want)
			}
		})
	}
}

func TestLoadFileDefaults(t *testing.T) {
	ps, err := adapter.LoadFile(writeFiles(t, `providers:
  - id: corp
    name: Corp
    issuer: http://127.0.0.1:9/
    client_id: gatehouse
    client_secret_file: SECRET
  - id: github
    name: GitHub
    preset: github
    client_id: gh
    client_secret_file: SECRET
    trust_email: true
`, "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || strings.Join(ps[0].Scopes, " ") != "openid email" || ps[0].TrustEmail || !ps[1].TrustEmail ||
		strings.Join(ps[1].Scopes, " ") != "read:user user:email" {
		t.Fatalf("providers %+v", ps)
	}
}

// roundTrip begins at provider id and follows the provider's redirect,
// returning the code and the state it brought back.
func roundTrip(t *testing.T, ps *adapter.Providers, id string, a appupstream.Authorization) (code, state string) {
	t.Helper()
	u, err := ps.AuthCodeURL(context.Background(), id, a)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("authorization answered %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !strings.HasPrefix(back.String(), "https://id.example/sign-in/upstream/"+id+"/callback?") {
		t.Fatalf("back at %s", back)
	}
	return back.Query().Get("code"), back.Query().Get("state")
}

var auth = appupstream.Authorization{State: "state-1", Nonce: "nonce-1", Verifier: strings.Repeat("v", 43)}

func TestOpenIDConnectRoundTrip(t *testing.T) {
	op := upstreamtest.NewOIDC(t, "gatehouse", "s3cret")
	cfgs, err := adapter.LoadFile(writeFiles(t, "providers:\n- {id: corp, name: Corp, issuer: '"+op.URL+"', client_id: gatehouse, client_secret_file: SECRET}\n", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	ps := adapter.New(cfgs, "https://id.example/", nil)
	op.SetUser(upstreamtest.User{Subject: "u-1", Email: "ada@example.com", EmailVerified: true})
	code, state := roundTrip(t, ps, "corp", auth)
	if state != auth.State {
		t.Fatalf("state %q", state)
	}
	v, err := ps.Exchange(context.Background(), "corp", code, auth)
	if err != nil || v != (upstream.Verified{Subject: "u-1", Email: "ada@example.com", EmailVerified: true}) {
		t.Fatalf("Exchange = %+v, %v", v, err)
	}
	if _, err := ps.Exchange(context.Background(), "corp", code, auth); !errors.Is(err, upstream.ErrNotVerified) {
		t.Fatalf("a code redeemed twice: %v", err)
	}
	code, _ = roundTrip(t, ps, "corp", auth)
	wrong := auth
	wrong.Verifier = strings.Repeat("w", 43)
	if _, err := ps.Exchange(context.Background(), "corp", code, wrong); !errors.Is(err, upstream.ErrNotVerified) {
		t.Fatalf("another PKCE verifier: %v", err)
	}
	op.SetWrongNonce(true)
	code, _ = roundTrip(t, ps, "corp", auth)
	if _, err := ps.Exchange(context.Background(), "corp", code, auth); !errors.Is(err, upstream.ErrNotVerified) {
		t.Fatalf("an id_token with another nonce: %v", err)
	}
}

func TestProviderDownIsUnavailableNotFatal(t *testing.T) {
	cfgs, err := adapter.LoadFile(writeFiles(t, "providers:\n- {id: corp, name: Corp, issuer: 'http://127.0.0.1:1', client_id: c, client_secret_file: SECRET}\n", "s"))
	if err != nil {
		t.Fatal(err)
	}
	ps := adapter.New(cfgs, "https://id.example", nil)
	if _, err := ps.AuthCodeURL(context.Background(), "corp", auth); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("AuthCodeURL of a provider that is down: %v", err)
	}
}

func TestGitHubPreset(t *testing.T) {
	gh := upstreamtest.NewGitHub(t, "gh-client", "gh-secret")
	cfgs, err := adapter.LoadFile(writeFiles(t, "providers:\n- {id: github, name: GitHub, preset: github, client_id: gh-client, client_secret_file: SECRET, auth_url: '"+
		gh.URL+"/login/oauth/authorize', token_url: '"+gh.URL+"/login/oauth/access_token', api_url: '"+gh.URL+"/api'}\n", "gh-secret"))
	if err != nil {
		t.Fatal(err)
	}
	ps := adapter.New(cfgs, "https://id.example", nil)
	gh.SetUser(upstreamtest.User{Subject: "4242", Email: "octo@example.com", EmailVerified: false})
	code, _ := roundTrip(t, ps, "github", auth)
	v, err := ps.Exchange(context.Background(), "github", code, auth)
	if err != nil || v != (upstream.Verified{Subject: "4242", Email: "octo@example.com", EmailVerified: false}) {
		t.Fatalf("Exchange = %+v, %v", v, err)
	}
}

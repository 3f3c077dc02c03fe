// Package upstream signs users in at upstream identity providers: OpenID
// Connect providers (discovered from their issuer; the id_token verified
// with go-oidc against the provider's keys) and GitHub (its OAuth 2.0
// endpoints and its API), through golang.org/x/oauth2. It implements the
// app's upstream.Providers port; the rules live in app/upstream.
package upstream

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"gopkg.in/yaml.v3"
)

// PresetGitHub is GitHub's OAuth 2.0 (github.com, or GitHub Enterprise
// Server with auth_url, token_url and api_url).
const PresetGitHub = "github"

// GitHub's endpoints on github.com.
const (
	gitHubAuthURL  = "https://github.com/login/oauth/authorize"
	gitHubTokenURL = "https://github.com/login/oauth/access_token"
	gitHubAPIURL   = "https://api.github.com"
)

// ProviderConfig is one entry of the providers file.
type ProviderConfig struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Issuer is an OpenID Connect provider's issuer (discovered), or ""
	// with a Preset.
	Issuer string `yaml:"issuer"`
	Preset string `yaml:"preset"`
	// ClientID and ClientSecretFile are the client registered at the
	// provider; the secret is read at startup.
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	TrustEmail       bool     `yaml:"trust_email"`
	// AuthURL, TokenURL and APIURL override a preset's endpoints (GitHub
	// Enterprise Server: https://HOST/login/oauth/authorize,
	// https://HOST/login/oauth/access_token, https://HOST/api/v3).
	AuthURL  string `yaml:"auth_url"`
	TokenURL string `yaml:"token_url"`
	APIURL   string `yaml:"api_url"`

	// clientSecret is the content of ClientSecretFile, trimmed.
	clientSecret string
}

type file struct {
	Providers []ProviderConfig `yaml:"providers"`
}

// LoadFile reads and checks the providers file (GATEHOUSE_UPSTREAM_PROVIDERS_FILE)
// and each provider's client secret file. Every problem is an error that
// names the provider and the field.
func LoadFile(path string) ([]ProviderConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("upstream providers file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("upstream providers file %s: %w", path, err)
	}
	if len(f.Providers) == 0 {
		return nil, fmt.Errorf("upstream providers file %s: no providers (list them under a top-level providers key)", path)
	}
	seen := map[string]bool{}
	for i := range f.Providers {
		p := &f.Providers[i]
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("upstream providers file %s, provider %d (%q): %w", path, i+1, p.ID, err)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("upstream providers file %s: provider id %q is used twice", path, p.ID)
		}
		seen[p.ID] = true
	}
	return f.Providers, nil
}

// check validates p and reads its secret.
func (p *ProviderConfig) check() error {
	if !upstream.ValidProviderID(p.ID) {
		return errors.New("id must be lower-case letters, digits and '-' (at most 64)")
	}
	if strings.TrimSpace(p.Name) == "" {
		return errors.New("name is required (shown as \"Continue with NAME\")")
	}
	switch {
	case p.Issuer != "" && p.Preset != "":
		return errors.New("give either issuer (OpenID Connect) or preset, not both")
	case p.Issuer != "":
		if err := checkURL(p.Issuer); err != nil {
			return fmt.Errorf("issuer: %w", err)
		}
		if p.AuthURL != "" || p.TokenURL != "" || p.APIURL != "" {
			return errors.New("auth_url, token_url and api_url go with a preset; an issuer is discovered")
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"openid", "email"}
		}
		if !slices.Contains(p.Scopes, "openid") {
			return errors.New("scopes of an OpenID Connect provider must include openid")
		}
	case p.Preset == PresetGitHub:
		for name, u := range map[string]*string{"auth_url": &p.AuthURL, "token_url": &p.TokenURL, "api_url": &p.APIURL} {
			if *u == "" {
				continue
			}
			if err := checkURL(*u); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"read:user", "user:email"}
		}
	case p.Preset != "":
		return fmt.Errorf("unknown preset %q (known: %s)", p.Preset, PresetGitHub)
	default:
		return errors.New("give issuer (OpenID Connect) or preset: github")
	}
	if p.ClientID == "" {
		return errors.New("client_id is required")
	}
	if p.ClientSecretFile == "" {
		return errors.New("client_secret_file is required")
	}
	b, err := os.ReadFile(p.ClientSecretFile)
	if err != nil {
		return fmt.Errorf("client_secret_file: %w", err)
	}
	p.clientSecret = strings.TrimSpace(string(b))
	if p.clientSecret == "" {
		return fmt.Errorf("client_secret_file %s is empty", p.ClientSecretFile)
	}
	return nil
}

// checkURL takes https, or http on a loopback address (for testing).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be an absolute URL without user, query or fragment")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && client.Loopback(u.Hostname()):
		return nil
	}
	return errors.New("must use https (http only on a loopback address, for testing)")
}

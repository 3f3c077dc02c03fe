package app

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// Require panics when a use case is built with a missing dependency, so a
// wiring mistake fails at startup rather than on the first request.
func Require(deps map[string]any) {
	for name, d := range deps {
		if d == nil {
			panic("app: missing dependency " + name)
		}
		if v := reflect.ValueOf(d); (v.Kind() == reflect.Pointer || v.Kind() == reflect.Func || v.Kind() == reflect.Map || v.Kind() == reflect.Interface) && v.IsNil() {
			panic("app: missing dependency " + name)
		}
	}
}

// Links builds the links put in mails. They always start at the configured
// public URL, never at a Host or X-Forwarded-Host header.
type Links struct{ base string }

// NewLinks validates publicURL (absolute http or https, no query).
func NewLinks(publicURL string) (Links, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return Links{}, fmt.Errorf("public URL %q must be an absolute http(s) URL without query", publicURL)
	}
	return Links{base: strings.TrimRight(u.String(), "/")}, nil
}

// Base is the public URL without a trailing slash.
func (l Links) Base() string { return l.base }

// VerifyEmail is the hosted verification page for s.
func (l Links) VerifyEmail(s token.Secret) string {
	return l.base + "/verify-email?token=" + s.Reveal()
}

// ResetPassword is the hosted reset page for s.
func (l Links) ResetPassword(s token.Secret) string {
	return l.base + "/reset-password?token=" + s.Reveal()
}

// ForgotPassword is the hosted page where a reset can be requested.
func (l Links) ForgotPassword() string { return l.base + "/forgot-password" }

// IssueOneTimeToken makes a fresh token of purpose for userID and stores its
// hash through r, which invalidates the older ones of that purpose.
func IssueOneTimeToken(ctx context.Context, r Repos, rnd io.Reader, userID uuid.UUID, purpose token.Purpose, now time.Time, ttl time.Duration) (token.Secret, error) {
	secret, hash, err := token.NewSecret(rnd)
	if err != nil {
		return "", err
	}
	t, err := token.Issue(hash, userID, purpose, now, ttl)
	if err != nil {
		return "", err
	}
	if err := r.Tokens.Issue(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

package http

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/google/uuid"
)

// FuzzAuthorize: whatever the authorization request's query (sent as a GET
// query or a POSTed form), and whatever the use case decides, the answer
// is a 4xx page that sends the browser nowhere, or a 303 to the sign-in or
// consent page of a kept request, or a 303 to a redirect URI the client
// registered (one the use case accepted) carrying the issuer; never a
// 5xx, never a Location elsewhere. The use case answers as the real one
// does: at the redirect URI it accepted, with the request's state.
func FuzzAuthorize(f *testing.F) {
	valid := authQuery().Encode()
	for _, seed := range []string{
		valid,
		"",
		"client_id=app",
		valid + "&redirect_uri=https%3A%2F%2Fevil.example.com%2Fcb",
		valid + "&client_id=app",
		authQuery("redirect_uri", "http://127.0.0.1:8123/cb").Encode(),
		authQuery("redirect_uri", "http://127.0.0.1:0/cb").Encode(),
		authQuery("redirect_uri", "http://[::1]:8123/cb").Encode(),
		authQuery("redirect_uri", "https://app.example.com@evil.example.com/cb").Encode(),
		authQuery("redirect_uri", "https://app.example.com/cb#frag").Encode(),
		authQuery("redirect_uri", "https://app.example.com/cb?next=https://evil.example.com").Encode(),
		authQuery("request", "eyJhbGciOiJub25lIn0.e30.").Encode(),
		authQuery("request_uri", "https://evil.example.com/r").Encode(),
		authQuery("response_type", "token").Encode(),
		authQuery("response_mode", "form_post").Encode(),
		authQuery("prompt", "none").Encode(),
		authQuery("prompt", "none login").Encode(),
		authQuery("prompt", "select_account").Encode(),
		authQuery("max_age", "-1").Encode(),
		authQuery("max_age", "99999999999999999999").Encode(),
		authQuery("code_challenge_method", "plain").Encode(),
		authQuery("state", "\x00\r\nLocation: https://evil.example.com/").Encode(),
		authQuery("scope", strings.Repeat("openid ", 500)).Encode(),
		"pending=" + pendingRequest.String(),
		"pending=" + pendingRequest.String() + "&pending=x",
		"pending=not-a-uuid",
		"%zz=1&client_id=app",
		"client_id=app;redirect_uri=x",
	} {
		for outcome := range byte(5) {
			f.Add(seed, outcome, outcome%2 == 0)
		}
	}

	fx := newOIDC(f)
	var mu sync.Mutex
	var accepted []string // the redirect URIs the use case accepted
	fx.authorize.ClientFn = func(_ context.Context, id, redirectURI string) (*client.Client, error) {
		c := registeredClient()
		if id != c.ID {
			return nil, grant.ErrUnknownClient
		}
		if !client.RedirectAllowed(c.RedirectURIs, redirectURI) {
			return nil, grant.ErrRedirectURI
		}
		mu.Lock()
		accepted = append(accepted, redirectURI)
		mu.Unlock()
		return c, nil
	}
	var outcome byte
	decide := func(r *grant.Request, c *client.Client) (*oauth.Outcome, error) {
		out := &oauth.Outcome{Request: r, Client: c}
		switch outcome % 5 {
		case 0:
			out.Code = "the-code"
		case 1:
			out.Refused = grant.ErrLoginRequired
		case 2:
			out.SignIn = true
		case 3:
			out.Consent = true
		case 4:
			out.Refused = grant.ErrPKCERequired
		}
		return out, nil
	}
	fx.authorize.BeginFn = func(_ context.Context, c *client.Client, in oauth.AuthorizeInput) (*oauth.Outcome, error) {
		return decide(&grant.Request{ID: pendingRequest, ClientID: c.ID, RedirectURI: in.RedirectURI, State: in.State}, c)
	}
	fx.authorize.ContinueFn = func(_ context.Context, id uuid.UUID, _ string, _ app.RequestMeta) (*oauth.Outcome, error) {
		if id != pendingRequest {
			return nil, grant.ErrRequestGone
		}
		mu.Lock()
		accepted = append(accepted, rpRedirect)
		mu.Unlock()
		return decide(&grant.Request{ID: id, ClientID: "app", RedirectURI: rpRedirect, State: "kept"}, registeredClient())
	}

	f.Fuzz(func(t *testing.T, query string, o byte, post bool) {
		mu.Lock()
		accepted, outcome = nil, o
		mu.Unlock()
		raw := requestSafe(query)
		var req *nethttp.Request
		if post {
			req = httptest.NewRequest("POST", "/authorize", strings.NewReader(raw))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest("GET", "/authorize", nil)
			req.URL.RawQuery = raw
		}
		res, err := fx.app.Test(req, -1)
		if err != nil {
			t.Fatalf("app.Test: %v", err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ok := slices.Clone(accepted)
		mu.Unlock()
		if msg := authorizeAnswerFault(res, ok); msg != "" {
			t.Fatalf("%s %q: %d %s: %s\n%s", req.Method, raw, res.StatusCode, res.Header.Get("Location"), msg, body)
		}
	})
}

// requestSafe percent-encodes the bytes that cannot stand in a request
// line or a form body as they are, so that every query reaches the
// handler (decoded, it is still any byte string).
func requestSafe(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// authorizeAnswerFault says what is wrong with an answer of /authorize,
// "" when nothing is; accepted are the redirect URIs the use case took.
func authorizeAnswerFault(res *nethttp.Response, accepted []string) string {
	loc := res.Header.Get("Location")
	switch {
	case res.StatusCode >= 500:
		return "a 5xx"
	case res.StatusCode >= 400:
		if loc != "" {
			return "a refusal with a Location"
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			return "a refusal that is not a page"
		}
		return ""
	case res.StatusCode != nethttp.StatusSeeOther:
		return "neither a refusal nor a 303"
	}
	for _, page := range []string{"./sign-in?pending=", "./consent?pending="} {
		if id, ok := strings.CutPrefix(loc, page); ok {
			if _, err := uuid.Parse(id); err != nil || id != pendingRequest.String() {
				return "a page of another request"
			}
			return ""
		}
	}
	base, query, _ := strings.Cut(loc, "?")
	if !slices.Contains(accepted, base) || !client.RedirectAllowed(registeredClient().RedirectURIs, base) {
		return "a redirect to a URI the client did not register"
	}
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("iss") != oidcIssuer || q.Get("code") == "" && q.Get("error") == "" {
		return "a redirect without the issuer and a code or an error"
	}
	return ""
}

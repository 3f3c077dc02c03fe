package http

import (
	"context"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/session"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

type stubUpstream struct {
	BeginFn    func(ctx context.Context, in appupstream.BeginInput) (appupstream.Begun, error)
	CallbackFn func(ctx context.Context, in appupstream.CallbackInput) (*appupstream.Result, error)
}

func (s *stubUpstream) Providers() []appupstream.Provider {
	return []appupstream.Provider{{ID: "corp", Name: "Corp SSO"}}
}

func (s *stubUpstream) Begin(ctx context.Context, in appupstream.BeginInput) (appupstream.Begun, error) {
	return s.BeginFn(ctx, in)
}

func (s *stubUpstream) Callback(ctx context.Context, in appupstream.CallbackInput) (*appupstream.Result, error) {
	return s.CallbackFn(ctx, in)
}

func upstreamApp(up *stubUpstream) *fiber.App {
	return NewServer(Config{PublicURL: "https://id.example"}, nil, UseCases{
		Upstream: up, Guard: &stubIPLimiter{}, LinkState: &stubLinkState{}, Ready: func(context.Context) error { return nil },
	})
}

func TestSignInPageOffersTheProviders(t *testing.T) {
	app := upstreamApp(&stubUpstream{})
	res, body := do(t, app, request(fiber.MethodGet, "/sign-in", ""))
	want := `<a href="./sign-in/upstream/corp">Continue with Corp SSO</a>`
	if res.StatusCode != nethttp.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("sign-in page: %d, want %s in:\n%s", res.StatusCode, want, body)
	}
}

func TestUpstreamStartBindsTheStateToTheBrowser(t *testing.T) {
	var began appupstream.BeginInput
	app := upstreamApp(&stubUpstream{BeginFn: func(_ context.Context, in appupstream.BeginInput) (appupstream.Begun, error) {
		began = in
		if in.Provider != "corp" {
			return appupstream.Begun{}, upstream.ErrUnknownProvider
		}
		return appupstream.Begun{URL: "https://sso.example/auth?state=s", State: token.Secret("the-state")}, nil
	}})
	res, _ := do(t, app, request(fiber.MethodGet, "/sign-in/upstream/corp", ""))
	if res.StatusCode != nethttp.StatusSeeOther || res.Header.Get("Location") != "https://sso.example/auth?state=s" {
		t.Fatalf("start: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	ck := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-gatehouse_upstream=the-state", "HttpOnly", "secure", "SameSite=Lax", "path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if began.LinkTo.String() != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("a browser without a session links to %s", began.LinkTo)
	}
	do(t, app, request(fiber.MethodGet, "/sign-in/upstream/corp?pending=7d5a1c8e-4f9b-4c2d-9e8f-0a1b2c3d4e5f", ""))
	if began.Pending.String() != "7d5a1c8e-4f9b-4c2d-9e8f-0a1b2c3d4e5f" {
		t.Errorf("the pending request is not kept: %s", began.Pending)
	}
	res, body := do(t, app, request(fiber.MethodGet, "/sign-in/upstream/nobody", ""))
	if res.StatusCode != nethttp.StatusNotFound || !strings.Contains(string(body), "no sign-in provider") || strings.Contains(res.Header.Get("Set-Cookie"), "upstream") {
		t.Fatalf("unknown provider: %d %s", res.StatusCode, body)
	}
}

func TestUpstreamCallback(t *testing.T) {
	var got appupstream.CallbackInput
	stub := &stubUpstream{}
	app := upstreamApp(stub)
	callback := func(cookie string) (*nethttp.Response, string) {
		req := request(fiber.MethodGet, "/sign-in/upstream/corp/callback?state=the-state&code=c0de", "")
		if cookie != "" {
			req.Header.Set("Cookie", "__Host-gatehouse_upstream="+cookie)
		}
		res, body := do(t, app, req)
		return res, string(body)
	}
	t.Run("refused: a page that says what to do, the state cookie dropped", func(t *testing.T) {
		stub.CallbackFn = func(_ context.Context, in appupstream.CallbackInput) (*appupstream.Result, error) {
			got = in
			return nil, upstream.ErrFlowInvalid
		}
		res, body := callback("another-state")
		if res.StatusCode != nethttp.StatusBadRequest || !strings.Contains(body, "another browser") || !strings.Contains(body, `href="../../../sign-in"`) {
			t.Fatalf("refusal: %d %s", res.StatusCode, body)
		}
		if got.State != "the-state" || got.BrowserState != "another-state" || got.Code != "c0de" || got.Provider != "corp" {
			t.Fatalf("callback input %+v", got)
		}
		if ck := res.Header.Get("Set-Cookie"); !strings.Contains(ck, "__Host-gatehouse_upstream=;") {
			t.Fatalf("state cookie kept: %q", ck)
		}
	})
	t.Run("an account to sign in to first", func(t *testing.T) {
		stub.CallbackFn = func(context.Context, appupstream.CallbackInput) (*appupstream.Result, error) {
			return nil, upstream.ErrLinkFirst
		}
		if res, body := callback("the-state"); res.StatusCode != nethttp.StatusConflict || !strings.Contains(body, "first sign in to that account") {
			t.Fatalf("link first: %d %s", res.StatusCode, body)
		}
	})
	t.Run("signed in: the session cookie, back to the sign-in page", func(t *testing.T) {
		stub.CallbackFn = func(context.Context, appupstream.CallbackInput) (*appupstream.Result, error) {
			return &appupstream.Result{Outcome: appupstream.SignedIn, Login: &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: "browser-secret"}}}, nil
		}
		res, _ := callback("the-state")
		if res.StatusCode != nethttp.StatusSeeOther || res.Header.Get("Location") != "../../../sign-in" {
			t.Fatalf("signed in: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if cks := strings.Join(res.Header.Values("Set-Cookie"), "\n"); !strings.Contains(cks, "__Host-gatehouse_session=browser-secret") {
			t.Fatalf("cookies %s", cks)
		}
	})
	t.Run("signed in for a pending authorization request: back into it", func(t *testing.T) {
		pending := uuid.MustParse("7d5a1c8e-4f9b-4c2d-9e8f-0a1b2c3d4e5f")
		stub.CallbackFn = func(context.Context, appupstream.CallbackInput) (*appupstream.Result, error) {
			return &appupstream.Result{Outcome: appupstream.SignedIn, Pending: pending,
				Login: &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: "browser-secret"}}}, nil
		}
		res, _ := callback("the-state")
		if res.StatusCode != nethttp.StatusSeeOther || res.Header.Get("Location") != "../../../authorize?pending="+pending.String() {
			t.Fatalf("signed in: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("the code step posts back to the sign-in page", func(t *testing.T) {
		stub.CallbackFn = func(context.Context, appupstream.CallbackInput) (*appupstream.Result, error) {
			return &appupstream.Result{Outcome: appupstream.SignedIn, Login: &session.LoginResult{MFAToken: "mfa-token"}}, nil
		}
		res, body := callback("the-state")
		if res.StatusCode != nethttp.StatusOK || !strings.Contains(body, `action="../../../sign-in"`) || !strings.Contains(body, `value="mfa-token"`) {
			t.Fatalf("code step: %d %s", res.StatusCode, body)
		}
	})
}

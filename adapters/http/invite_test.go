package http

import (
	"context"
	"net/url"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// TestInvitationPageSpeaksOfAnInvitation: the invitation link's page says
// "Set your password" and welcomes the user to the app, never "new
// password"; its GET consumes nothing (the reset stub is unset then);
// after the post it says the password is set, never that it was changed or
// that sessions were signed out. Refusals and the page without a token say
// what to do.
func TestInvitationPageSpeaksOfAnInvitation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.pagesApp(PageConfig{AppName: "Acme", PasswordMinLength: 16})

	live := liveLink(token.PurposeInvite)
	res, body := do(t, a, request("GET", "/accept-invite?token="+live, ""))
	page := checkPage(t, res, body, 200)
	wantIn(t, "invitation form", page, "<title>Set your password · Acme</title>", "<h1>Set your password</h1>", "Welcome to Acme.",
		`<label for="password">Password</label>`, `<button type="submit">Set password</button>`, `minlength="16"`,
		`name="token" value="`+live+`"`)
	notIn(t, "invitation form", page, "new password", "New password", "Choose a new password")

	f.reset.HandleFn = func(_ context.Context, raw, pw string, m app.RequestMeta) error {
		if raw != "the-token" {
			return domain.ErrInvalidToken
		}
		if pw != "a brand new passphrase" || m.IP == "" {
			t.Errorf("asked with %q, meta %+v", pw, m)
		}
		return nil
	}
	res, body = do(t, a, postForm("/accept-invite", url.Values{"token": {"the-token"}, "password": {"a brand new passphrase"}}))
	page = checkPage(t, res, body, 200)
	wantIn(t, "invitation accepted", page, `class="ok"`, "Your password is set; you can sign in.", "<h1>Set your password</h1>")
	notIn(t, "invitation accepted", page, "changed", "signed out", "<form")

	res, body = do(t, a, postForm("/accept-invite", url.Values{"token": {"abc"}, "password": {"a brand new passphrase"}}))
	page = checkPage(t, res, body, 400)
	wantIn(t, "refused invitation", page, "This invitation link cannot set a password", "new invitation", `href="./forgot-password"`)
	notIn(t, "refused invitation", page, "<form")

	for _, path := range []string{"/accept-invite", "/accept-invite?token="} {
		res, body = do(t, a, request("GET", path, ""))
		page = checkPage(t, res, body, 200)
		wantIn(t, path, page, "link from the invitation mail", `href="./forgot-password"`, `class="info"`)
		notIn(t, path, page, "<form")
	}
}

// TestPasswordLinkPagesTakeEitherLink: an invitation mailed before this
// version pointed at /reset-password and a reset link may be opened on the
// invitation page: both pages hand their link to the one reset use case
// (which takes either kind and refuses every other, see password.Reset),
// and both show its refusal.
func TestPasswordLinkPagesTakeEitherLink(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/reset-password", "/accept-invite"} {
		f := newFixture(t)
		var asked []string
		f.reset.HandleFn = func(_ context.Context, raw, _ string, _ app.RequestMeta) error {
			asked = append(asked, raw)
			if raw == "other-kind" {
				return domain.ErrInvalidToken
			}
			return nil
		}
		res, body := do(t, f.public, postForm(path, url.Values{"token": {"either-kind"}, "password": {"a brand new passphrase"}}))
		checkPage(t, res, body, 200)
		res, body = do(t, f.public, postForm(path, url.Values{"token": {"other-kind"}, "password": {"a brand new passphrase"}}))
		checkPage(t, res, body, 400)
		if len(asked) != 2 || asked[0] != "either-kind" || asked[1] != "other-kind" {
			t.Errorf("%s asked the reset with %q", path, asked)
		}
	}
}

package http

import (
	"context"
	"crypto/rand"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"go.uber.org/mock/gomock"
)

// expectPasswordSet lets one password be set with tok (a reset or an
// invitation) of an active user, without the notice mail.
func (f *fixture) expectPasswordSet(t *testing.T, tok *token.OneTimeToken) {
	t.Helper()
	f.expectTx(2)
	f.rTokens.EXPECT().ByHashForChange(gomock.Any(), tok.Hash()).Return(tok, nil).Times(2)
	f.rUsers.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "someone@example.com", true), nil)
	f.hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil)
	f.rTokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(owner(t, "someone@example.com", true), nil)
	f.rUsers.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	f.rSessions.EXPECT().RevokeAll(gomock.Any(), userID, gomock.Any(), t0).Return(0, nil)
	f.rTokens.EXPECT().InvalidateUnused(gomock.Any(), userID, t0, gomock.Any()).Return(0, nil)
	f.rAudit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
}

// TestInvitationPageSpeaksOfAnInvitation: the invitation link's page says
// "Set your password" and welcomes the user to the app, never "new
// password"; its GET consumes nothing (strict mocks); after the post it
// says the password is set, never that it was changed or that sessions
// were signed out. Refusals and the page without a token say what to do.
func TestInvitationPageSpeaksOfAnInvitation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.pagesApp(t, PageConfig{AppName: "Acme", PasswordMinLength: 16}, false)

	live := f.liveLink(t, token.PurposeInvite)
	res, body := do(t, a, request("GET", "/accept-invite?token="+live, ""))
	page := checkPage(t, res, body, 200)
	wantIn(t, "invitation form", page, "<title>Set your password · Acme</title>", "<h1>Set your password</h1>", "Welcome to Acme.",
		`<label for="password">Password</label>`, `<button type="submit">Set password</button>`, `minlength="16"`,
		`name="token" value="`+live+`"`)
	secret, hash, _ := token.NewSecret(rand.Reader)
	notIn(t, "invitation form", page, "new password", "New password", "Choose a new password")

	tok, err := token.Issue(hash, userID, token.PurposeInvite, t0.Add(-time.Hour), 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.expectPasswordSet(t, tok)
	// No "password changed" notice: strict outbox mock.
	res, body = do(t, a, postForm("/accept-invite", url.Values{"token": {secret.Reveal()}, "password": {"a brand new passphrase"}}))
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
// invitation page: each page sets the password with either kind of link,
// and refuses every other kind.
func TestPasswordLinkPagesTakeEitherLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path    string
		purpose token.Purpose
		status  int
	}{
		{"/reset-password", token.PurposeInvite, 200},
		{"/accept-invite", token.PurposeResetPassword, 200},
		{"/accept-invite", token.PurposeVerifyEmail, 400},
		{"/reset-password", token.PurposeChangeEmail, 400},
	} {
		f := newFixture(t)
		a := f.pagesApp(t, PageConfig{}, false)
		secret, hash, _ := token.NewSecret(rand.Reader)
		tok, err := token.Issue(hash, userID, tc.purpose, t0.Add(-time.Minute), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if tc.status == 200 {
			f.expectPasswordSet(t, tok)
			f.rOutbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), t0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
				if m.Kind != app.MailPasswordChanged || tc.purpose != token.PurposeResetPassword {
					t.Errorf("%s with %s: mail %s", tc.path, tc.purpose, m.Kind)
				}
				return nil
			}).MaxTimes(1)
		} else {
			f.expectTx(1)
			f.rTokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
		}
		res, body := do(t, a, postForm(tc.path, url.Values{"token": {secret.Reveal()}, "password": {"a brand new passphrase"}}))
		checkPage(t, res, body, tc.status)
	}
}

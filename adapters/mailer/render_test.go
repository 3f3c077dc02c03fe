package mailer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/app"
)

// A realistic token: 32 random bytes, base64url without padding.
const testToken = "q7Zx-_9aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4"

func newRenderer(t *testing.T) *mailer.Renderer {
	t.Helper()
	r, err := mailer.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	verify := "https://auth.example.com/verify-email?token=" + testToken
	reset := "https://auth.example.com/reset-password?token=" + testToken
	tests := []struct {
		kind    app.MailKind
		data    map[string]string
		subject string
		links   []string
		words   []string
	}{
		{app.MailVerifyEmail, map[string]string{"link": verify}, "Verify your email address", []string{verify}, []string{"confirm"}},
		{app.MailAlreadyRegistered, map[string]string{"login_link": "https://auth.example.com/login", "reset_link": "https://auth.example.com/forgot-password"},
			"Someone tried to register", []string{"https://auth.example.com/login", "https://auth.example.com/forgot-password"}, []string{"ignore", "reset"}},
		{app.MailResetPassword, map[string]string{"link": reset}, "Reset your Gatehouse password", []string{reset}, []string{"new password"}},
		{app.MailPasswordChanged, nil, "password was changed", nil, []string{"was not you", "reset your password"}},
		{app.MailPasswordChanged, map[string]string{"reset_link": "https://auth.example.com/forgot-password"}, "password was changed",
			[]string{"https://auth.example.com/forgot-password"}, []string{"was not you"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			subject, text, html, err := r.Render(app.OutboundMail{Kind: tt.kind, To: "a@example.com", Data: tt.data})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(subject, tt.subject) {
				t.Errorf("subject %q does not contain %q", subject, tt.subject)
			}
			if !strings.Contains(text, "Gatehouse") || !strings.Contains(html, "Gatehouse") {
				t.Error("product name missing")
			}
			for _, l := range tt.links {
				if !strings.Contains(text, "\n"+l+"\n") {
					t.Errorf("text does not contain the link verbatim on its own line:\n%s", text)
				}
				if !strings.Contains(html, `href="`+l+`"`) {
					t.Errorf("html does not contain href=%q:\n%s", l, html)
				}
			}
			for _, w := range tt.words {
				if !strings.Contains(text, w) {
					t.Errorf("text does not contain %q:\n%s", w, text)
				}
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") {
				t.Errorf("html does not start with a doctype")
			}
			if strings.Contains(text, "<no value>") || strings.Contains(html, "<no value>") {
				t.Error("template rendered a missing value")
			}
		})
	}
}

func TestRenderHTMLEscapes(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	link := `https://auth.example.com/verify-email?token=abc&x="><script>alert(1)</script>`
	_, text, html, err := r.Render(app.OutboundMail{Kind: app.MailVerifyEmail, Data: map[string]string{"link": link}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, `"><`) {
		t.Errorf("html not escaped:\n%s", html)
	}
	if !strings.Contains(html, "token=abc&amp;x=") {
		t.Errorf("html does not escape & in the link:\n%s", html)
	}
	// The text part is not HTML: it carries the link as is.
	if !strings.Contains(text, link) {
		t.Errorf("text does not contain the link verbatim:\n%s", text)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	tests := []struct {
		name string
		m    app.OutboundMail
		want error
	}{
		{"unknown kind", app.OutboundMail{Kind: "nope"}, mailer.ErrUnknownKind},
		{"reset request is not a mail", app.OutboundMail{Kind: app.ResetRequest, Data: map[string]string{"link": "https://x/y"}}, mailer.ErrUnknownKind},
		{"verify without data", app.OutboundMail{Kind: app.MailVerifyEmail}, mailer.ErrMissingLink},
		{"verify empty link", app.OutboundMail{Kind: app.MailVerifyEmail, Data: map[string]string{"link": ""}}, mailer.ErrMissingLink},
		{"verify relative link", app.OutboundMail{Kind: app.MailVerifyEmail, Data: map[string]string{"link": "/verify-email?token=" + testToken}}, mailer.ErrMissingLink},
		{"verify javascript link", app.OutboundMail{Kind: app.MailVerifyEmail, Data: map[string]string{"link": "javascript:alert(1)"}}, mailer.ErrMissingLink},
		{"verify link with newline", app.OutboundMail{Kind: app.MailVerifyEmail, Data: map[string]string{"link": "https://x/verify-email?token=a\nb"}}, mailer.ErrMissingLink},
		{"reset wrong key", app.OutboundMail{Kind: app.MailResetPassword, Data: map[string]string{"reset_link": "https://x/y"}}, mailer.ErrMissingLink},
		{"already registered without reset link", app.OutboundMail{Kind: app.MailAlreadyRegistered, Data: map[string]string{"login_link": "https://x/login"}}, mailer.ErrMissingLink},
		{"already registered without login link", app.OutboundMail{Kind: app.MailAlreadyRegistered, Data: map[string]string{"reset_link": "https://x/reset"}}, mailer.ErrMissingLink},
		{"password changed with bad optional link", app.OutboundMail{Kind: app.MailPasswordChanged, Data: map[string]string{"reset_link": ""}}, mailer.ErrMissingLink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, text, html, err := r.Render(tt.m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if subject != "" || text != "" || html != "" {
				t.Error("output on error")
			}
			if strings.Contains(err.Error(), testToken) {
				t.Error("error contains the token")
			}
		})
	}
}

// TestNamedRendererNamesTheProduct: GATEHOUSE_APP_NAME replaces
// "Gatehouse" in the subject and both bodies of every kind that names the
// product, and nowhere is the default name left.
func TestNamedRendererNamesTheProduct(t *testing.T) {
	t.Parallel()
	const name = "Acme Ünicode & Co"
	r, err := mailer.NewNamedRenderer(name)
	if err != nil {
		t.Fatal(err)
	}
	if r.Product() != name {
		t.Errorf("Product() = %q", r.Product())
	}
	links := map[string]string{
		"link": "https://auth.example.com/x?token=" + testToken, "login_link": "https://auth.example.com/login",
		"reset_link": "https://auth.example.com/forgot-password",
	}
	for _, kind := range []app.MailKind{
		app.MailVerifyEmail, app.MailAlreadyRegistered, app.MailResetPassword, app.MailPasswordChanged,
		app.MailInvite, app.MailAccountDeleted, app.MailConfirmEmailChange, app.MailEmailChangeRequested,
	} {
		t.Run(string(kind), func(t *testing.T) {
			subject, text, html, err := r.Render(app.OutboundMail{Kind: kind, To: "a@example.com", Data: links})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(subject+text+html, mailer.DefaultProduct) {
				t.Errorf("the mail still says %q:\n%s\n%s\n%s", mailer.DefaultProduct, subject, text, html)
			}
			if !strings.Contains(text, name) || !strings.Contains(html, "Acme Ünicode &amp; Co") {
				t.Errorf("the bodies do not name %q:\n%s\n%s", name, text, html)
			}
			if kind != app.MailAlreadyRegistered && !strings.Contains(subject, name) {
				t.Errorf("subject %q does not name %q", subject, name)
			}
		})
	}

	def, err := mailer.NewNamedRenderer("")
	if err != nil || def.Product() != mailer.DefaultProduct {
		t.Errorf(`NewNamedRenderer("") = %v, %v; want the default name`, def, err)
	}
	for _, bad := range []string{" ", "Acme\r\nBcc: x@example.com", "Acme\x00", strings.Repeat("a", mailer.MaxProductLength+1), "\xff"} {
		if _, err := mailer.NewNamedRenderer(bad); err == nil {
			t.Errorf("NewNamedRenderer(%q) = nil error", bad)
		}
	}
}

// TestLinkMailsStateTheRealLifetime: a link mail says how long its link
// works, in words, from Data["expires_in"], in both bodies; a bad value is
// an error, never a mail that says something else.
func TestLinkMailsStateTheRealLifetime(t *testing.T) {
	r, err := mailer.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	link := "https://auth.example.com/x?token=" + testToken
	for _, tc := range []struct {
		kind    app.MailKind
		seconds string
		want    string
	}{
		{app.MailResetPassword, "1800", "expires in 30 minutes"},
		{app.MailVerifyEmail, "86400", "expires in 24 hours"},
		{app.MailConfirmEmailChange, "259200", "expires in 3 days"},
		{app.MailInvite, "259200", "expires in 3 days"},
		{app.MailVerifyEmail, "3600", "expires in 1 hour"},
	} {
		_, text, html, err := r.Render(app.OutboundMail{Kind: tc.kind, Data: map[string]string{"link": link, "expires_in": tc.seconds}})
		if err != nil {
			t.Fatal(err)
		}
		for what, body := range map[string]string{"text": text, "html": html} {
			if !strings.Contains(body, tc.want) || strings.Contains(body, "soon") {
				t.Errorf("%s %s body with expires_in=%s does not say %q:\n%s", tc.kind, what, tc.seconds, tc.want, body)
			}
		}
	}
	for _, bad := range []string{"0", "-5", "soon", "1e3"} {
		if _, _, _, err := r.Render(app.OutboundMail{Kind: app.MailResetPassword, Data: map[string]string{"link": link, "expires_in": bad}}); !errors.Is(err, mailer.ErrMissingData) {
			t.Errorf("expires_in=%q: err = %v, want ErrMissingData", bad, err)
		}
	}
}

func TestLifetime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", time.Minute: "1 minute", 90 * time.Minute: "90 minutes",
		time.Hour: "1 hour", 24 * time.Hour: "24 hours", 36 * time.Hour: "36 hours",
		48 * time.Hour: "2 days", 72 * time.Hour: "3 days", 30 * time.Second: "30 seconds",
	} {
		if got := mailer.Lifetime(d); got != want {
			t.Errorf("Lifetime(%v) = %q, want %q", d, got, want)
		}
	}
}

// The notices of the second factor: on, off (by the owner or an operator),
// and a recovery code used, with how many remain.
func TestRenderMFANotices(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	for _, c := range []struct {
		kind    app.MailKind
		data    map[string]string
		subject string
		words   []string
		not     []string
	}{
		{app.MailMFAEnabled, nil, "Two-factor authentication is on", []string{"recovery codes", "reset your password"}, nil},
		{app.MailMFADisabled, map[string]string{"by": "owner"}, "turned off", []string{"only your password", "reset your password"}, []string{"administrator"}},
		{app.MailMFADisabled, map[string]string{"by": "operator"}, "turned off", []string{"by an administrator", "contact the administrators"}, nil},
		{app.MailRecoveryCodeUsed, map[string]string{"remaining": "7"}, "recovery code was used", []string{"7 of your recovery codes remain"}, nil},
	} {
		subject, text, html, err := r.Render(app.OutboundMail{Kind: c.kind, To: "a@example.com", Data: c.data})
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		if !strings.Contains(subject, c.subject) || !strings.Contains(subject, "Gatehouse") {
			t.Errorf("%s: subject %q", c.kind, subject)
		}
		for _, w := range c.words {
			if !strings.Contains(text, w) || !strings.Contains(html, w) {
				t.Errorf("%s: %q missing:\n%s\n%s", c.kind, w, text, html)
			}
		}
		for _, w := range c.not {
			if strings.Contains(text, w) {
				t.Errorf("%s: %q present:\n%s", c.kind, w, text)
			}
		}
		if strings.Contains(text, "<no value>") || !strings.HasPrefix(html, "<!DOCTYPE html>") {
			t.Errorf("%s: bad render", c.kind)
		}
	}
	// The count is a number or the mail is not sent (a permanent error).
	for _, bad := range []map[string]string{nil, {"remaining": ""}, {"remaining": "<b>"}, {"remaining": "12345"}} {
		if _, _, _, err := r.Render(app.OutboundMail{Kind: app.MailRecoveryCodeUsed, Data: bad}); !errors.Is(err, mailer.ErrMissingData) {
			t.Errorf("Render with %v = %v", bad, err)
		}
	}
}

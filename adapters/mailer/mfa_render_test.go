package mailer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/app"
)

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

// Package password holds the use cases of password recovery and change.
package password

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// Forgot records a password-reset request. The request path does the same
// work whatever the address, by construction: one counter and one outbox
// insert. The outbox worker resolves the address and, for a known active
// user, issues the reset token and mails the stored address.
type Forgot struct {
	outbox app.Outbox
	guard  *limits.Guard
	ids    app.IDGenerator
	clock  app.Clock
}

// NewForgot builds the use case. outbox works outside any transaction.
func NewForgot(outbox app.Outbox, guard *limits.Guard, ids app.IDGenerator, clock app.Clock) *Forgot {
	return &Forgot{outbox: outbox, guard: guard, ids: ids, clock: clock}
}

// Handle validates the address and records the request. Over the
// per-address mail limit it records nothing and answers the same.
func (h *Forgot) Handle(ctx context.Context, rawEmail string) error {
	email, err := user.ParseEmail(rawEmail)
	if err != nil {
		return err
	}
	ok, err := h.guard.AllowMail(ctx, app.MailResetPassword, email)
	if err != nil || !ok {
		return err
	}
	return h.outbox.Enqueue(ctx, app.OutboundMail{ID: h.ids.NewID(), Kind: app.ResetRequest, To: email.String()}, h.clock.Now())
}

// Package password holds the use cases of password recovery and change.
package password

import (
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
)

// Forgot records a password-reset request; the outbox worker issues the
// reset token to a known active user and mails the stored address.
type Forgot struct{ *limits.MailRequest }

// NewForgot builds the use case. outbox works outside any transaction.
func NewForgot(outbox app.Outbox, guard *limits.Guard, ids app.IDGenerator, clock app.Clock) *Forgot {
	return &Forgot{limits.NewMailRequest(outbox, guard, ids, clock, app.MailResetPassword, app.ResetRequest)}
}

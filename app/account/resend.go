package account

import (
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
)

// ResendVerification records a request for a fresh verification mail; the
// outbox worker mails only a known, active, unverified user.
type ResendVerification struct{ *limits.MailRequest }

// NewResendVerification builds the use case. outbox works outside any transaction.
func NewResendVerification(outbox app.Outbox, guard *limits.Guard, ids app.IDGenerator, clock app.Clock) *ResendVerification {
	return &ResendVerification{limits.NewMailRequest(outbox, guard, ids, clock, app.MailVerifyEmail, app.VerifyRequest)}
}

package account

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// ResendVerification records a request for a fresh verification mail. The
// request path does the same work whatever the address (one counter, one
// insert); the outbox worker resolves the address later and mails only a
// known, active, unverified user (see outbox.Worker).
type ResendVerification struct {
	outbox app.Outbox
	guard  *limits.Guard
	ids    app.IDGenerator
	clock  app.Clock
}

// NewResendVerification builds the use case. outbox works outside any transaction.
func NewResendVerification(outbox app.Outbox, guard *limits.Guard, ids app.IDGenerator, clock app.Clock) *ResendVerification {
	return &ResendVerification{outbox: outbox, guard: guard, ids: ids, clock: clock}
}

// Handle validates the address and records the request.
func (h *ResendVerification) Handle(ctx context.Context, rawEmail string) error {
	email, err := user.ParseEmail(rawEmail)
	if err != nil {
		return err
	}
	ok, err := h.guard.AllowMail(ctx, app.MailVerifyEmail, email)
	if err != nil || !ok {
		return err
	}
	return h.outbox.Enqueue(ctx, app.OutboundMail{ID: h.ids.NewID(), Kind: app.VerifyRequest, To: email.String()}, h.clock.Now())
}

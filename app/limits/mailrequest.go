package limits

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// MailRequest records a request for a mail about an address (a reset
// link, a fresh verification link). The request path does the same work
// whatever the address, by construction: one counter and one outbox
// insert; the outbox worker resolves the address later (see
// outbox.Worker). Over the per-address mail limit it records nothing and
// answers the same.
type MailRequest struct {
	outbox app.Outbox
	guard  *Guard
	ids    app.IDGenerator
	clock  app.Clock
	// mail is the kind the limit counts; request the kind recorded.
	mail, request app.MailKind
}

// NewMailRequest builds the use case for mail, recorded as request.
// outbox works outside any transaction.
func NewMailRequest(outbox app.Outbox, guard *Guard, ids app.IDGenerator, clock app.Clock, mail, request app.MailKind) *MailRequest {
	return &MailRequest{outbox: outbox, guard: guard, ids: ids, clock: clock, mail: mail, request: request}
}

// Handle validates the address and records the request.
func (h *MailRequest) Handle(ctx context.Context, rawEmail string) error {
	email, err := user.ParseEmail(rawEmail)
	if err != nil {
		return err
	}
	ok, err := h.guard.AllowMail(ctx, h.mail, email)
	if err != nil || !ok {
		return err
	}
	return h.outbox.Enqueue(ctx, app.OutboundMail{ID: h.ids.NewID(), Kind: h.request, To: email.String()}, h.clock.Now())
}

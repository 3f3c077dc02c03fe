// Package webhook tells applications what happens to users and sessions:
// the operators' webhook endpoints (Endpoints) and the worker that
// delivers the events recorded for them (Worker), signed as the Standard
// Webhooks specification says, retried for a day, in order per user.
package webhook

//go:generate go tool mockgen -destination=../mock/webhook.go -package=mock -mock_names=Deliveries=MockWebhookDeliveries,Sender=MockWebhookSender,Resolver=MockWebhookResolver,Observer=MockWebhookObserver github.com/gatehouse-auth/gatehouse/app/webhook Deliveries,Sender,Resolver,Observer

import (
	"context"
	"net/netip"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// AllowPrivate lets endpoints reach loopback, private and link-local
// addresses (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE): for tests and for
// receivers on the same network.
type AllowPrivate bool

// Delivery is one event on its way to one endpoint, as a claim hands it
// out, with what signing and sending it needs.
type Delivery struct {
	// Seq orders the deliveries; the store's handle on this one.
	Seq       int64
	Endpoint  uuid.UUID
	URL       string
	Secrets   webhook.Secrets
	MessageID string
	Event     webhook.Type
	UserID    uuid.UUID
	Body      []byte
	// CreatedAt is when the event happened; retries end a day later.
	CreatedAt time.Time
	// Attempts counts the attempts, this one included.
	Attempts int
}

// Deliveries are the recorded events on their way to the endpoints,
// outside any transaction.
type Deliveries interface {
	// Claim takes up to limit pending deliveries due at now, none of an
	// endpoint among busy, counts an attempt on each and moves it due at
	// now+lease, so that no other claim takes it meanwhile. A delivery is
	// taken only when no earlier delivery of the same user to the same
	// endpoint is pending: events of one user reach an endpoint in order.
	// Two claims never take one delivery.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, busy []uuid.UUID) ([]Delivery, error)
	// MarkDelivered records the delivery seq delivered at at.
	MarkDelivered(ctx context.Context, seq int64, at time.Time) error
	// MarkFailed records a failed attempt at at with lastErr, due again at
	// next, or given up (keeping lastErr) when giveUp.
	MarkFailed(ctx context.Context, seq int64, at time.Time, lastErr string, next time.Time, giveUp bool) error
	// OldestPending is the creation time of the oldest pending delivery,
	// or the zero time when none is pending.
	OldestPending(ctx context.Context) (time.Time, error)
}

// Message is one attempt at a delivery: what the receiver gets, and the
// keys (the secrets' bytes) to sign it with, one signature each.
type Message struct {
	URL       string
	ID        string
	Timestamp time.Time
	Body      []byte
	Keys      [][]byte
}

// Sender makes one attempt at delivering m. A nil error means the
// receiver answered 2xx; any other answer, or none, is an error that
// names it in a few words (never the response body beyond a short
// excerpt, never a secret).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Resolver finds the addresses of a host name.
type Resolver interface {
	LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error)
}

// Result is how one delivery attempt ended.
type Result string

const (
	Delivered Result = "delivered"
	Retry     Result = "retry"
	Failed    Result = "failed" // given up
)

// Observer hears how each delivery attempt ended (t is from
// webhook.Types).
type Observer interface {
	DeliveryResult(ctx context.Context, t webhook.Type, r Result)
}

package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// SecretPrefix starts every endpoint secret, as the Standard Webhooks
// libraries expect; base64 of 32 random bytes follows.
const SecretPrefix = "whsec_"

// RotationOverlap is how long the secret before a rotation keeps signing
// beside the new one.
const RotationOverlap = 24 * time.Hour

// recentFailures is how many failed deliveries the list shows per
// endpoint.
const recentFailures = 5

// Endpoints are the operators' webhook endpoints: the admin API and the
// command line drive the same use cases.
type Endpoints struct{ d EndpointsDeps }

// EndpointsDeps are what Endpoints needs. Webhooks works outside any
// transaction.
type EndpointsDeps struct {
	Webhooks     app.WebhookRepository
	Tx           app.TxManager
	Clock        app.Clock
	IDs          app.IDGenerator
	Random       io.Reader
	Sealer       app.Sealer
	Resolver     Resolver
	AllowPrivate AllowPrivate
}

// NewEndpoints builds the use cases.
func NewEndpoints(d EndpointsDeps) *Endpoints { return &Endpoints{d: d} }

// View is an endpoint as operators see it, with its latest failed
// deliveries.
type View struct {
	webhook.Endpoint
	RecentFailures []webhook.Failure
}

// Create registers an endpoint for rawURL hearing of events and returns
// it with its secret: the only time the secret is shown. A URL whose host
// resolves to an address that is not public is refused unless
// AllowPrivate.
func (h *Endpoints) Create(ctx context.Context, a admin.Actor, rawURL string, events []webhook.Type) (webhook.Endpoint, token.Secret, error) {
	now := h.d.Clock.Now()
	e, err := webhook.NewEndpoint(h.d.IDs.NewID(), rawURL, events, now)
	if err != nil {
		return webhook.Endpoint{}, "", err
	}
	if err := h.checkHost(ctx, webhook.Host(e.URL)); err != nil {
		return webhook.Endpoint{}, "", err
	}
	secret, sealed, err := h.newSecret(e.ID)
	if err != nil {
		return webhook.Endpoint{}, "", err
	}
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Webhooks.Create(ctx, e, webhook.Secrets{Current: sealed}); err != nil {
			return err
		}
		return r.Audit.Append(ctx, event(a, audit.WebhookCreated, e.ID, now))
	})
	if err != nil {
		return webhook.Endpoint{}, "", err
	}
	return e, secret, nil
}

// List returns every endpoint, oldest first, each with its latest failed
// deliveries.
func (h *Endpoints) List(ctx context.Context) ([]View, error) {
	es, err := h.d.Webhooks.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]View, len(es))
	for i, e := range es {
		out[i].Endpoint = e
		if out[i].RecentFailures, err = h.d.Webhooks.RecentFailures(ctx, e.ID, recentFailures); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Delete removes endpoint id; what was not delivered to it yet never
// will be.
func (h *Endpoints) Delete(ctx context.Context, a admin.Actor, id uuid.UUID) error {
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Webhooks.Delete(ctx, id); err != nil {
			return err
		}
		return r.Audit.Append(ctx, event(a, audit.WebhookDeleted, id, h.d.Clock.Now()))
	})
}

// RotateSecret gives endpoint id a new secret and returns it (shown
// once). The secret before keeps signing beside it for RotationOverlap,
// so that the receiver can switch over without missing a delivery; a
// secret rotated out earlier stops at once.
func (h *Endpoints) RotateSecret(ctx context.Context, a admin.Actor, id uuid.UUID) (token.Secret, error) {
	secret, sealed, err := h.newSecret(id)
	if err != nil {
		return "", err
	}
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		old, err := r.Webhooks.SecretsForChange(ctx, id)
		if err != nil {
			return err
		}
		now := h.d.Clock.Now()
		next := webhook.Secrets{Current: sealed, Previous: old.Current, PreviousUntil: now.Add(RotationOverlap)}
		if err := r.Webhooks.SetSecrets(ctx, id, next); err != nil {
			return err
		}
		return r.Audit.Append(ctx, event(a, audit.WebhookSecretRotated, id, now))
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// newSecret makes a secret for endpoint id: as shown, and its key sealed.
func (h *Endpoints) newSecret(id uuid.UUID) (token.Secret, []byte, error) {
	key := make([]byte, token.SecretBytes)
	if _, err := io.ReadFull(h.d.Random, key); err != nil {
		return "", nil, err
	}
	sealed, err := h.d.Sealer.Seal(key, sealLabel(id))
	if err != nil {
		return "", nil, err
	}
	return token.Secret(SecretPrefix + base64.StdEncoding.EncodeToString(key)), sealed, nil
}

// sealLabel binds a sealed key to its endpoint.
func sealLabel(id uuid.UUID) string { return "webhook-secret:" + id.String() }

// errPrivate refuses a URL that reaches an address that is not public.
var errPrivate = domain.Validation(domain.FieldError{Field: "url", Code: "private_address",
	Message: "url reaches a loopback, private or link-local address; set GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true to allow it."})

// checkHost refuses a host that is, or resolves to, an address that is
// not public, unless AllowPrivate; a name that does not resolve is
// refused too, since it cannot be checked.
func (h *Endpoints) checkHost(ctx context.Context, host string) error {
	if h.d.AllowPrivate {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !webhook.Public(a) {
			return errPrivate
		}
		return nil
	}
	addrs, err := h.d.Resolver.LookupAddrs(ctx, host)
	if err != nil || len(addrs) == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return domain.Validation(domain.FieldError{Field: "url", Code: "unresolvable_host", Message: "url's host does not resolve."})
	}
	for _, a := range addrs {
		if !webhook.Public(a) {
			return errPrivate
		}
	}
	return nil
}

// keys opens the signing keys of d's endpoint that sign at now: the
// current one, and the one before while its overlap lasts.
func keys(sealer app.Sealer, d Delivery, now time.Time) ([][]byte, error) {
	id := d.Endpoint
	cur, err := sealer.Open(d.Secrets.Current, sealLabel(id))
	if err != nil {
		return nil, fmt.Errorf("webhook %s secret: %w", id, err)
	}
	out := [][]byte{cur}
	if d.Secrets.Previous != nil && now.Before(d.Secrets.PreviousUntil) {
		prev, err := sealer.Open(d.Secrets.Previous, sealLabel(id))
		if err != nil {
			return nil, fmt.Errorf("webhook %s previous secret: %w", id, err)
		}
		out = append(out, prev)
	}
	return out, nil
}

func event(a admin.Actor, t audit.Type, id uuid.UUID, now time.Time) audit.Event {
	return a.Meta.ActorEvent(t, a.Name, uuid.Nil, now, map[string]string{"webhook_id": id.String()})
}

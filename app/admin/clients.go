package admin

import (
	"context"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// maxClientID bounds an id looked up: longer ones are no client's.
const maxClientID = 64

// Clients registers and manages the applications that sign users in: the
// admin API and the CLI drive the same use cases.
type Clients struct{ d ClientsDeps }

// ClientsDeps are what Clients needs. Clients works outside any
// transaction.
type ClientsDeps struct {
	Clients app.ClientRepository
	Tx      app.TxManager
	Clock   app.Clock
	IDs     app.IDGenerator
	Random  io.Reader
}

// NewClients builds the use cases.
func NewClients(d ClientsDeps) *Clients { return &Clients{d: d} }

// Create registers a client from s and returns it with its secret (""
// for a public client): the only time the secret is shown; only its
// SHA-256 is kept (32 random bytes need no slow hash).
func (h *Clients) Create(ctx context.Context, a Actor, s client.Settings) (*client.Client, token.Secret, error) {
	now := h.d.Clock.Now()
	c, err := client.New(h.d.IDs.NewID().String(), s, now)
	if err != nil {
		return nil, "", err
	}
	var secret token.Secret
	if c.Type == client.Confidential {
		if secret, err = h.newSecret(c, now); err != nil {
			return nil, "", err
		}
	}
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Clients.Create(ctx, c); err != nil {
			return err
		}
		return r.Audit.Append(ctx, clientEvent(a, audit.ClientCreated, c.ID, now))
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// List returns every client, oldest first.
func (h *Clients) List(ctx context.Context) ([]*client.Client, error) {
	return h.d.Clients.List(ctx)
}

// Get returns one client, or client.ErrNotFound.
func (h *Clients) Get(ctx context.Context, id string) (*client.Client, error) {
	if len(id) > maxClientID {
		return nil, client.ErrNotFound
	}
	return h.d.Clients.ByID(ctx, id)
}

// Update applies s to the client id and returns it as it now is. Of two
// operators changing one client at once, the later write wins.
func (h *Clients) Update(ctx context.Context, a Actor, id string, s client.Settings) (*client.Client, error) {
	if len(id) > maxClientID {
		return nil, client.ErrNotFound
	}
	var c *client.Client
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		var err error
		if c, err = r.Clients.ByID(ctx, id); err != nil {
			return err
		}
		now := h.d.Clock.Now()
		if err := c.Change(s, now); err != nil {
			return err
		}
		if err := r.Clients.Update(ctx, c); err != nil {
			return err
		}
		return r.Audit.Append(ctx, clientEvent(a, audit.ClientChanged, id, now))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Delete removes the client id: from the next request on, nothing it
// presents is accepted.
func (h *Clients) Delete(ctx context.Context, a Actor, id string) error {
	if len(id) > maxClientID {
		return client.ErrNotFound
	}
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Clients.Delete(ctx, id); err != nil {
			return err
		}
		// The client's grants end with it: their refresh tokens stop
		// working, and their access tokens at Gatehouse's own endpoints.
		now := h.d.Clock.Now()
		if _, err := r.Sessions.RevokeClientGrants(ctx, id, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, clientEvent(a, audit.ClientDeleted, id, now))
	})
}

// RotateSecret gives the confidential client id a new secret and returns
// it (shown once); the secret before stops working at once. A public
// client gives client.ErrPublic.
func (h *Clients) RotateSecret(ctx context.Context, a Actor, id string) (token.Secret, error) {
	if len(id) > maxClientID {
		return "", client.ErrNotFound
	}
	var secret token.Secret
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		c, err := r.Clients.ByID(ctx, id)
		if err != nil {
			return err
		}
		now := h.d.Clock.Now()
		if secret, err = h.newSecret(c, now); err != nil {
			return err
		}
		if err := r.Clients.SetSecret(ctx, id, *c.SecretHash, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, clientEvent(a, audit.ClientSecretRotated, id, now))
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// newSecret makes a secret for c and sets its hash on c.
func (h *Clients) newSecret(c *client.Client, now time.Time) (token.Secret, error) {
	s, _, err := token.NewSecret(h.d.Random)
	if err != nil {
		return "", err
	}
	secret := token.Secret(client.SecretPrefix + s.Reveal())
	if err := c.SetSecret(token.HashOf(secret), now); err != nil {
		return "", err
	}
	return secret, nil
}

func clientEvent(a Actor, t audit.Type, id string, now time.Time) audit.Event {
	return a.event(t, uuid.Nil, now, map[string]string{"client_id": id})
}

package oauth

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// maxClientID bounds a client id looked up at all: longer names no client.
const maxClientID = 64

// ClientAuth authenticates a client at the token endpoints: a
// confidential client by its secret (compared by hash, in constant time),
// a public client by its id alone and never with a secret. Every failure
// is the same grant.ErrInvalidClient, and a wrong secret for a known
// client is audited.
type ClientAuth struct {
	clients app.ClientRepository
	audit   app.AuditLog
	clock   app.Clock
	guard   *limits.Guard
}

// NewClientAuth builds the use case. clients and audit work outside any
// transaction.
func NewClientAuth(clients app.ClientRepository, audit app.AuditLog, clock app.Clock, guard *limits.Guard) *ClientAuth {
	return &ClientAuth{clients: clients, audit: audit, clock: clock, guard: guard}
}

// Handle returns the client clientID when secret authenticates it. Every
// request naming a client counts against its limit first (a guessed
// secret, a runaway client): over it, rate_limited.
func (h *ClientAuth) Handle(ctx context.Context, clientID, secret string, meta app.RequestMeta) (*client.Client, error) {
	if clientID == "" || len(clientID) > maxClientID {
		return nil, grant.ErrInvalidClient
	}
	if err := h.guard.CheckClient(ctx, clientID); err != nil {
		return nil, err
	}
	c, err := h.clients.ByID(ctx, clientID)
	if errors.Is(err, client.ErrNotFound) {
		return nil, grant.ErrInvalidClient
	} else if err != nil {
		return nil, err
	}
	ok := false
	if c.Type == client.Public {
		ok = secret == ""
	} else if c.SecretHash != nil {
		sum := token.HashOf(token.Secret(secret))
		ok = secret != "" && subtle.ConstantTimeCompare(sum[:], c.SecretHash[:]) == 1
	}
	if !ok {
		// A failed audit does not change the answer.
		_ = h.audit.Append(ctx, meta.Event(audit.ClientAuthFailed, uuid.Nil, h.clock.Now(), map[string]string{"client_id": c.ID}))
		return nil, grant.ErrInvalidClient
	}
	return c, nil
}

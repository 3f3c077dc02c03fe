package oauth

import (
	"context"
	"errors"
	"strconv"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
)

// ConsentView is one consent as its user sees it, with the name of its
// client; ClientName is "" once the client was deleted (the consent
// stays until the user revokes it).
type ConsentView struct {
	Consent    *grant.Consent
	ClientName string
}

// ListConsents shows the signed-in user what they allowed which clients.
type ListConsents struct {
	grants  app.GrantRepository
	clients app.ClientRepository
}

// NewListConsents builds the use case. grants and clients work outside
// any transaction.
func NewListConsents(grants app.GrantRepository, clients app.ClientRepository) *ListConsents {
	return &ListConsents{grants: grants, clients: clients}
}

// Handle lists p's consents, newest first.
func (h *ListConsents) Handle(ctx context.Context, p appsession.Principal) ([]ConsentView, error) {
	all, err := h.grants.Consents(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	views := make([]ConsentView, 0, len(all))
	for _, c := range all {
		v := ConsentView{Consent: c}
		cl, err := h.clients.ByID(ctx, c.ClientID)
		switch {
		case err == nil:
			v.ClientName = cl.Name
		case !errors.Is(err, client.ErrNotFound):
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// RevokeConsent takes back what the signed-in user allowed a client: the
// consent is forgotten, so the client's next authorization request asks
// again, and every live grant the user gave that client ends (its refresh
// tokens stop at once, its access tokens at Gatehouse's own endpoints).
// A client the user gave no consent is not_found.
type RevokeConsent struct {
	tx    app.TxManager
	clock app.Clock
}

// NewRevokeConsent builds the use case.
func NewRevokeConsent(tx app.TxManager, clock app.Clock) *RevokeConsent {
	return &RevokeConsent{tx: tx, clock: clock}
}

// Handle revokes p's consent to clientID, with its grants, audited, in
// one transaction.
func (h *RevokeConsent) Handle(ctx context.Context, p appsession.Principal, clientID string, meta app.RequestMeta) error {
	return h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		ok, err := r.Grants.DeleteConsent(ctx, p.UserID, clientID)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrNotFound
		}
		now := h.clock.Now()
		n, err := r.Sessions.RevokeUserClientGrants(ctx, p.UserID, clientID, now)
		if err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.ConsentRevoked, p.UserID, now, map[string]string{"client_id": clientID, "sessions_revoked": strconv.Itoa(n)}))
	})
}

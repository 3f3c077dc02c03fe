package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

const clientColumns = `client_id, name, client_type, redirect_uris, post_logout_redirect_uris, grant_types, scopes, consent, id_token_alg, secret_hash, created_at, updated_at`

// Clients keeps the registered clients in clients, their lists as JSON
// arrays.
type Clients struct {
	DB DB
}

// Create stores c; an id another client has gives client.ErrExists. ON
// CONFLICT DO NOTHING lets the primary key decide races without aborting
// the caller's transaction.
func (s Clients) Create(ctx context.Context, c *client.Client) error {
	return execOne(ctx, s.DB, client.ErrExists, `INSERT INTO clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		c.ID, c.Name, string(c.Type), jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs), jsonList(c.GrantTypes), jsonList(c.Scopes),
		c.Consent, c.IDTokenAlg, secretHash(c.SecretHash), c.CreatedAt, c.UpdatedAt)
}

// ByID finds a client, or gives client.ErrNotFound.
func (s Clients) ByID(ctx context.Context, id string) (*client.Client, error) {
	return scanClient(s.DB.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE client_id = $1`, id))
}

// List returns every client, oldest first (index clients_created).
func (s Clients) List(ctx context.Context) ([]*client.Client, error) {
	return All(ctx, s.DB, scanClient, `SELECT `+clientColumns+` FROM clients ORDER BY created_at, client_id`)
}

// Update saves c's settings and UpdatedAt (never its secret), or gives
// client.ErrNotFound.
func (s Clients) Update(ctx context.Context, c *client.Client) error {
	return execOne(ctx, s.DB, client.ErrNotFound, `UPDATE clients SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4, grant_types = $5,
			scopes = $6, consent = $7, id_token_alg = $8, updated_at = $9
		WHERE client_id = $1`,
		c.ID, c.Name, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs), jsonList(c.GrantTypes), jsonList(c.Scopes),
		c.Consent, c.IDTokenAlg, c.UpdatedAt)
}

// SetSecret saves the hash of a confidential client's new secret, or
// gives client.ErrNotFound (a public client matches nothing: the table's
// check keeps it without one).
func (s Clients) SetSecret(ctx context.Context, id string, hash token.Hash, at time.Time) error {
	return execOne(ctx, s.DB, client.ErrNotFound, `UPDATE clients SET secret_hash = $2, updated_at = $3 WHERE client_id = $1 AND client_type = 'confidential'`,
		id, hash[:], at)
}

// Delete removes the client, or gives client.ErrNotFound.
func (s Clients) Delete(ctx context.Context, id string) error {
	return execOne(ctx, s.DB, client.ErrNotFound, `DELETE FROM clients WHERE client_id = $1`, id)
}

func scanClient(row Row) (*client.Client, error) {
	var (
		c                                      client.Client
		typ, redirects, logouts, grants, scope string
		hash                                   []byte
	)
	if err := row.Scan(&c.ID, &c.Name, &typ, &redirects, &logouts, &grants, &scope, &c.Consent, &c.IDTokenAlg, &hash, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, notFound(err, client.ErrNotFound)
	}
	c.Type = client.Type(typ)
	for _, l := range []struct {
		raw string
		to  any
	}{{redirects, &c.RedirectURIs}, {logouts, &c.PostLogoutRedirectURIs}, {grants, &c.GrantTypes}, {scope, &c.Scopes}} {
		if err := json.Unmarshal([]byte(l.raw), l.to); err != nil {
			return nil, err
		}
	}
	if len(hash) > 0 {
		var h token.Hash
		copy(h[:], hash)
		c.SecretHash = &h
	}
	return &c, nil
}

// jsonList encodes a list as a JSON array ([] for none).
func jsonList[T any](l []T) string {
	if l == nil {
		l = []T{}
	}
	b, _ := json.Marshal(l) // a list of strings always encodes
	return string(b)
}

func secretHash(h *token.Hash) []byte {
	if h == nil {
		return nil
	}
	return h[:]
}

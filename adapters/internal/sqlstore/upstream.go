package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/google/uuid"
)

const identityColumns = `id, user_id, provider, subject, email, created_at, last_used_at`

// Upstream keeps the users' upstream identities in upstream_identities
// and the round trips in upstream_flows.
type Upstream struct {
	DB DB
}

// AddFlow stores f.
func (r Upstream) AddFlow(ctx context.Context, f *upstream.Flow) error {
	h := f.StateHash()
	_, err := r.DB.Exec(ctx, `INSERT INTO upstream_flows (state_hash, provider, nonce, verifier, pending_request, link_user_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		h[:], f.Provider(), f.Nonce(), f.Verifier(), NullUUID(f.Pending()), NullUUID(f.LinkTo()), f.CreatedAt(), f.ExpiresAt())
	return err
}

// TakeFlow deletes the flow and returns it, in one statement: of racing
// deletes of one row exactly one returns it, so a callback is answered
// once.
func (r Upstream) TakeFlow(ctx context.Context, stateHash token.Hash) (*upstream.Flow, error) {
	var (
		provider, nonce, verifier string
		pending, linkTo           uuid.NullUUID
		created, expires          time.Time
	)
	// A write that returns a row: in a transaction (the bound one, or
	// one of its own), where a store with one writer runs its writes.
	err := r.DB.Tx(ctx, func(tx DB) error {
		return tx.QueryRow(ctx, `DELETE FROM upstream_flows WHERE state_hash = $1
			RETURNING provider, nonce, verifier, pending_request, link_user_id, created_at, expires_at`, stateHash[:]).
			Scan(&provider, &nonce, &verifier, &pending, &linkTo, &created, &expires)
	})
	if err != nil {
		return nil, notFound(err, upstream.ErrFlowInvalid)
	}
	return upstream.RehydrateFlow(stateHash, provider, nonce, verifier, pending.UUID, linkTo.UUID, created, expires), nil
}

// Identity finds (provider, subject) by its unique index, or gives
// upstream.ErrNotFound.
func (r Upstream) Identity(ctx context.Context, provider, subject string) (*upstream.Identity, error) {
	return scanIdentity(r.DB.QueryRow(ctx, `SELECT `+identityColumns+` FROM upstream_identities WHERE provider = $1 AND subject = $2`, provider, subject))
}

// AddIdentity stores i; (provider, subject) stored already gives
// upstream.ErrIdentityTaken. ON CONFLICT DO NOTHING lets the unique index
// decide races without aborting the caller's transaction.
func (r Upstream) AddIdentity(ctx context.Context, i *upstream.Identity) error {
	return execOne(ctx, r.DB, upstream.ErrIdentityTaken, `INSERT INTO upstream_identities (`+identityColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`,
		i.ID(), i.UserID(), i.Provider(), i.Subject(), i.Email(), i.CreatedAt(), i.LastUsedAt())
}

// Identities returns the user's identities, oldest first (index
// upstream_identities_user).
func (r Upstream) Identities(ctx context.Context, userID uuid.UUID) ([]*upstream.Identity, error) {
	return All(ctx, r.DB, scanIdentity, `SELECT `+identityColumns+` FROM upstream_identities WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// UpdateIdentity saves i's email and last use, or gives
// upstream.ErrNotFound.
func (r Upstream) UpdateIdentity(ctx context.Context, i *upstream.Identity) error {
	return execOne(ctx, r.DB, upstream.ErrNotFound, `UPDATE upstream_identities SET email = $3, last_used_at = $4 WHERE id = $1 AND user_id = $2`,
		i.ID(), i.UserID(), i.Email(), i.LastUsedAt())
}

// DeleteIdentity removes the user's identity id, or gives
// upstream.ErrNotFound.
func (r Upstream) DeleteIdentity(ctx context.Context, userID, id uuid.UUID) error {
	return execOne(ctx, r.DB, upstream.ErrNotFound, `DELETE FROM upstream_identities WHERE id = $1 AND user_id = $2`, id, userID)
}

// scanIdentity reads one row of identityColumns, or gives
// upstream.ErrNotFound.
func scanIdentity(row Row) (*upstream.Identity, error) {
	var (
		id, userID               uuid.UUID
		provider, subject, email string
		created                  time.Time
		lastUsed                 *time.Time
	)
	if err := row.Scan(&id, &userID, &provider, &subject, &email, &created, &lastUsed); err != nil {
		return nil, notFound(err, upstream.ErrNotFound)
	}
	return upstream.RehydrateIdentity(id, userID, provider, subject, email, created, lastUsed), nil
}

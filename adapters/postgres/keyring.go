package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/jackc/pgx/v5"
)

// SigningKeyRing keeps the signing keys in signing_key_ring, by kid. Its
// partial unique indexes hold at most one current and one next key.
type SigningKeyRing struct {
	db DBTX
}

var _ app.SigningKeyRing = (*SigningKeyRing)(nil)

// NewSigningKeyRing returns a SigningKeyRing on db.
func NewSigningKeyRing(db DBTX) *SigningKeyRing { return &SigningKeyRing{db: db} }

const keyColumns = `kid, sealed_seed, state, created_at, activate_at, activated_at, retired_at, publish_until`

// Keys returns every key, oldest first (the ring is a handful of rows).
func (s *SigningKeyRing) Keys(ctx context.Context) (signingkey.Ring, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM signing_key_ring ORDER BY created_at, kid`)
	if err != nil {
		return nil, translate(err, nil)
	}
	ring, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (signingkey.Key, error) {
		var k signingkey.Key
		var state string
		err := row.Scan(&k.KID, &k.Sealed, &state, &k.CreatedAt, &k.ActivateAt, &k.ActivatedAt, &k.RetiredAt, &k.PublishUntil)
		k.State = signingkey.State(state)
		return k, err
	})
	if err != nil {
		return nil, translate(err, nil)
	}
	return ring, nil
}

// Add inserts k. ON CONFLICT DO NOTHING lets the unique indexes refuse a
// second next or current key without aborting the caller's transaction.
func (s *SigningKeyRing) Add(ctx context.Context, k signingkey.Key) error {
	tag, err := s.db.Exec(ctx, `INSERT INTO signing_key_ring (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		k.KID, k.Sealed, string(k.State), k.CreatedAt, k.ActivateAt, k.ActivatedAt, k.RetiredAt, k.PublishUntil)
	var taken error = app.ErrKeyRingChanged
	if k.State == signingkey.Next {
		taken = signingkey.ErrRotationPending
	}
	return affectedOne(tag, err, taken)
}

// Save writes k's state and times where the key is still in state from.
// Racing callers queue on the row lock; the losers then find the state
// changed and update nothing.
func (s *SigningKeyRing) Save(ctx context.Context, k signingkey.Key, from signingkey.State) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE signing_key_ring SET state = $3, activate_at = $4, activated_at = $5, retired_at = $6, publish_until = $7 WHERE kid = $1 AND state = $2`,
		k.KID, string(from), string(k.State), k.ActivateAt, k.ActivatedAt, k.RetiredAt, k.PublishUntil)
	if err != nil {
		return false, translate(err, nil)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteGone deletes the retired keys whose publication ended by now.
func (s *SigningKeyRing) DeleteGone(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM signing_key_ring WHERE state = 'retired' AND publish_until <= $1`, now)
	if err != nil {
		return 0, translate(err, nil)
	}
	return int(tag.RowsAffected()), nil
}

// TakeUnsealed deletes and returns the plain seed that versions before
// the ring kept in signing_keys.
func (s *SigningKeyRing) TakeUnsealed(ctx context.Context) ([]byte, error) {
	var seed []byte
	err := s.db.QueryRow(ctx, `DELETE FROM signing_keys WHERE id = 'current' RETURNING private_key`).Scan(&seed)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err, nil)
	}
	return seed, nil
}

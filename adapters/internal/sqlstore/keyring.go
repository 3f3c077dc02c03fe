package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

const keyColumns = `kid, alg, sealed_key, state, created_at, activate_at, activated_at, retired_at, publish_until`

// SigningKeys keeps the signing keys in signing_key_ring, by kid. Its
// partial unique indexes hold at most one current and one next key of
// each algorithm.
type SigningKeys struct {
	DB DB
}

// Keys returns every key, oldest first (the ring is a handful of rows).
func (s SigningKeys) Keys(ctx context.Context) (signingkey.Ring, error) {
	return All(ctx, s.DB, func(row Row) (signingkey.Key, error) {
		var k signingkey.Key
		var alg, state string
		err := row.Scan(&k.KID, &alg, &k.Sealed, &state, &k.CreatedAt, &k.ActivateAt, &k.ActivatedAt, &k.RetiredAt, &k.PublishUntil)
		k.Alg, k.State = signingkey.Algorithm(alg), signingkey.State(state)
		return k, err
	}, `SELECT `+keyColumns+` FROM signing_key_ring ORDER BY created_at, kid`)
}

// Add inserts k. ON CONFLICT DO NOTHING lets the unique indexes refuse a
// second next or current key of k's algorithm without aborting the
// caller's transaction.
func (s SigningKeys) Add(ctx context.Context, k signingkey.Key) error {
	var taken error = app.ErrKeyRingChanged
	if k.State == signingkey.Next {
		taken = signingkey.ErrRotationPending
	}
	return execOne(ctx, s.DB, taken, `INSERT INTO signing_key_ring (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		k.KID, string(k.Alg), k.Sealed, string(k.State), k.CreatedAt, k.ActivateAt, k.ActivatedAt, k.RetiredAt, k.PublishUntil)
}

// Save writes k's state and times where the key is still in state from.
// Racing callers are ordered (a row lock, or the single writer); the later
// ones then find the state changed and update nothing.
func (s SigningKeys) Save(ctx context.Context, k signingkey.Key, from signingkey.State) (bool, error) {
	n, err := s.DB.Exec(ctx, `UPDATE signing_key_ring SET state = $3, activate_at = $4, activated_at = $5, retired_at = $6, publish_until = $7 WHERE kid = $1 AND state = $2`,
		k.KID, string(from), string(k.State), k.ActivateAt, k.ActivatedAt, k.RetiredAt, k.PublishUntil)
	return n == 1, err
}

// DeleteGone deletes the retired keys whose publication ended by now.
func (s SigningKeys) DeleteGone(ctx context.Context, now time.Time) (int, error) {
	return count(s.DB.Exec(ctx, `DELETE FROM signing_key_ring WHERE state = 'retired' AND publish_until <= $1`, now))
}

// TakeUnsealed deletes and returns the plain seed that versions before
// the ring kept in signing_keys.
func (s SigningKeys) TakeUnsealed(ctx context.Context) ([]byte, error) {
	var seed []byte
	err := s.DB.Tx(ctx, func(tx DB) error {
		err := tx.QueryRow(ctx, `DELETE FROM signing_keys WHERE id = 'current' RETURNING private_key`).Scan(&seed)
		if errors.Is(err, ErrNoRows) {
			return nil
		}
		return err
	})
	return seed, err
}

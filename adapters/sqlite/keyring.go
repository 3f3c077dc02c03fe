package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
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
	rows, err := s.db.reader().QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_key_ring ORDER BY created_at, kid`)
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	var ring signingkey.Ring
	for rows.Next() {
		var (
			k                         signingkey.Key
			state                     string
			created, activate         int64
			activated, retired, until sql.NullInt64
		)
		if err := rows.Scan(&k.KID, &k.Sealed, &state, &created, &activate, &activated, &retired, &until); err != nil {
			return nil, translate(err, nil)
		}
		k.State = signingkey.State(state)
		k.CreatedAt, k.ActivateAt = fromMicros(created), fromMicros(activate)
		k.ActivatedAt, k.RetiredAt, k.PublishUntil = fromNullMicros(activated), fromNullMicros(retired), fromNullMicros(until)
		ring = append(ring, k)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return ring, nil
}

// Add inserts k; the unique indexes refuse a second next or current key
// (ON CONFLICT DO NOTHING keeps the caller's transaction usable).
func (s *SigningKeyRing) Add(ctx context.Context, k signingkey.Key) error {
	res, err := exec(ctx, s.db, `INSERT INTO signing_key_ring (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		k.KID, k.Sealed, string(k.State), micros(k.CreatedAt), micros(k.ActivateAt), microsPtr(k.ActivatedAt), microsPtr(k.RetiredAt), microsPtr(k.PublishUntil))
	var taken error = app.ErrKeyRingChanged
	if k.State == signingkey.Next {
		taken = signingkey.ErrRotationPending
	}
	return affectedOne(res, err, taken)
}

// Save writes k's state and times where the key is still in state from;
// the single writer orders racing callers, and the later ones find the
// state changed.
func (s *SigningKeyRing) Save(ctx context.Context, k signingkey.Key, from signingkey.State) (bool, error) {
	res, err := exec(ctx, s.db, `UPDATE signing_key_ring SET state = $3, activate_at = $4, activated_at = $5, retired_at = $6, publish_until = $7 WHERE kid = $1 AND state = $2`,
		k.KID, string(from), string(k.State), micros(k.ActivateAt), microsPtr(k.ActivatedAt), microsPtr(k.RetiredAt), microsPtr(k.PublishUntil))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err, nil)
}

// DeleteGone deletes the retired keys whose publication ended by now.
func (s *SigningKeyRing) DeleteGone(ctx context.Context, now time.Time) (int, error) {
	res, err := exec(ctx, s.db, `DELETE FROM signing_key_ring WHERE state = 'retired' AND publish_until <= $1`, micros(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), translate(err, nil)
}

// TakeUnsealed deletes and returns the plain seed that versions before
// the ring kept in signing_keys.
func (s *SigningKeyRing) TakeUnsealed(ctx context.Context) ([]byte, error) {
	var seed []byte
	err := s.db.write(ctx, func(q querier) error {
		err := q.QueryRowContext(ctx, `DELETE FROM signing_keys WHERE id = 'current' RETURNING private_key`).Scan(&seed)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return translate(err, nil)
	})
	return seed, err
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/jackc/pgx/v5"
)

// SigningKeyStore keeps the one generated signing key in signing_keys,
// under id 'current'.
type SigningKeyStore struct {
	db DBTX
}

var _ app.SigningKeyStore = (*SigningKeyStore)(nil)

// NewSigningKeyStore returns a SigningKeyStore on db.
func NewSigningKeyStore(db DBTX) *SigningKeyStore { return &SigningKeyStore{db: db} }

// GetOrCreate returns the stored key. When there is none it calls generate,
// inserts the result unless another instance got there first, and returns
// whatever key is then stored, so racing instances all return the winner's.
func (s *SigningKeyStore) GetOrCreate(ctx context.Context, generate func() ([]byte, error)) ([]byte, error) {
	key, err := s.current(ctx)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, translate(err, nil)
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("postgres: generate signing key: %w", err)
	}
	if len(fresh) == 0 {
		return nil, errors.New("postgres: generate signing key: empty key")
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO signing_keys (id, private_key) VALUES ('current', $1) ON CONFLICT (id) DO NOTHING`, fresh); err != nil {
		return nil, translate(err, nil)
	}
	key, err = s.current(ctx)
	if err != nil {
		return nil, translate(err, nil)
	}
	return key, nil
}

func (s *SigningKeyStore) current(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.db.QueryRow(ctx, `SELECT private_key FROM signing_keys WHERE id = 'current'`).Scan(&key)
	return key, err
}

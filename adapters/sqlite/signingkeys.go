package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
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
// inserts the result unless another caller got there first (INSERT OR
// IGNORE), and returns whatever key is then stored, so racing callers all
// return the winner's.
func (s *SigningKeyStore) GetOrCreate(ctx context.Context, generate func() ([]byte, error)) ([]byte, error) {
	key, err := s.current(ctx)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err, nil)
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("sqlite: generate signing key: %w", err)
	}
	if len(fresh) == 0 {
		return nil, errors.New("sqlite: generate signing key: empty key")
	}
	if _, err := exec(ctx, s.db, `INSERT OR IGNORE INTO signing_keys (id, private_key, created_at) VALUES ('current', $1, $2)`,
		fresh, micros(time.Now())); err != nil {
		return nil, err
	}
	key, err = s.current(ctx)
	if err != nil {
		return nil, translate(err, nil)
	}
	return key, nil
}

func (s *SigningKeyStore) current(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.db.reader().QueryRowContext(ctx, `SELECT private_key FROM signing_keys WHERE id = 'current'`).Scan(&key)
	return key, err
}

package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// MFARepository stores TOTP factors, recovery codes and MFA login tokens
// (sqlstore.MFA): under READ COMMITTED a second conditional UPDATE on the
// same row waits for the first to commit and then re-evaluates its WHERE
// clause, so exactly one of them matches.
type MFARepository struct{ sqlstore.MFA }

var _ app.MFARepository = (*MFARepository)(nil)

// NewMFARepository returns an MFARepository on db.
func NewMFARepository(db DBTX) *MFARepository {
	return &MFARepository{sqlstore.MFA{DB: conn{db}}}
}

// enabledAmongSQL selects the users of $1 with a confirmed factor
// (primary key).
const enabledAmongSQL = `SELECT user_id FROM mfa_totp WHERE user_id = ANY($1) AND confirmed_at IS NOT NULL`

// EnabledAmong returns which of userIDs have a confirmed factor.
func (r *MFARepository) EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := make(map[uuid.UUID]bool)
	if len(userIDs) == 0 {
		return out, nil
	}
	ids, err := sqlstore.All(ctx, r.DB, func(row sqlstore.Row) (id uuid.UUID, err error) {
		return id, row.Scan(&id)
	}, enabledAmongSQL, userIDs)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// ReplaceRecoveryCodes deletes the user's codes and inserts the new set
// (one statement, unnest of an array), in one transaction (the bound one,
// or one of its own).
func (r *MFARepository) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error {
	raw := make([][]byte, len(hashes))
	for i := range hashes {
		raw[i] = hashes[i][:]
	}
	return r.DB.Tx(ctx, func(tx sqlstore.DB) error {
		if _, err := tx.Exec(ctx, sqlstore.DeleteRecoveryCodesSQL, userID); err != nil {
			return err
		}
		if len(raw) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`, userID, raw, at)
		return err
	})
}

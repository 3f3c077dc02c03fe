package sqlite

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// MFARepository stores TOTP factors, recovery codes and MFA login tokens
// (sqlstore.MFA); writes are serialized on the one writer, so of racing
// conditional statements exactly one matches.
type MFARepository struct{ sqlstore.MFA }

var _ app.MFARepository = (*MFARepository)(nil)

// NewMFARepository returns an MFARepository on db.
func NewMFARepository(db DBTX) *MFARepository {
	return &MFARepository{sqlstore.MFA{DB: conn{db}}}
}

// EnabledAmong returns which of userIDs have a confirmed factor: one
// statement (user_id IN (...), primary key) per idBatch ids.
func (r *MFARepository) EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := make(map[uuid.UUID]bool)
	for _, batch := range idBatches(userIDs) {
		query, args := enabledAmongSQL(batch)
		ids, err := sqlstore.All(ctx, r.DB, func(row sqlstore.Row) (id uuid.UUID, err error) {
			return id, row.Scan(&id)
		}, query, args...)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}

// enabledAmongSQL selects the users of ids with a confirmed factor.
func enabledAmongSQL(ids []uuid.UUID) (query string, args []any) {
	return `SELECT user_id FROM mfa_totp WHERE user_id IN (` + inList(&args, ids) + `) AND confirmed_at IS NOT NULL`, args
}

// ReplaceRecoveryCodes deletes the user's codes and inserts the new set
// (a statement each), in one write transaction (the bound one, or one of
// its own).
func (r *MFARepository) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error {
	return r.DB.Tx(ctx, func(tx sqlstore.DB) error {
		if _, err := tx.Exec(ctx, sqlstore.DeleteRecoveryCodesSQL, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)`, userID, h[:], at); err != nil {
				return err
			}
		}
		return nil
	})
}

package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// MFARepository stores TOTP factors, recovery codes and MFA login tokens.
// Every check that races (a step used, a code used, a token used or
// burned) is one conditional UPDATE: under READ COMMITTED a second
// statement on the same row waits for the first to commit and then
// re-evaluates its WHERE clause, so exactly one of them matches.
type MFARepository struct {
	db DBTX
}

var _ app.MFARepository = (*MFARepository)(nil)

// NewMFARepository returns an MFARepository on db.
func NewMFARepository(db DBTX) *MFARepository { return &MFARepository{db: db} }

// PutPendingTOTP inserts f, or replaces the user's pending factor with it;
// a confirmed factor stays and gives mfa.ErrAlreadyEnabled.
func (r *MFARepository) PutPendingTOTP(ctx context.Context, f *mfa.TOTP) error {
	tag, err := r.db.Exec(ctx, putPendingTOTPSQL, f.UserID(), f.SealedSecret(), f.CreatedAt())
	if err != nil {
		return translate(err, nil)
	}
	if tag.RowsAffected() == 0 {
		return mfa.ErrAlreadyEnabled
	}
	return nil
}

const putPendingTOTPSQL = `INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (user_id) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, created_at = EXCLUDED.created_at, last_used_step = NULL
	WHERE mfa_totp.confirmed_at IS NULL`

// TOTP reads the user's factor, or gives mfa.ErrNotFound.
func (r *MFARepository) TOTP(ctx context.Context, userID uuid.UUID) (*mfa.TOTP, error) {
	var (
		sealed    []byte
		created   time.Time
		confirmed *time.Time
		step      *int64
	)
	err := r.db.QueryRow(ctx, `SELECT sealed_secret, created_at, confirmed_at, last_used_step FROM mfa_totp WHERE user_id = $1`, userID).
		Scan(&sealed, &created, &confirmed, &step)
	if err != nil {
		return nil, translate(err, mfa.ErrNotFound)
	}
	return mfa.RehydrateTOTP(userID, sealed, created.UTC(), utcPtr(confirmed), step), nil
}

// ConfirmTOTP confirms the pending factor with this sealed secret.
func (r *MFARepository) ConfirmTOTP(ctx context.Context, userID uuid.UUID, sealed []byte, at time.Time, step int64) (bool, error) {
	return changed(r.db.Exec(ctx, `UPDATE mfa_totp SET confirmed_at = $3, last_used_step = $4
		WHERE user_id = $1 AND sealed_secret = $2 AND confirmed_at IS NULL`, userID, sealed, at, step))
}

// useTOTPStepSQL records a step above the highest used one (primary key).
const useTOTPStepSQL = `UPDATE mfa_totp SET last_used_step = $2
	WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)`

// UseTOTPStep records step if it is above the highest used one.
func (r *MFARepository) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error) {
	return changed(r.db.Exec(ctx, useTOTPStepSQL, userID, step))
}

// DeleteTOTP removes the factor, the recovery codes and the login tokens
// of the user in one transaction (the bound one, or one of its own).
func (r *MFARepository) DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error) {
	var enabled bool
	err := ensureTx(ctx, r.db, func(tx DBTX) error {
		rows, err := tx.Query(ctx, `DELETE FROM mfa_totp WHERE user_id = $1 RETURNING confirmed_at IS NOT NULL`, userID)
		if err != nil {
			return translate(err, nil)
		}
		for rows.Next() {
			if err := rows.Scan(&enabled); err != nil {
				rows.Close()
				return translate(err, nil)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return translate(err, nil)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
			return translate(err, nil)
		}
		_, err = tx.Exec(ctx, `DELETE FROM mfa_login_tokens WHERE user_id = $1`, userID)
		return translate(err, nil)
	})
	return enabled, err
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
	rows, err := r.db.Query(ctx, enabledAmongSQL, userIDs)
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err, nil)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return out, nil
}

// ReplaceRecoveryCodes deletes the user's codes and inserts the new set,
// in one transaction (the bound one, or one of its own).
func (r *MFARepository) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error {
	raw := make([][]byte, len(hashes))
	for i := range hashes {
		raw[i] = hashes[i][:]
	}
	return ensureTx(ctx, r.db, func(tx DBTX) error {
		if _, err := tx.Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
			return translate(err, nil)
		}
		if len(raw) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`, userID, raw, at)
		return translate(err, nil)
	})
}

// useRecoveryCodeSQL marks one unused code used (primary key).
const useRecoveryCodeSQL = `UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`

// UseRecoveryCode marks the user's unused code used.
func (r *MFARepository) UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash token.Hash, at time.Time) (bool, error) {
	return changed(r.db.Exec(ctx, useRecoveryCodeSQL, userID, hash[:], at))
}

// unusedRecoveryCodesSQL counts a user's unused codes (primary key prefix).
const unusedRecoveryCodesSQL = `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL`

// UnusedRecoveryCodes counts the user's unused codes.
func (r *MFARepository) UnusedRecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	if err := r.db.QueryRow(ctx, unusedRecoveryCodesSQL, userID).Scan(&n); err != nil {
		return 0, translate(err, nil)
	}
	return n, nil
}

// AddLoginToken inserts t.
func (r *MFARepository) AddLoginToken(ctx context.Context, t *mfa.LoginToken) error {
	h, b := t.Hash(), t.Binding()
	_, err := r.db.Exec(ctx, `INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at, failed_attempts, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, h[:], t.UserID(), b[:], t.CreatedAt(), t.ExpiresAt(), t.FailedAttempts(), t.UsedAt())
	return translate(err, nil)
}

// LoginToken reads a login token, or gives mfa.ErrLoginTokenInvalid.
func (r *MFARepository) LoginToken(ctx context.Context, hash token.Hash) (*mfa.LoginToken, error) {
	var (
		userID           uuid.UUID
		binding          []byte
		created, expires time.Time
		failed           int
		used             *time.Time
	)
	err := r.db.QueryRow(ctx, `SELECT user_id, binding, created_at, expires_at, failed_attempts, used_at FROM mfa_login_tokens WHERE token_hash = $1`, hash[:]).
		Scan(&userID, &binding, &created, &expires, &failed, &used)
	if err != nil {
		return nil, translate(err, mfa.ErrLoginTokenInvalid)
	}
	var b mfa.Binding
	copy(b[:], binding)
	return mfa.RehydrateLoginToken(hash, userID, b, created.UTC(), expires.UTC(), failed, utcPtr(used)), nil
}

// FailLoginToken counts a wrong code against an unused, unburned token.
func (r *MFARepository) FailLoginToken(ctx context.Context, hash token.Hash, limit int) (bool, error) {
	return changed(r.db.Exec(ctx, `UPDATE mfa_login_tokens SET failed_attempts = failed_attempts + 1
		WHERE token_hash = $1 AND used_at IS NULL AND failed_attempts < $2`, hash[:], limit))
}

// UseLoginToken marks an unused, unburned, unexpired token used.
func (r *MFARepository) UseLoginToken(ctx context.Context, hash token.Hash, at time.Time, limit int) (bool, error) {
	return changed(r.db.Exec(ctx, `UPDATE mfa_login_tokens SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND failed_attempts < $3 AND expires_at > $2`, hash[:], at, limit))
}

// changed reports whether a conditional statement touched a row.
func changed(tag pgconn.CommandTag, err error) (bool, error) {
	if err != nil {
		return false, translate(err, nil)
	}
	return tag.RowsAffected() > 0, nil
}

package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// MFA stores TOTP factors, recovery codes and MFA login tokens. Every
// check that races (a step used, a code used, a token used or burned) is
// one conditional UPDATE, and of racing statements on one row exactly one
// matches: under READ COMMITTED the second waits for the first to commit
// and re-evaluates its WHERE clause; with one writer they run one after
// the other. EnabledAmong and ReplaceRecoveryCodes, which take lists, are
// each store's own.
type MFA struct {
	DB DB
	Own
}

// PutPendingTOTP inserts f, or replaces the user's pending factor with it;
// a confirmed factor stays and gives mfa.ErrAlreadyEnabled.
func (r MFA) PutPendingTOTP(ctx context.Context, f *mfa.TOTP) error {
	return execOne(ctx, r.DB, mfa.ErrAlreadyEnabled, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (user_id) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, created_at = EXCLUDED.created_at, last_used_step = NULL
	WHERE mfa_totp.confirmed_at IS NULL`, f.UserID(), f.SealedSecret(), f.CreatedAt())
}

// TOTP reads the user's factor, or gives mfa.ErrNotFound.
func (r MFA) TOTP(ctx context.Context, userID uuid.UUID) (*mfa.TOTP, error) {
	var (
		sealed    []byte
		created   time.Time
		confirmed *time.Time
		step      *int64
	)
	err := r.DB.QueryRow(ctx, `SELECT sealed_secret, created_at, confirmed_at, last_used_step FROM mfa_totp WHERE user_id = $1`, userID).
		Scan(&sealed, &created, &confirmed, &step)
	if err != nil {
		return nil, notFound(err, mfa.ErrNotFound)
	}
	return mfa.RehydrateTOTP(userID, sealed, created, confirmed, step), nil
}

// ConfirmTOTP confirms the pending factor with this sealed secret.
func (r MFA) ConfirmTOTP(ctx context.Context, userID uuid.UUID, sealed []byte, at time.Time, step int64) (bool, error) {
	return changed(r.DB.Exec(ctx, `UPDATE mfa_totp SET confirmed_at = $3, last_used_step = $4
		WHERE user_id = $1 AND sealed_secret = $2 AND confirmed_at IS NULL`, userID, sealed, at, step))
}

// UseTOTPStepSQL records a step above the highest used one (primary key).
const UseTOTPStepSQL = `UPDATE mfa_totp SET last_used_step = $2
	WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)`

// UseTOTPStep records step if it is above the highest used one.
func (r MFA) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error) {
	return changed(r.DB.Exec(ctx, UseTOTPStepSQL, userID, step))
}

// DeleteTOTP removes the factor, the recovery codes and the login tokens
// of the user in one transaction (the bound one, or one of its own).
func (r MFA) DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error) {
	var enabled bool
	err := r.DB.Tx(ctx, func(tx DB) error {
		err := tx.QueryRow(ctx, `DELETE FROM mfa_totp WHERE user_id = $1 RETURNING confirmed_at IS NOT NULL`, userID).Scan(&enabled)
		if err != nil && !errors.Is(err, ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, DeleteRecoveryCodesSQL, userID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM mfa_login_tokens WHERE user_id = $1`, userID)
		return err
	})
	return enabled, err
}

// DeleteRecoveryCodesSQL deletes the recovery codes of user $1.
const DeleteRecoveryCodesSQL = `DELETE FROM mfa_recovery_codes WHERE user_id = $1`

// UseRecoveryCodeSQL marks one unused code used (primary key).
const UseRecoveryCodeSQL = `UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`

// UseRecoveryCode marks the user's unused code used.
func (r MFA) UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash token.Hash, at time.Time) (bool, error) {
	return changed(r.DB.Exec(ctx, UseRecoveryCodeSQL, userID, hash[:], at))
}

// UnusedRecoveryCodesSQL counts a user's unused codes (primary key prefix).
const UnusedRecoveryCodesSQL = `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL`

// UnusedRecoveryCodes counts the user's unused codes.
func (r MFA) UnusedRecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	err := r.DB.QueryRow(ctx, UnusedRecoveryCodesSQL, userID).Scan(&n)
	return n, err
}

// AddLoginToken inserts t.
func (r MFA) AddLoginToken(ctx context.Context, t *mfa.LoginToken) error {
	h, b := t.Hash(), t.Binding()
	_, err := r.DB.Exec(ctx, `INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at, failed_attempts, used_at, first_factor)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, h[:], t.UserID(), b[:], t.CreatedAt(), t.ExpiresAt(), t.FailedAttempts(), t.UsedAt(), storable.Methods(t.FirstFactor()))
	return err
}

// LoginToken reads a login token, or gives mfa.ErrLoginTokenInvalid.
func (r MFA) LoginToken(ctx context.Context, hash token.Hash) (*mfa.LoginToken, error) {
	var (
		userID           uuid.UUID
		binding          []byte
		created, expires time.Time
		failed           int
		used             *time.Time
		firstFactor      string
	)
	err := r.DB.QueryRow(ctx, `SELECT user_id, binding, created_at, expires_at, failed_attempts, used_at, first_factor FROM mfa_login_tokens WHERE token_hash = $1`, hash[:]).
		Scan(&userID, &binding, &created, &expires, &failed, &used, &firstFactor)
	if err != nil {
		return nil, notFound(err, mfa.ErrLoginTokenInvalid)
	}
	var b mfa.Binding
	copy(b[:], binding)
	t := mfa.RehydrateLoginToken(hash, userID, b, created, expires, failed, used)
	t.RehydrateFirstFactor(storable.ParseMethods(firstFactor))
	return t, nil
}

// FailLoginToken counts a wrong code against an unused, unburned token.
func (r MFA) FailLoginToken(ctx context.Context, hash token.Hash, limit int) (bool, error) {
	return changed(r.DB.Exec(ctx, `UPDATE mfa_login_tokens SET failed_attempts = failed_attempts + 1
		WHERE token_hash = $1 AND used_at IS NULL AND failed_attempts < $2`, hash[:], limit))
}

// UseLoginToken marks an unused, unburned, unexpired token used.
func (r MFA) UseLoginToken(ctx context.Context, hash token.Hash, at time.Time, limit int) (bool, error) {
	return changed(r.DB.Exec(ctx, `UPDATE mfa_login_tokens SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND failed_attempts < $3 AND expires_at > $2`, hash[:], at, limit))
}

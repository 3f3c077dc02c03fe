package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// MFARepository stores TOTP factors, recovery codes and MFA login tokens.
// Every check that races (a step used, a code used, a token used or
// burned) is one conditional UPDATE; writes are serialized on the one
// writer, so of racing statements exactly one matches.
type MFARepository struct {
	db DBTX
}

var _ app.MFARepository = (*MFARepository)(nil)

// NewMFARepository returns an MFARepository on db.
func NewMFARepository(db DBTX) *MFARepository { return &MFARepository{db: db} }

// PutPendingTOTP inserts f, or replaces the user's pending factor with it;
// a confirmed factor stays and gives mfa.ErrAlreadyEnabled.
func (r *MFARepository) PutPendingTOTP(ctx context.Context, f *mfa.TOTP) error {
	n, err := affected(exec(ctx, r.db, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at, last_used_step = NULL
		WHERE mfa_totp.confirmed_at IS NULL`, f.UserID().String(), f.SealedSecret(), micros(f.CreatedAt())))
	if err != nil {
		return err
	}
	if n == 0 {
		return mfa.ErrAlreadyEnabled
	}
	return nil
}

// TOTP reads the user's factor, or gives mfa.ErrNotFound.
func (r *MFARepository) TOTP(ctx context.Context, userID uuid.UUID) (*mfa.TOTP, error) {
	var (
		sealed    []byte
		created   int64
		confirmed sql.NullInt64
		step      sql.NullInt64
	)
	err := r.db.reader().QueryRowContext(ctx, `SELECT sealed_secret, created_at, confirmed_at, last_used_step FROM mfa_totp WHERE user_id = $1`, userID.String()).
		Scan(&sealed, &created, &confirmed, &step)
	if err != nil {
		return nil, translate(err, mfa.ErrNotFound)
	}
	var last *int64
	if step.Valid {
		last = &step.Int64
	}
	return mfa.RehydrateTOTP(userID, sealed, fromMicros(created), fromNullMicros(confirmed), last), nil
}

// ConfirmTOTP confirms the pending factor with this sealed secret.
func (r *MFARepository) ConfirmTOTP(ctx context.Context, userID uuid.UUID, sealed []byte, at time.Time, step int64) (bool, error) {
	return changed(exec(ctx, r.db, `UPDATE mfa_totp SET confirmed_at = $3, last_used_step = $4
		WHERE user_id = $1 AND sealed_secret = $2 AND confirmed_at IS NULL`, userID.String(), sealed, micros(at), step))
}

// useTOTPStepSQL records a step above the highest used one (primary key).
const useTOTPStepSQL = `UPDATE mfa_totp SET last_used_step = $2
	WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)`

// UseTOTPStep records step if it is above the highest used one.
func (r *MFARepository) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error) {
	return changed(exec(ctx, r.db, useTOTPStepSQL, userID.String(), step))
}

// DeleteTOTP removes the factor, the recovery codes and the login tokens
// of the user in one write transaction (the bound one, or one of its own).
func (r *MFARepository) DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error) {
	var enabled bool
	err := r.db.writeTx(ctx, func(q querier) error {
		var confirmed sql.NullInt64
		err := q.QueryRowContext(ctx, `DELETE FROM mfa_totp WHERE user_id = $1 RETURNING confirmed_at`, userID.String()).Scan(&confirmed)
		switch {
		case err == nil:
			enabled = confirmed.Valid
		case err == sql.ErrNoRows:
		default:
			return translate(err, nil)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID.String()); err != nil {
			return translate(err, nil)
		}
		_, err = q.ExecContext(ctx, `DELETE FROM mfa_login_tokens WHERE user_id = $1`, userID.String())
		return translate(err, nil)
	})
	return enabled, err
}

// enabledBatch bounds the ids of one EnabledAmong statement (SQLite limits
// the number of parameters); the admin list asks for at most 200.
const enabledBatch = 500

// EnabledAmong returns which of userIDs have a confirmed factor: one
// statement (user_id IN (...), primary key) per enabledBatch ids.
func (r *MFARepository) EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := make(map[uuid.UUID]bool)
	ids := slices.Clone(userIDs)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, enabledBatch) {
		query, args := enabledAmongSQL(chunk)
		rows, err := r.db.reader().QueryContext(ctx, query, args...)
		if err != nil {
			return nil, translate(err, nil)
		}
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, translate(err, nil)
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, translate(err, nil)
		}
	}
	return out, nil
}

// enabledAmongSQL selects the users of ids with a confirmed factor.
func enabledAmongSQL(ids []uuid.UUID) (query string, args []any) {
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id.String())
		marks[i] = "$" + strconv.Itoa(len(args))
	}
	return `SELECT user_id FROM mfa_totp WHERE user_id IN (` + strings.Join(marks, ", ") + `) AND confirmed_at IS NOT NULL`, args
}

// ReplaceRecoveryCodes deletes the user's codes and inserts the new set,
// in one write transaction (the bound one, or one of its own).
func (r *MFARepository) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error {
	return r.db.writeTx(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID.String()); err != nil {
			return translate(err, nil)
		}
		for _, h := range hashes {
			if _, err := q.ExecContext(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)`,
				userID.String(), h[:], micros(at)); err != nil {
				return translate(err, nil)
			}
		}
		return nil
	})
}

// useRecoveryCodeSQL marks one unused code used (primary key).
const useRecoveryCodeSQL = `UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`

// UseRecoveryCode marks the user's unused code used.
func (r *MFARepository) UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash token.Hash, at time.Time) (bool, error) {
	return changed(exec(ctx, r.db, useRecoveryCodeSQL, userID.String(), hash[:], micros(at)))
}

// unusedRecoveryCodesSQL counts a user's unused codes (primary key prefix).
const unusedRecoveryCodesSQL = `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL`

// UnusedRecoveryCodes counts the user's unused codes.
func (r *MFARepository) UnusedRecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	if err := r.db.reader().QueryRowContext(ctx, unusedRecoveryCodesSQL, userID.String()).Scan(&n); err != nil {
		return 0, translate(err, nil)
	}
	return n, nil
}

// AddLoginToken inserts t.
func (r *MFARepository) AddLoginToken(ctx context.Context, t *mfa.LoginToken) error {
	h, b := t.Hash(), t.Binding()
	_, err := exec(ctx, r.db, `INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at, failed_attempts, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, h[:], t.UserID().String(), b[:], micros(t.CreatedAt()), micros(t.ExpiresAt()), t.FailedAttempts(), microsPtr(t.UsedAt()))
	return err
}

// LoginToken reads a login token, or gives mfa.ErrLoginTokenInvalid.
func (r *MFARepository) LoginToken(ctx context.Context, hash token.Hash) (*mfa.LoginToken, error) {
	var (
		userID           uuid.UUID
		binding          []byte
		created, expires int64
		failed           int
		used             sql.NullInt64
	)
	err := r.db.reader().QueryRowContext(ctx, `SELECT user_id, binding, created_at, expires_at, failed_attempts, used_at FROM mfa_login_tokens WHERE token_hash = $1`, hash[:]).
		Scan(&userID, &binding, &created, &expires, &failed, &used)
	if err != nil {
		return nil, translate(err, mfa.ErrLoginTokenInvalid)
	}
	var b mfa.Binding
	copy(b[:], binding)
	return mfa.RehydrateLoginToken(hash, userID, b, fromMicros(created), fromMicros(expires), failed, fromNullMicros(used)), nil
}

// FailLoginToken counts a wrong code against an unused, unburned token.
func (r *MFARepository) FailLoginToken(ctx context.Context, hash token.Hash, limit int) (bool, error) {
	return changed(exec(ctx, r.db, `UPDATE mfa_login_tokens SET failed_attempts = failed_attempts + 1
		WHERE token_hash = $1 AND used_at IS NULL AND failed_attempts < $2`, hash[:], limit))
}

// UseLoginToken marks an unused, unburned, unexpired token used.
func (r *MFARepository) UseLoginToken(ctx context.Context, hash token.Hash, at time.Time, limit int) (bool, error) {
	return changed(exec(ctx, r.db, `UPDATE mfa_login_tokens SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND failed_attempts < $3 AND expires_at > $2`, hash[:], micros(at), limit))
}

// changed reports whether a conditional statement (its error already
// translated) touched a row.
func changed(res sql.Result, err error) (bool, error) {
	n, err := affected(res, err)
	return n > 0, err
}

package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/google/uuid"
)

const passkeyColumns = `id, user_id, credential_id, name, public_key, sign_count, aaguid, transports, user_verified, backup_eligible, backup_state, created_at, last_used_at`

// Passkeys keeps the users' passkeys in passkeys and the ceremonies'
// challenges in passkey_challenges.
type Passkeys struct {
	DB DB
}

// Add stores c; a credential id stored already gives passkey.ErrExists.
// ON CONFLICT DO NOTHING lets the unique index decide races without
// aborting the caller's transaction.
func (r Passkeys) Add(ctx context.Context, c *passkey.Credential) error {
	f := c.Flags()
	return execOne(ctx, r.DB, passkey.ErrExists, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT DO NOTHING`,
		c.ID(), c.UserID(), c.CredentialID(), c.Name(), c.PublicKey(), int64(c.SignCount()), nonNil(c.AAGUID()), strings.Join(c.Transports(), " "),
		f.UserVerified, f.BackupEligible, f.BackupState, c.CreatedAt(), c.LastUsedAt())
}

// ByID finds the user's passkey id (primary key), or gives
// passkey.ErrNotFound.
func (r Passkeys) ByID(ctx context.Context, userID, id uuid.UUID) (*passkey.Credential, error) {
	return scanPasskey(r.DB.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID))
}

// ByCredentialID finds a passkey by its credential id (unique index), or
// gives passkey.ErrNotFound.
func (r Passkeys) ByCredentialID(ctx context.Context, credentialID []byte) (*passkey.Credential, error) {
	return scanPasskey(r.DB.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = $1`, credentialID))
}

// List returns the user's passkeys, oldest first (index passkeys_user).
func (r Passkeys) List(ctx context.Context, userID uuid.UUID) ([]*passkey.Credential, error) {
	return All(ctx, r.DB, scanPasskey, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// Update saves c's name, counter, backup state and last use, or gives
// passkey.ErrNotFound.
func (r Passkeys) Update(ctx context.Context, c *passkey.Credential) error {
	return execOne(ctx, r.DB, passkey.ErrNotFound, `UPDATE passkeys SET name = $3, sign_count = $4, backup_state = $5, last_used_at = $6 WHERE id = $1 AND user_id = $2`,
		c.ID(), c.UserID(), c.Name(), int64(c.SignCount()), c.Flags().BackupState, c.LastUsedAt())
}

// Delete removes the user's passkey id, or gives passkey.ErrNotFound.
func (r Passkeys) Delete(ctx context.Context, userID, id uuid.UUID) error {
	return execOne(ctx, r.DB, passkey.ErrNotFound, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
}

// AddChallenge stores c.
func (r Passkeys) AddChallenge(ctx context.Context, c *passkey.Challenge) error {
	_, err := r.DB.Exec(ctx, `INSERT INTO passkey_challenges (id, user_id, purpose, state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID(), NullUUID(c.UserID()), string(c.Purpose()), string(c.State()), c.CreatedAt(), c.ExpiresAt())
	return err
}

// TakeChallenge deletes the challenge id and returns it, in one statement:
// of racing deletes of one row exactly one returns it (the others wait
// for it and find it gone), so a challenge is answered once.
func (r Passkeys) TakeChallenge(ctx context.Context, id uuid.UUID) (*passkey.Challenge, error) {
	var (
		userID           uuid.NullUUID
		purpose, state   string
		created, expires time.Time
	)
	// A write that returns a row: in a transaction (the bound one, or
	// one of its own), where a store with one writer runs its writes.
	err := r.DB.Tx(ctx, func(tx DB) error {
		return tx.QueryRow(ctx, `DELETE FROM passkey_challenges WHERE id = $1 RETURNING user_id, purpose, state, created_at, expires_at`, id).
			Scan(&userID, &purpose, &state, &created, &expires)
	})
	if err != nil {
		return nil, notFound(err, passkey.ErrChallengeInvalid)
	}
	return passkey.RehydrateChallenge(id, userID.UUID, passkey.Purpose(purpose), []byte(state), created, expires), nil
}

// scanPasskey reads one row of passkeyColumns, or gives
// passkey.ErrNotFound.
func scanPasskey(row Row) (*passkey.Credential, error) {
	var (
		id, userID          uuid.UUID
		credID, pub, aaguid []byte
		name, transports    string
		count               int64
		f                   passkey.Flags
		created             time.Time
		lastUsed            *time.Time
	)
	err := row.Scan(&id, &userID, &credID, &name, &pub, &count, &aaguid, &transports, &f.UserVerified, &f.BackupEligible, &f.BackupState, &created, &lastUsed)
	if err != nil {
		return nil, notFound(err, passkey.ErrNotFound)
	}
	return passkey.Rehydrate(id, userID, name, passkey.Registration{
		CredentialID: credID, PublicKey: pub, SignCount: uint32(count), AAGUID: aaguid, Transports: strings.Fields(transports), Flags: f,
	}, created, lastUsed), nil
}

// nonNil is b, or an empty slice for nil (stored as an empty value, not
// NULL).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

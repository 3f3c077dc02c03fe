package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// The repositories are package sqlstore's on this store's conn and
// dialect: reads for change lock their row (FOR UPDATE) until the
// transaction ends, and under READ COMMITTED a second conditional UPDATE
// on a row waits for the first to commit and re-evaluates its WHERE
// clause, so of racing ones exactly one matches. What PostgreSQL does its
// own way is below: id lists as one array argument (= ANY($1)), recovery
// codes inserted from an array, pending registrations swept with SKIP
// LOCKED.
type (
	// UserRepository stores users; a list by email prefix is a range in
	// byte order on users_email_prefix (email COLLATE "C"), literal and
	// indexed whatever the database's collation.
	UserRepository struct{ sqlstore.Users }
	// SessionRepository stores sessions and their refresh tokens.
	SessionRepository struct{ sqlstore.Sessions }
	// OneTimeTokenRepository stores verification and reset tokens by hash.
	OneTimeTokenRepository struct{ sqlstore.OneTimeTokens }
	// MFARepository stores TOTP factors, recovery codes and login tokens.
	MFARepository struct{ sqlstore.MFA }
	// AdminKeyStore keeps admin keys; names sort in byte order (the
	// primary key, COLLATE "C").
	AdminKeyStore struct{ sqlstore.AdminKeys }
	// SigningKeyRing keeps the signing keys; racing saves queue on the row
	// lock.
	SigningKeyRing struct{ sqlstore.SigningKeys }
	// Outbox is the mail queue; claims skip what another worker holds.
	Outbox struct{ sqlstore.Outbox }
	// Settings keeps named values.
	Settings struct{ sqlstore.Settings }
	// StoreInfo describes the PostgreSQL store.
	StoreInfo struct{ sqlstore.StoreInfo }
	// Retention deletes rows whose purpose has ended.
	Retention struct{ sqlstore.Retention }
	// AuditLog appends events to the hash-chained audit_events table and
	// reads them back.
	AuditLog struct {
		sqlstore.Audit
		db DBTX
	}
)

var (
	_ app.UserRepository         = (*UserRepository)(nil)
	_ app.SessionRepository      = (*SessionRepository)(nil)
	_ app.OneTimeTokenRepository = (*OneTimeTokenRepository)(nil)
	_ app.MFARepository          = (*MFARepository)(nil)
	_ app.AdminKeyStore          = (*AdminKeyStore)(nil)
	_ app.SigningKeyRing         = (*SigningKeyRing)(nil)
	_ app.Outbox                 = (*Outbox)(nil)
	_ keys.Settings              = (*Settings)(nil)
	_ admin.StoreInfo            = (*StoreInfo)(nil)
	_ maintenance.Retention      = (*Retention)(nil)
	_ app.AuditLog               = (*AuditLog)(nil)
	_ admin.AuditTrail           = (*AuditLog)(nil)
)

// NewRepos returns the repositories bound to db (a pool or a transaction).
func NewRepos(db DBTX) app.Repos {
	return app.Repos{
		Users:       NewUserRepository(db),
		Tokens:      NewOneTimeTokenRepository(db),
		Sessions:    NewSessionRepository(db),
		Outbox:      NewOutbox(db),
		Audit:       NewAuditLog(db),
		AdminKeys:   NewAdminKeyStore(db),
		MFA:         NewMFARepository(db),
		SigningKeys: NewSigningKeyRing(db),
		Clients:     sqlstore.Clients{DB: conn{db}},
	}
}

// NewUserRepository returns a UserRepository on db.
func NewUserRepository(db DBTX) *UserRepository {
	return &UserRepository{sqlstore.Users{DB: conn{db}, Dialect: dialect}}
}

// NewSessionRepository returns a SessionRepository on db.
func NewSessionRepository(db DBTX) *SessionRepository {
	return &SessionRepository{sqlstore.Sessions{DB: conn{db}, Dialect: dialect}}
}

// NewOneTimeTokenRepository returns a OneTimeTokenRepository on db.
func NewOneTimeTokenRepository(db DBTX) *OneTimeTokenRepository {
	return &OneTimeTokenRepository{sqlstore.OneTimeTokens{DB: conn{db}, Dialect: dialect}}
}

// NewMFARepository returns an MFARepository on db.
func NewMFARepository(db DBTX) *MFARepository { return &MFARepository{sqlstore.MFA{DB: conn{db}}} }

// NewAdminKeyStore returns an AdminKeyStore on db.
func NewAdminKeyStore(db DBTX) *AdminKeyStore {
	return &AdminKeyStore{sqlstore.AdminKeys{DB: conn{db}}}
}

// NewSigningKeyRing returns a SigningKeyRing on db.
func NewSigningKeyRing(db DBTX) *SigningKeyRing {
	return &SigningKeyRing{sqlstore.SigningKeys{DB: conn{db}}}
}

// NewOutbox returns an Outbox on db.
func NewOutbox(db DBTX) *Outbox { return &Outbox{sqlstore.Outbox{DB: conn{db}, Dialect: dialect}} }

// NewSettings returns Settings on db.
func NewSettings(db DBTX) *Settings { return &Settings{sqlstore.Settings{DB: conn{db}}} }

// NewStoreInfo returns the StoreInfo of db.
func NewStoreInfo(db DBTX) *StoreInfo {
	return &StoreInfo{sqlstore.StoreInfo{DB: conn{db}, Name: "postgres"}}
}

// NewRetention returns a Retention on db (normally the pool).
func NewRetention(db DBTX) *Retention {
	return &Retention{sqlstore.Retention{DB: conn{db}, Dialect: dialect}}
}

// NewAuditLog returns an AuditLog on db.
func NewAuditLog(db DBTX) *AuditLog { return &AuditLog{Audit: sqlstore.Audit{DB: conn{db}}, db: db} }

// countActiveSQL counts the active sessions of users $1 at $2.
var countActiveSQL = `SELECT user_id, count(*) FROM sessions
	WHERE user_id = ANY($1) AND ` + sqlstore.ActiveSessions("$2") + `
	GROUP BY user_id`

// CountActive counts, per user of userIDs, the sessions ListActive would
// return, in one statement for the whole batch (index sessions_user_live).
// Users without one are absent; no ids give an empty map and no query.
func (r *SessionRepository) CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int)
	if len(userIDs) == 0 {
		return out, nil
	}
	err := sqlstore.Each(ctx, r.DB, func(row sqlstore.Row) error {
		var (
			id uuid.UUID
			n  int
		)
		if err := row.Scan(&id, &n); err != nil {
			return err
		}
		out[id] = n
		return nil
	}, countActiveSQL, userIDs, now)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// InvalidateUnused marks the user's unused tokens of the given purposes used
// at at, dropping their password hashes and keeping new addresses (index
// one_time_tokens_user_purpose_unused).
func (r *OneTimeTokenRepository) InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error) {
	if len(purposes) == 0 {
		return 0, nil
	}
	names := make([]string, len(purposes))
	for i, p := range purposes {
		names[i] = string(p)
	}
	n, err := r.DB.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose = ANY($3) AND used_at IS NULL`, userID, at, names)
	return int(n), err
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
	if err := sqlstore.Each(ctx, r.DB, sqlstore.MarkIDs(out), enabledAmongSQL, userIDs); err != nil {
		return nil, err
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
		if _, err := tx.Exec(ctx, sqlstore.DeleteRecoveryCodesSQL, userID); err != nil || len(raw) == 0 {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`, userID, raw, at)
		return err
	})
}

// sweepRegistrationsSQL deletes a batch of pending registrations whose
// last unused link expired at $1 or before (or that have none), and the
// mail queued or sent to them (as UserRepository.Delete does; their
// tokens and sessions go by cascade). The candidates are read from
// users_registration_pending, each one's unused links from
// one_time_tokens_user_purpose_unused, their mail from mail_outbox_user.
// A candidate whose row another transaction holds is skipped (the next
// sweep sees it again); one locked after a login or a verification
// cleared its mark is not deleted, since the lock re-reads the mark.
const sweepRegistrationsSQL = `WITH gone AS (
	DELETE FROM users WHERE id IN (
		SELECT u.id FROM users u
		WHERE u.registration_pending
		  AND COALESCE((SELECT max(t.expires_at) FROM one_time_tokens t
		                WHERE t.user_id = u.id AND t.used_at IS NULL), $1) <= $1
		LIMIT $2
		FOR UPDATE SKIP LOCKED)
	RETURNING id
), mail AS (
	DELETE FROM mail_outbox WHERE user_id = ANY (ARRAY(SELECT id FROM gone))
)
SELECT count(*) FROM gone`

// SweepRegistrations deletes the pending registrations whose links have
// all expired or were used by now, a batch per call, in one statement.
func (r *Retention) SweepRegistrations(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := r.DB.QueryRow(ctx, sweepRegistrationsSQL, now, sqlstore.RetentionBatch).Scan(&n)
	return n, err
}

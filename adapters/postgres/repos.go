package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// The repositories are package sqlstore's on this store's conn and
// dialect: reads for change lock their row (FOR UPDATE) until the
// transaction ends, and under READ COMMITTED a second conditional UPDATE
// on a row waits for the first to commit and re-evaluates its WHERE
// clause, so of racing ones exactly one matches. A list of users by email
// prefix is a range in byte order on users_email_prefix (email COLLATE
// "C"), literal and indexed whatever the database's collation; admin key
// names sort in byte order (the primary key, COLLATE "C"); racing saves
// of a signing key queue on the row lock; outbox claims skip what another
// worker holds. What PostgreSQL does its own way is own's: id lists as
// one array argument (= ANY($1)), recovery codes inserted from an array,
// pending registrations swept with SKIP LOCKED, the audit chain's append
// under an advisory lock and its walk in pages.
func store(db DBTX) sqlstore.Store {
	return sqlstore.Store{DB: conn{db}, Dialect: dialect, Own: own{conn{db}}, Name: "postgres"}
}

// NewRepos returns the repositories bound to db (a pool or a transaction).
func NewRepos(db DBTX) app.Repos { return store(db).Repos() }

// own runs what PostgreSQL does its own way on db.
type own struct{ conn }

var _ sqlstore.Own = own{}

// countActiveSQL counts the active sessions of users $1 at $2.
var countActiveSQL = `SELECT user_id, count(*) FROM sessions
	WHERE user_id = ANY($1) AND ` + sqlstore.ActiveSessions("$2") + `
	GROUP BY user_id`

// CountActive counts, per user of userIDs, the sessions ListActive would
// return, in one statement for the whole batch (index sessions_user_live).
// Users without one are absent; no ids give an empty map and no query.
func (o own) CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int)
	if len(userIDs) == 0 {
		return out, nil
	}
	err := sqlstore.Each(ctx, o.conn, sqlstore.CountIDs(out), countActiveSQL, userIDs, now)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// InvalidateUnused marks the user's unused tokens of the given purposes used
// at at, dropping their password hashes and keeping new addresses (index
// one_time_tokens_user_purpose_unused).
func (o own) InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error) {
	if len(purposes) == 0 {
		return 0, nil
	}
	names := make([]string, len(purposes))
	for i, p := range purposes {
		names[i] = string(p)
	}
	n, err := o.conn.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose = ANY($3) AND used_at IS NULL`, userID, at, names)
	return int(n), err
}

// enabledAmongSQL selects the users of $1 with a confirmed factor
// (primary key).
const enabledAmongSQL = `SELECT user_id FROM mfa_totp WHERE user_id = ANY($1) AND confirmed_at IS NOT NULL`

// EnabledAmong returns which of userIDs have a confirmed factor.
func (o own) EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := make(map[uuid.UUID]bool)
	if len(userIDs) == 0 {
		return out, nil
	}
	if err := sqlstore.Each(ctx, o.conn, sqlstore.MarkIDs(out), enabledAmongSQL, userIDs); err != nil {
		return nil, err
	}
	return out, nil
}

// ReplaceRecoveryCodes deletes the user's codes and inserts the new set
// (one statement, unnest of an array), in one transaction (the bound one,
// or one of its own).
func (o own) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error {
	raw := make([][]byte, len(hashes))
	for i := range hashes {
		raw[i] = hashes[i][:]
	}
	return o.conn.Tx(ctx, func(tx sqlstore.DB) error {
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
	RETURNING ` + sqlstore.UserColumns + `
), mail AS (
	DELETE FROM mail_outbox WHERE user_id = ANY (ARRAY(SELECT id FROM gone))
)
SELECT ` + sqlstore.UserColumns + ` FROM gone`

// SweepRegistrations deletes the pending registrations whose links have
// all expired or were used by now, a batch per call, in one statement,
// and then records the events told makes of them, in one transaction.
func (o own) SweepRegistrations(ctx context.Context, now time.Time, told func(deleted []*user.User) []webhook.Event) (int, error) {
	var n int
	err := o.conn.Tx(ctx, func(tx sqlstore.DB) error {
		deleted, err := sqlstore.All(ctx, tx, sqlstore.ScanUser, sweepRegistrationsSQL, now, sqlstore.RetentionBatch)
		if err != nil || len(deleted) == 0 {
			return err
		}
		n = len(deleted)
		return sqlstore.EventLog{DB: tx, Dialect: dialect}.Publish(ctx, told(deleted)...)
	})
	return n, err
}

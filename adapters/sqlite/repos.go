package sqlite

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
// dialect. Bound to the DB, each read is one statement on a reader and
// each write one statement (or one short transaction) on the writer; bound
// to a transaction, everything runs inside it. A read "for change" is a
// plain read: the transaction holds the only writer until it ends, which
// serializes the transactions that change a row as a row lock would, and
// of racing conditional statements exactly one matches; it orders racing
// saves of a signing key too, and an outbox claim runs in one write
// transaction, so the later of two claims no longer sees what the earlier
// one took. A list of users by email prefix is a range in byte order on
// users_email_key (BINARY collation), read through INDEXED BY; admin key
// names sort in byte order (the primary key, BINARY collation). What
// SQLite does its own way is own's: id lists as IN (...) in batches
// (SQLite limits the parameters of a statement), recovery codes inserted
// one by one, pending registrations swept in one write transaction, the
// audit chain's append in one write transaction and its walk in one read
// transaction.
func store(db DBTX) sqlstore.Store {
	return sqlstore.Store{DB: conn{db}, Dialect: dialect, Own: own{conn{db}}, Name: "sqlite"}
}

// NewRepos returns the repositories bound to db (a *DB or the transaction
// Within hands out).
func NewRepos(db DBTX) app.Repos { return store(db).Repos() }

// own runs what SQLite does its own way on db.
type own struct{ conn }

var _ sqlstore.Own = own{}

// CountActive counts, per user of userIDs, the sessions ListActive would
// return: one statement on a reader (user_id IN (...), index
// sessions_user_live) for up to idBatch distinct ids; a larger batch runs
// one per idBatch ids in one read transaction. Users without one are
// absent; no ids give an empty map and no query.
func (o own) CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int)
	batches := idBatches(userIDs)
	count := func(q querier) error {
		for _, batch := range batches {
			query, args := countActiveSQL(batch, now)
			err := sqlstore.Each(ctx, txConn{q, o.db}, sqlstore.CountIDs(out), query, args...)
			if err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(batches) <= 1 { // one statement at most: no transaction needed
		err = count(o.db.reader())
	} else {
		err = o.db.readTx(ctx, count)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countActiveSQL counts the active sessions at now of the users ids.
func countActiveSQL(ids []uuid.UUID, now time.Time) (query string, args []any) {
	args = []any{micros(now)}
	// INDEXED BY: before ANALYZE the planner may take sessions_user, which
	// reads the revoked and expired rows too.
	return `SELECT user_id, count(*) FROM sessions INDEXED BY sessions_user_live
		WHERE user_id IN (` + inList(&args, ids) + `) AND ` + sqlstore.ActiveSessions("$1") + `
		GROUP BY user_id`, args
}

// InvalidateUnused marks the user's unused tokens of the given purposes used
// at at, dropping their password hashes and keeping new addresses (index
// one_time_tokens_user_purpose_unused).
func (o own) InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error) {
	if len(purposes) == 0 {
		return 0, nil
	}
	args := []any{userID, at}
	n, err := o.conn.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose IN (`+inList(&args, purposes)+`) AND used_at IS NULL`, args...)
	return int(n), err
}

// EnabledAmong returns which of userIDs have a confirmed factor: one
// statement (user_id IN (...), primary key) per idBatch ids.
func (o own) EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := make(map[uuid.UUID]bool)
	for _, batch := range idBatches(userIDs) {
		query, args := enabledAmongSQL(batch)
		if err := sqlstore.Each(ctx, o.conn, sqlstore.MarkIDs(out), query, args...); err != nil {
			return nil, err
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
func (o own) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error {
	return o.conn.Tx(ctx, func(tx sqlstore.DB) error {
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

// sweepRegistrationsSQL deletes a batch of pending registrations whose
// last unused link expired at $1 or before (or that have none), and
// returns them (their tokens and sessions go by cascade). The
// candidates are read from users_registration_pending, each one's unused
// links from one_time_tokens_user.
const sweepRegistrationsSQL = `DELETE FROM users WHERE id IN (
	SELECT u.id FROM users u
	WHERE u.registration_pending = 1
	  AND COALESCE((SELECT max(t.expires_at) FROM one_time_tokens t
	                WHERE t.user_id = u.id AND t.used_at IS NULL), $1) <= $1
	LIMIT $2)
RETURNING ` + sqlstore.UserColumns

// SweepRegistrations deletes the pending registrations whose links have
// all expired or were used by now, a batch per call, with the mail queued
// or sent to them (as UserRepository.Delete does), and records the events
// told makes of them, in one write transaction: nothing can give one of
// them a link or verify it between the check and the delete. Their password hashes and undelivered mail
// leave the WAL too, as a deleted account's do.
func (o own) SweepRegistrations(ctx context.Context, now time.Time, told func(deleted []*user.User) []webhook.Event) (int, error) {
	var deleted []*user.User
	err := o.conn.Tx(ctx, func(tx sqlstore.DB) error {
		var err error
		if deleted, err = sqlstore.All(ctx, tx, sqlstore.ScanUser, sweepRegistrationsSQL, now, sqlstore.RetentionBatch); err != nil || len(deleted) == 0 {
			return err
		}
		for _, u := range deleted {
			if _, err := tx.Exec(ctx, sqlstore.DeleteUserMailSQL, u.ID()); err != nil {
				return err
			}
		}
		return sqlstore.EventLog{DB: tx, Dialect: dialect}.Publish(ctx, told(deleted)...)
	})
	if err != nil {
		return 0, err
	}
	if len(deleted) > 0 {
		o.conn.Scrub()
	}
	return len(deleted), nil
}

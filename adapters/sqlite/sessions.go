package sqlite

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

// SessionRepository stores sessions and their refresh tokens
// (sqlstore.Sessions). Reads for change read inside the bound transaction,
// which holds the only writer until it ends: that serializes the
// transactions that change a session or present one refresh token.
type SessionRepository struct {
	sqlstore.Sessions
	db DBTX
}

var _ app.SessionRepository = (*SessionRepository)(nil)

// NewSessionRepository returns a SessionRepository on db.
func NewSessionRepository(db DBTX) *SessionRepository {
	return &SessionRepository{Sessions: sqlstore.Sessions{DB: conn{db}, Dialect: dialect}, db: db}
}

// CountActive counts, per user of userIDs, the sessions ListActive would
// return: one statement on a reader (user_id IN (...), index
// sessions_user_live) for up to idBatch distinct ids; a larger batch runs
// one per idBatch ids in one read transaction. Users without one are
// absent; no ids give an empty map and no query.
func (r *SessionRepository) CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int)
	batches := idBatches(userIDs)
	count := func(q querier) error {
		for _, batch := range batches {
			query, args := countActiveSQL(batch, now)
			if err := countActive(ctx, q, query, args, out); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(batches) <= 1 { // one statement at most: no transaction needed
		err = count(r.db.reader())
	} else {
		err = r.db.readTx(ctx, count)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countActiveSQL counts the active sessions at now of the users ids.
func countActiveSQL(ids []uuid.UUID, now time.Time) (query string, args []any) {
	args = []any{micros(now)}
	return `SELECT user_id, count(*) FROM sessions
		WHERE user_id IN (` + inList(&args, ids) + `) AND ` + sqlstore.ActiveSessions("$1") + `
		GROUP BY user_id`, args
}

func countActive(ctx context.Context, q querier, query string, args []any, out map[uuid.UUID]int) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return translate(err, nil)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id uuid.UUID
			n  int
		)
		if err := rows.Scan(&id, &n); err != nil {
			return translate(err, nil)
		}
		out[id] = n
	}
	return translate(rows.Err(), nil)
}

package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

// SessionRepository stores sessions and their refresh tokens
// (sqlstore.Sessions); reads for change lock the row (FOR UPDATE) until
// the transaction ends.
type SessionRepository struct {
	sqlstore.Sessions
	db DBTX
}

var _ app.SessionRepository = (*SessionRepository)(nil)

// NewSessionRepository returns a SessionRepository on db.
func NewSessionRepository(db DBTX) *SessionRepository {
	return &SessionRepository{Sessions: sqlstore.Sessions{DB: conn{db}, Dialect: dialect}, db: db}
}

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
	rows, err := r.db.Query(ctx, countActiveSQL, userIDs, now)
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id uuid.UUID
			n  int
		)
		if err := rows.Scan(&id, &n); err != nil {
			return nil, translate(err, nil)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return out, nil
}

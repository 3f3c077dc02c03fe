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
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// SessionRepository stores sessions and their refresh tokens.
type SessionRepository struct {
	db DBTX
}

var _ app.SessionRepository = (*SessionRepository)(nil)

// NewSessionRepository returns a SessionRepository on db.
func NewSessionRepository(db DBTX) *SessionRepository { return &SessionRepository{db: db} }

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, amr, auth_time`

// Create inserts s. User agent and IP are stored as valid UTF-8 without NUL,
// at most 1024 bytes each.
func (r *SessionRepository) Create(ctx context.Context, s *session.Session) error {
	_, err := exec(ctx, r.db, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.ID().String(), s.UserID().String(), micros(s.CreatedAt()), micros(s.LastUsedAt()), micros(s.ExpiresAt()), microsPtr(s.RevokedAt()),
		storable.Text(s.UserAgent(), storable.MaxText), storable.Text(s.IP(), storable.MaxText),
		storable.Methods(s.AMR()), micros(s.AuthTime()))
	return err
}

// ByID finds a session by primary key, or session.ErrNotFound.
func (r *SessionRepository) ByID(ctx context.Context, id uuid.UUID) (*session.Session, error) {
	return scanSession(r.db.reader().QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id.String()))
}

// bearerSQL reads session $1 with its user and whether the user has a
// confirmed second factor: three primary-key lookups in one statement.
var bearerSQL = `SELECT ` + prefixColumns("s.", sessionColumns) + `, ` + prefixColumns("u.", userColumns) + `,
		t.confirmed_at IS NOT NULL
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	LEFT JOIN mfa_totp t ON t.user_id = s.user_id
	WHERE s.id = $1`

// ForBearer finds session id with its user and the user's second-factor
// state in one statement, or gives session.ErrNotFound.
func (r *SessionRepository) ForBearer(ctx context.Context, id uuid.UUID) (app.BearerSession, error) {
	var (
		s   sessionRow
		u   userRow
		mfa bool
	)
	if err := r.db.reader().QueryRowContext(ctx, bearerSQL, id.String()).Scan(append(append(s.dest(), u.dest()...), &mfa)...); err != nil {
		return app.BearerSession{}, translate(err, session.ErrNotFound)
	}
	return app.BearerSession{Session: s.session(), User: u.user(), MFAEnabled: mfa}, nil
}

// prefixColumns qualifies each column of a comma-separated list with
// prefix ("s." + "id, user_id" = "s.id, s.user_id").
func prefixColumns(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// ByIDForChange is ByID. Bound to a transaction it reads inside it, and the
// transaction holds the only writer until it ends, which serializes the
// transactions that change the session.
func (r *SessionRepository) ByIDForChange(ctx context.Context, id uuid.UUID) (*session.Session, error) {
	return r.ByID(ctx, id)
}

// Update saves the last-used and revoked times of s and how it
// authenticated (amr, auth_time), or gives
// session.ErrNotFound.
func (r *SessionRepository) Update(ctx context.Context, s *session.Session) error {
	res, err := exec(ctx, r.db, `UPDATE sessions SET last_used_at = $2, revoked_at = $3, amr = $4, auth_time = $5 WHERE id = $1`,
		s.ID().String(), micros(s.LastUsedAt()), microsPtr(s.RevokedAt()), storable.Methods(s.AMR()), micros(s.AuthTime()))
	return affectedOne(res, err, session.ErrNotFound)
}

// ListActive returns the user's sessions neither revoked nor past their
// absolute expiry at now, newest first (index sessions_user_live).
func (r *SessionRepository) ListActive(ctx context.Context, userID uuid.UUID, now time.Time) ([]*session.Session, error) {
	rows, err := r.db.reader().QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND `+activeSessions("$2")+`
		ORDER BY created_at DESC, id`, userID.String(), micros(now))
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	var out []*session.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return out, nil
}

// activeSessions is the predicate of ListActive and CountActive: neither
// revoked nor past the absolute expiry at now (the placeholder nowArg).
// With user_id = ... it is answered by index sessions_user_live.
func activeSessions(nowArg string) string {
	return `revoked_at IS NULL AND expires_at > ` + nowArg
}

// countBatch bounds the ids of one CountActive statement (SQLite limits
// the number of parameters); the admin list asks for at most 200.
const countBatch = 500

// CountActive counts, per user of userIDs, the sessions ListActive would
// return: one statement on a reader (user_id IN (...), index
// sessions_user_live) for up to countBatch distinct ids; a larger batch
// runs one per countBatch ids in one read transaction. Users without one
// are absent; no ids give an empty map and no query.
func (r *SessionRepository) CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int)
	if len(userIDs) == 0 {
		return out, nil
	}
	ids := slices.Clone(userIDs)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	if len(ids) <= countBatch { // one statement: no transaction needed
		query, args := countActiveSQL(ids, now)
		if err := countActive(ctx, r.db.reader(), query, args, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	err := r.db.readTx(ctx, func(q querier) error {
		for chunk := range slices.Chunk(ids, countBatch) {
			query, args := countActiveSQL(chunk, now)
			if err := countActive(ctx, q, query, args, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countActiveSQL counts the active sessions at now of the users ids.
func countActiveSQL(ids []uuid.UUID, now time.Time) (query string, args []any) {
	args = []any{micros(now)}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id.String())
		marks[i] = "$" + strconv.Itoa(len(args))
	}
	return `SELECT user_id, count(*) FROM sessions
		WHERE user_id IN (` + strings.Join(marks, ", ") + `) AND ` + activeSessions("$1") + `
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

// RevokeAll revokes, at now, every session of the user that is neither
// revoked nor expired, except keep (uuid.Nil keeps none), and returns how
// many it revoked.
func (r *SessionRepository) RevokeAll(ctx context.Context, userID, keep uuid.UUID, now time.Time) (int, error) {
	return affected(exec(ctx, r.db, `UPDATE sessions SET revoked_at = $3
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 AND id <> $2`, userID.String(), keep.String(), micros(now)))
}

// AddRefreshToken stores a refresh token of a session.
func (r *SessionRepository) AddRefreshToken(ctx context.Context, rt app.RefreshToken) error {
	_, err := exec(ctx, r.db, `INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES ($1, $2, $3, $4, $5)`,
		rt.Hash[:], rt.SessionID.String(), micros(rt.CreatedAt), microsPtr(rt.UsedAt), blobOrNull(rt.SealedSuccessor))
	return err
}

// RefreshTokenForChange finds a refresh token by hash, or gives
// session.ErrNotFound. Bound to a transaction it reads inside it, and the
// transaction holds the only writer until it ends: of transactions
// presenting one token, exactly one sees it unused and the later ones see
// its used time.
func (r *SessionRepository) RefreshTokenForChange(ctx context.Context, hash token.Hash) (app.RefreshToken, error) {
	var (
		raw     []byte
		rt      app.RefreshToken
		created int64
		used    sql.NullInt64
	)
	err := r.db.reader().QueryRowContext(ctx, `SELECT token_hash, session_id, created_at, used_at, successor_sealed FROM refresh_tokens WHERE token_hash = $1`, hash[:]).
		Scan(&raw, &rt.SessionID, &created, &used, &rt.SealedSuccessor)
	if err != nil {
		return app.RefreshToken{}, translate(err, session.ErrNotFound)
	}
	copy(rt.Hash[:], raw)
	rt.CreatedAt = fromMicros(created)
	rt.UsedAt = fromNullMicros(used)
	return rt, nil
}

// MarkRefreshTokenUsed sets the used time and the sealed successor (nil:
// none) of a refresh token, or gives session.ErrNotFound.
func (r *SessionRepository) MarkRefreshTokenUsed(ctx context.Context, hash token.Hash, at time.Time, sealedSuccessor []byte) error {
	res, err := exec(ctx, r.db, `UPDATE refresh_tokens SET used_at = $2, successor_sealed = $3 WHERE token_hash = $1`, hash[:], micros(at), blobOrNull(sealedSuccessor))
	return affectedOne(res, err, session.ErrNotFound)
}

func scanSession(row scanner) (*session.Session, error) {
	var s sessionRow
	if err := row.Scan(s.dest()...); err != nil {
		return nil, translate(err, session.ErrNotFound)
	}
	return s.session(), nil
}

// sessionRow is one row of sessionColumns.
type sessionRow struct {
	id, userID                 uuid.UUID
	created, lastUsed, expires int64
	revoked                    sql.NullInt64
	userAgent, ip              string
	amr                        string
	authTime                   int64
}

// dest are the scan destinations of sessionColumns, in order.
func (r *sessionRow) dest() []any {
	return []any{&r.id, &r.userID, &r.created, &r.lastUsed, &r.expires, &r.revoked, &r.userAgent, &r.ip, &r.amr, &r.authTime}
}

func (r *sessionRow) session() *session.Session {
	s := session.Rehydrate(r.id, r.userID, fromMicros(r.created), fromMicros(r.lastUsed), fromMicros(r.expires), fromNullMicros(r.revoked), r.userAgent, r.ip)
	s.RehydrateAuthentication(storable.ParseMethods(r.amr), fromMicros(r.authTime))
	return s
}

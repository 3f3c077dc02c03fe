package postgres

import (
	"context"
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
	_, err := r.db.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.ID(), s.UserID(), s.CreatedAt(), s.LastUsedAt(), s.ExpiresAt(), s.RevokedAt(), storable.Text(s.UserAgent(), storable.MaxText), storable.Text(s.IP(), storable.MaxText),
		storable.Methods(s.AMR()), s.AuthTime())
	return translate(err, nil)
}

// ByID finds a session by primary key, or session.ErrNotFound.
func (r *SessionRepository) ByID(ctx context.Context, id uuid.UUID) (*session.Session, error) {
	return scanSession(r.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
}

// bearerSQL reads session $1 with its user and whether the user has a
// confirmed second factor: three primary-key lookups (sessions_pkey,
// users_pkey, mfa_totp_pkey) in one statement, one round trip.
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
	if err := r.db.QueryRow(ctx, bearerSQL, id).Scan(append(append(s.dest(), u.dest()...), &mfa)...); err != nil {
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

// ByIDForChange is ByID with a row lock (FOR UPDATE) held until the
// transaction ends.
func (r *SessionRepository) ByIDForChange(ctx context.Context, id uuid.UUID) (*session.Session, error) {
	return scanSession(r.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 FOR UPDATE`, id))
}

// Update saves the last-used and revoked times of s and how it
// authenticated (amr, auth_time), or gives
// session.ErrNotFound.
func (r *SessionRepository) Update(ctx context.Context, s *session.Session) error {
	tag, err := r.db.Exec(ctx, `UPDATE sessions SET last_used_at = $2, revoked_at = $3, amr = $4, auth_time = $5 WHERE id = $1`,
		s.ID(), s.LastUsedAt(), s.RevokedAt(), storable.Methods(s.AMR()), s.AuthTime())
	return affectedOne(tag, err, session.ErrNotFound)
}

// ListActive returns the user's sessions neither revoked nor past their
// absolute expiry at now, newest first (index sessions_user_live).
func (r *SessionRepository) ListActive(ctx context.Context, userID uuid.UUID, now time.Time) ([]*session.Session, error) {
	rows, err := r.db.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND `+activeSessions("$2")+`
		ORDER BY created_at DESC, id`, userID, now)
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

// countActiveSQL counts the active sessions of users $1 at $2.
var countActiveSQL = `SELECT user_id, count(*) FROM sessions
	WHERE user_id = ANY($1) AND ` + activeSessions("$2") + `
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

// RevokeAll revokes, at now, every session of the user that is neither
// revoked nor expired, except keep (uuid.Nil keeps none), and returns how
// many it revoked.
func (r *SessionRepository) RevokeAll(ctx context.Context, userID, keep uuid.UUID, now time.Time) (int, error) {
	tag, err := r.db.Exec(ctx, `UPDATE sessions SET revoked_at = $3
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 AND id <> $2`, userID, keep, now)
	if err != nil {
		return 0, translate(err, nil)
	}
	return int(tag.RowsAffected()), nil
}

// AddRefreshToken stores a refresh token of a session.
func (r *SessionRepository) AddRefreshToken(ctx context.Context, rt app.RefreshToken) error {
	_, err := r.db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES ($1, $2, $3, $4, $5)`,
		rt.Hash[:], rt.SessionID, rt.CreatedAt, rt.UsedAt, rt.SealedSuccessor)
	return translate(err, nil)
}

// RefreshTokenForChange finds a refresh token by hash and locks it until the
// transaction ends, or gives session.ErrNotFound. Of concurrent
// transactions presenting one token, the later ones wait for the first and
// then see its used time.
func (r *SessionRepository) RefreshTokenForChange(ctx context.Context, hash token.Hash) (app.RefreshToken, error) {
	var (
		raw     []byte
		rt      app.RefreshToken
		created time.Time
		used    *time.Time
	)
	err := r.db.QueryRow(ctx, `SELECT token_hash, session_id, created_at, used_at, successor_sealed FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash[:]).
		Scan(&raw, &rt.SessionID, &created, &used, &rt.SealedSuccessor)
	if err != nil {
		return app.RefreshToken{}, translate(err, session.ErrNotFound)
	}
	copy(rt.Hash[:], raw)
	rt.CreatedAt = created.UTC()
	rt.UsedAt = utcPtr(used)
	return rt, nil
}

// MarkRefreshTokenUsed sets the used time and the sealed successor (nil:
// none) of a refresh token, or gives session.ErrNotFound.
func (r *SessionRepository) MarkRefreshTokenUsed(ctx context.Context, hash token.Hash, at time.Time, sealedSuccessor []byte) error {
	tag, err := r.db.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2, successor_sealed = $3 WHERE token_hash = $1`, hash[:], at, sealedSuccessor)
	return affectedOne(tag, err, session.ErrNotFound)
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
	created, lastUsed, expires time.Time
	revoked                    *time.Time
	userAgent, ip              string
	amr                        string
	authTime                   time.Time
}

// dest are the scan destinations of sessionColumns, in order.
func (r *sessionRow) dest() []any {
	return []any{&r.id, &r.userID, &r.created, &r.lastUsed, &r.expires, &r.revoked, &r.userAgent, &r.ip, &r.amr, &r.authTime}
}

func (r *sessionRow) session() *session.Session {
	s := session.Rehydrate(r.id, r.userID, r.created.UTC(), r.lastUsed.UTC(), r.expires.UTC(), utcPtr(r.revoked), r.userAgent, r.ip)
	s.RehydrateAuthentication(storable.ParseMethods(r.amr), r.authTime.UTC())
	return s
}

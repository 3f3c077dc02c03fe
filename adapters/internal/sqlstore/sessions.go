package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// SessionColumns are the columns of a session, in SessionRow's order.
const SessionColumns = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, amr, auth_time, client_id, scopes, parent_id`

// bearerFrom reads a session with its user and whether the user has a
// confirmed second factor: three primary-key lookups (sessions, users,
// mfa_totp) in one statement, one round trip, once WHERE names the session.
var bearerFrom = `SELECT ` + Qualify("s.", SessionColumns) + `, ` + Qualify("u.", UserColumns) + `,
		t.confirmed_at IS NOT NULL
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	LEFT JOIN mfa_totp t ON t.user_id = s.user_id
	`

// BearerSQL reads session $1 (bearerFrom by primary key).
var BearerSQL = bearerFrom + `WHERE s.id = $1`

// BrowserSQL reads the session whose browser secret hashes to $1 (bearerFrom
// through the unique index sessions_browser_secret).
var BrowserSQL = bearerFrom + `WHERE s.browser_secret_hash = $1`

// ActiveSessions is the predicate of ListActive and CountActive: neither
// revoked nor past the absolute expiry at now (the placeholder nowArg).
// With user_id = ... it is answered by index sessions_user_live.
func ActiveSessions(nowArg string) string {
	return `revoked_at IS NULL AND expires_at > ` + nowArg
}

// Sessions stores sessions and their refresh tokens. CountActive, which
// takes a list of ids, is each store's own.
type Sessions struct {
	DB      DB
	Dialect Dialect
	Own
}

// Create inserts s. User agent and IP are stored as valid UTF-8 without NUL,
// at most 1024 bytes each. A grant keeps its client, scopes and parent;
// any other session NULL in their stead.
func (r Sessions) Create(ctx context.Context, s *session.Session) error {
	st := insertSession(s)
	_, err := r.DB.Exec(ctx, st.SQL, st.Args...)
	return err
}

// insertSession is Create's statement for s.
func insertSession(s *session.Session) Stmt {
	var scopes *string
	if s.ClientID() != "" {
		l := jsonList(s.Scopes())
		scopes = &l
	}
	return Stmt{`INSERT INTO sessions (` + SessionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		[]any{s.ID(), s.UserID(), s.CreatedAt(), s.LastUsedAt(), s.ExpiresAt(), s.RevokedAt(), storable.Text(s.UserAgent(), storable.MaxText), storable.Text(s.IP(), storable.MaxText),
			storable.Methods(s.AMR()), s.AuthTime(), nullText(s.ClientID()), scopes, NullUUID(s.ParentID())}}
}

// Start stores st in one transaction (the bound one, or one of its
// own): the user as Users.Update saves it, the session as Create stores
// it, its refresh token or browser secret, its webhook events as
// EventLog.Publish records them, and then the audit event, appended as
// Audit.Append appends it. The writes go to the store at once with the
// audit chain's lock and the read of its last record (Audit.appendAfter).
func (r Sessions) Start(ctx context.Context, st app.SessionStart) error {
	writes := []write{{updateUser(st.User), user.ErrNotFound}, {insertSession(st.Session), nil}}
	if st.RefreshToken != nil {
		writes = append(writes, write{addRefreshToken(*st.RefreshToken), nil})
	} else {
		writes = append(writes, write{setBrowserSecret(st.Session.ID(), st.BrowserSecret), session.ErrNotFound})
	}
	publish, err := publishStmts(r.Dialect, st.Events)
	if err != nil {
		return err
	}
	for _, p := range publish {
		writes = append(writes, write{p, nil})
	}
	return Audit(r).appendAfter(ctx, writes, st.Event)
}

// ByID finds a session by primary key, or session.ErrNotFound.
func (r Sessions) ByID(ctx context.Context, id uuid.UUID) (*session.Session, error) {
	return scanSession(r.DB.QueryRow(ctx, `SELECT `+SessionColumns+` FROM sessions WHERE id = $1`, id))
}

// ByIDForChange is ByID for a change: bound to a transaction, no other
// transaction changes the session until it ends.
func (r Sessions) ByIDForChange(ctx context.Context, id uuid.UUID) (*session.Session, error) {
	return scanSession(r.DB.QueryRow(ctx, `SELECT `+SessionColumns+` FROM sessions WHERE id = $1`+r.Dialect.ForUpdate, id))
}

// sessionWithUserSQL reads session $1 and its user.
var sessionWithUserSQL = `SELECT ` + Qualify("s.", SessionColumns) + `, ` + Qualify("u.", UserColumns) + `
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.id = $1`

// ByIDWithUserHeld finds a session with its user, the session held until
// the transaction ends (Dialect.ShareSession): in one statement (two
// primary-key lookups) where Dialect.JoinReads, else in two.
func (r Sessions) ByIDWithUserHeld(ctx context.Context, id uuid.UUID) (*session.Session, *user.User, error) {
	var (
		s sessionRow
		u UserRow
	)
	if r.Dialect.JoinReads {
		err := r.DB.QueryRow(ctx, sessionWithUserSQL+r.Dialect.ShareSession, id).Scan(append(s.dest(), u.Dest()...)...)
		if err != nil {
			return nil, nil, notFound(err, session.ErrNotFound)
		}
	} else {
		if err := r.DB.QueryRow(ctx, `SELECT `+SessionColumns+` FROM sessions s WHERE s.id = $1`+r.Dialect.ShareSession, id).Scan(s.dest()...); err != nil {
			return nil, nil, notFound(err, session.ErrNotFound)
		}
		// The user outlives its sessions (they are deleted with it).
		if err := r.DB.QueryRow(ctx, `SELECT `+UserColumns+` FROM users WHERE id = $1`, s.userID).Scan(u.Dest()...); err != nil {
			return nil, nil, notFound(err, session.ErrNotFound)
		}
	}
	sess, err := s.session()
	if err != nil {
		return nil, nil, err
	}
	return sess, u.User(), nil
}

// ForBearer finds session id with its user and the user's second-factor
// state in one statement, or gives session.ErrNotFound.
func (r Sessions) ForBearer(ctx context.Context, id uuid.UUID) (app.BearerSession, error) {
	return r.bearer(ctx, BearerSQL, id)
}

// ForBrowser is ForBearer for the session whose browser secret hashes to
// hash: the check of every hosted page a signed-in browser opens.
func (r Sessions) ForBrowser(ctx context.Context, hash token.Hash) (app.BearerSession, error) {
	return r.bearer(ctx, BrowserSQL, hash[:])
}

func (r Sessions) bearer(ctx context.Context, query string, arg any) (app.BearerSession, error) {
	var (
		s   sessionRow
		u   UserRow
		mfa bool
	)
	if err := r.DB.QueryRow(ctx, query, arg).Scan(append(append(s.dest(), u.Dest()...), &mfa)...); err != nil {
		return app.BearerSession{}, notFound(err, session.ErrNotFound)
	}
	sess, err := s.session()
	if err != nil {
		return app.BearerSession{}, err
	}
	return app.BearerSession{Session: sess, User: u.User(), MFAEnabled: mfa}, nil
}

// SetBrowserSecret makes hash the hash of the secret of the browser that
// holds session id, or gives session.ErrNotFound.
func (r Sessions) SetBrowserSecret(ctx context.Context, id uuid.UUID, hash token.Hash) error {
	s := setBrowserSecret(id, hash)
	return execOne(ctx, r.DB, session.ErrNotFound, s.SQL, s.Args...)
}

// setBrowserSecret is SetBrowserSecret's statement.
func setBrowserSecret(id uuid.UUID, hash token.Hash) Stmt {
	return Stmt{`UPDATE sessions SET browser_secret_hash = $2 WHERE id = $1`, []any{id, hash[:]}}
}

// Update saves the last-used and revoked times of s and how it
// authenticated (amr, auth_time), or gives session.ErrNotFound.
func (r Sessions) Update(ctx context.Context, s *session.Session) error {
	return execOne(ctx, r.DB, session.ErrNotFound, `UPDATE sessions SET last_used_at = $2, revoked_at = $3, amr = $4, auth_time = $5 WHERE id = $1`,
		s.ID(), s.LastUsedAt(), s.RevokedAt(), storable.Methods(s.AMR()), s.AuthTime())
}

// ListActive returns the user's sessions neither revoked nor past their
// absolute expiry at now, newest first (index sessions_user_live).
func (r Sessions) ListActive(ctx context.Context, userID uuid.UUID, now time.Time) ([]*session.Session, error) {
	return All(ctx, r.DB, scanSession, `SELECT `+SessionColumns+` FROM sessions
		WHERE user_id = $1 AND `+ActiveSessions("$2")+`
		ORDER BY created_at DESC, id`, userID, now)
}

// RevokeAll revokes, at now, every session of the user that is neither
// revoked nor expired, except keep (uuid.Nil keeps none), and returns how
// many it revoked.
func (r Sessions) RevokeAll(ctx context.Context, userID, keep uuid.UUID, now time.Time) (int, error) {
	return count(r.DB.Exec(ctx, `UPDATE sessions SET revoked_at = $3
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 AND id <> $2`, userID, keep, now))
}

// RevokeGrantsSQL revokes at $2 the live grants whose parent is session
// $1 (index sessions_parent_live).
const RevokeGrantsSQL = `UPDATE sessions SET revoked_at = $2 WHERE parent_id = $1 AND revoked_at IS NULL`

// RevokeClientGrantsSQL revokes at $2 the live grants of client $1 (index
// sessions_client_live).
const RevokeClientGrantsSQL = `UPDATE sessions SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL`

// RevokeUserClientGrantsSQL revokes at $3 the live grants of user $1 for
// client $2 (index sessions_user_live or sessions_client_live, whichever
// the planner finds narrower).
const RevokeUserClientGrantsSQL = `UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL`

// RevokeGrants revokes, at now, every grant of the browser session parent
// not yet revoked, and returns how many it revoked.
func (r Sessions) RevokeGrants(ctx context.Context, parent uuid.UUID, now time.Time) (int, error) {
	return count(r.DB.Exec(ctx, RevokeGrantsSQL, parent, now))
}

// RevokeClientGrants revokes, at now, every grant of client clientID not
// yet revoked, and returns how many it revoked.
func (r Sessions) RevokeClientGrants(ctx context.Context, clientID string, now time.Time) (int, error) {
	return count(r.DB.Exec(ctx, RevokeClientGrantsSQL, clientID, now))
}

// RevokeUserClientGrants revokes, at now, every grant of client clientID
// held by user userID not yet revoked, and returns how many it revoked.
func (r Sessions) RevokeUserClientGrants(ctx context.Context, userID uuid.UUID, clientID string, now time.Time) (int, error) {
	return count(r.DB.Exec(ctx, RevokeUserClientGrantsSQL, userID, clientID, now))
}

// AddRefreshToken stores a refresh token of a session.
func (r Sessions) AddRefreshToken(ctx context.Context, rt app.RefreshToken) error {
	s := addRefreshToken(rt)
	_, err := r.DB.Exec(ctx, s.SQL, s.Args...)
	return err
}

// refreshTokenSQL reads a refresh token by primary key.
const refreshTokenSQL = `SELECT token_hash, session_id, created_at, used_at, successor_sealed FROM refresh_tokens WHERE token_hash = $1`

// addRefreshToken is AddRefreshToken's statement.
func addRefreshToken(rt app.RefreshToken) Stmt {
	return Stmt{`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES ($1, $2, $3, $4, $5)`,
		[]any{rt.Hash[:], rt.SessionID, rt.CreatedAt, rt.UsedAt, nullBlob(rt.SealedSuccessor)}}
}

// RefreshTokenForChange finds a refresh token by hash for a change, or
// gives session.ErrNotFound. Bound to a transaction, of transactions
// presenting one token the later ones wait for the first (a row lock, or
// the single writer) and then see its used time.
func (r Sessions) RefreshTokenForChange(ctx context.Context, hash token.Hash) (app.RefreshToken, error) {
	return scanRefreshToken(r.DB.QueryRow(ctx, refreshTokenSQL+r.Dialect.ForUpdate, hash[:]))
}

// RefreshToken finds a refresh token by hash without locking it, or gives
// session.ErrNotFound.
func (r Sessions) RefreshToken(ctx context.Context, hash token.Hash) (app.RefreshToken, error) {
	return scanRefreshToken(r.DB.QueryRow(ctx, refreshTokenSQL, hash[:]))
}

func scanRefreshToken(row Row) (app.RefreshToken, error) {
	var (
		raw []byte
		rt  app.RefreshToken
	)
	if err := row.Scan(&raw, &rt.SessionID, &rt.CreatedAt, &rt.UsedAt, &rt.SealedSuccessor); err != nil {
		return app.RefreshToken{}, notFound(err, session.ErrNotFound)
	}
	copy(rt.Hash[:], raw)
	return rt, nil
}

// MarkRefreshTokenUsed sets the used time and the sealed successor (nil:
// none) of a refresh token, or gives session.ErrNotFound.
func (r Sessions) MarkRefreshTokenUsed(ctx context.Context, hash token.Hash, at time.Time, sealedSuccessor []byte) error {
	return execOne(ctx, r.DB, session.ErrNotFound, `UPDATE refresh_tokens SET used_at = $2, successor_sealed = $3 WHERE token_hash = $1`, hash[:], at, nullBlob(sealedSuccessor))
}

func scanSession(row Row) (*session.Session, error) {
	var s sessionRow
	if err := row.Scan(s.dest()...); err != nil {
		return nil, notFound(err, session.ErrNotFound)
	}
	return s.session()
}

// sessionRow is one row of SessionColumns.
type sessionRow struct {
	id, userID                 uuid.UUID
	created, lastUsed, expires time.Time
	revoked                    *time.Time
	userAgent, ip              string
	amr                        string
	authTime                   time.Time
	clientID, scopes           *string
	parentID                   uuid.NullUUID
}

// dest are the scan destinations of SessionColumns, in order.
func (r *sessionRow) dest() []any {
	return []any{&r.id, &r.userID, &r.created, &r.lastUsed, &r.expires, &r.revoked, &r.userAgent, &r.ip, &r.amr, &r.authTime, &r.clientID, &r.scopes, &r.parentID}
}

// session is the session the row holds; a grant's scopes that do not
// decode are an error.
func (r *sessionRow) session() (*session.Session, error) {
	s := session.Rehydrate(r.id, r.userID, r.created, r.lastUsed, r.expires, r.revoked, r.userAgent, r.ip)
	s.RehydrateAuthentication(storable.ParseMethods(r.amr), r.authTime)
	if r.clientID != nil { // a grant: the table's check keeps scopes beside it
		scopes, err := parseList(textOrEmpty(r.scopes))
		if err != nil {
			return nil, err
		}
		s.RehydrateGrant(*r.clientID, scopes, r.parentID.UUID)
	}
	return s, nil
}

// Qualify qualifies each column of a comma-separated list with
// prefix ("s." + "id, user_id" = "s.id, s.user_id").
func Qualify(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The operators' queries and the deletes of a user's rows use their
// indexes on tables of realistic size (after ANALYZE), never a sequential
// scan (the operators' type filter is for rare types: a common one is
// served as well by the primary key backwards). The database has the server's default collation, which is not
// "C": the prefix searches must not depend on it.
func TestQueryPlansUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPrivate(t)
	for _, sql := range []string{
		// One account in a hundred is a pending registration.
		`INSERT INTO users (id, email, hashed_password, created_at, updated_at, registration_pending)
			SELECT gen_random_uuid(), 'u' || g || '@example.com', 'h', now() - g * interval '1 second', now(), g % 100 = 0
			FROM generate_series(1, 20000) g`,
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, auth_time)
			SELECT gen_random_uuid(), id, now(), now(), now() + interval '1 day', CASE WHEN random() < 0.5 THEN now() END, now()
			FROM users, generate_series(1, 2)`,
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at)
			SELECT sha256(id::text::bytea), id, 'reset_password', now(), now() + interval '1 hour' FROM users`,
		`INSERT INTO mail_outbox (id, kind, to_address, user_id, status, next_attempt_at, created_at)
			SELECT gen_random_uuid(), 'verify_email', email, id, 'sent', now(), now() FROM users`,
		`INSERT INTO mail_outbox (id, kind, to_address, status, next_attempt_at, created_at)
			SELECT gen_random_uuid(), 'reset_request', 'r' || g || '@example.com', 'pending', now() + g * interval '1 second', now()
			FROM generate_series(1, 500) g`,
		`INSERT INTO audit_events (seq, event_type, user_id, occurred_at, prev_hash, hash)
			SELECT g, CASE WHEN g % 200 = 0 THEN 'admin_user_unlocked'
				ELSE (ARRAY['login_succeeded','login_failed','logout','registered','email_verified'])[1 + g % 5] END,
				(SELECT id FROM users ORDER BY id OFFSET (g % 1000) LIMIT 1), now(), '\x00', '\x00'
			FROM generate_series(1, 20000) g`,
		`INSERT INTO rate_limits (key, count, reset_at)
			SELECT 'login:pair:u' || g || '@example.com:ip:192.0.2.' || (g % 250), 1, now() + interval '1 minute'
			FROM generate_series(1, 20000) g`,
		// A second factor for every user, and many more users (enrolled
		// too) than the other tables hold rows for: a table of factors as
		// large as a deployment's, so that the planner weighs a page of
		// ids against it as it would there.
		`INSERT INTO users (id, email, hashed_password, created_at, updated_at)
			SELECT gen_random_uuid(), 'm' || g || '@example.com', 'h', now() - interval '1 year' - g * interval '1 second', now()
			FROM generate_series(1, 60000) g`,
		`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step)
			SELECT id, sha256(id::text::bytea) || sha256(email::bytea), now(), now(), 1 FROM users`,
		`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
			SELECT id, sha256((id::text || k)::bytea), now() FROM users, generate_series(1, 10) k WHERE email LIKE 'u%'`,
		`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at)
			SELECT sha256(('t' || id::text)::bytea), id, sha256(id::text::bytea), now(), now() + interval '5 minutes' FROM users WHERE email LIKE 'u%'`,
		// A grant of one of 50 clients for every other live session, and
		// as many pending requests, codes and consents.
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, auth_time, client_id, scopes, parent_id)
			SELECT gen_random_uuid(), user_id, now(), now(), now() + interval '1 day', now(), 'client-' || (random() * 50)::int, '["openid"]', id
			FROM sessions WHERE revoked_at IS NULL`,
		`INSERT INTO authorization_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge, force_login, force_consent, has_max_age, max_age, created_at, expires_at)
			SELECT gen_random_uuid(), 'client-' || (g % 50), 'https://app.example.com/cb', '["openid"]', 's', 'n', 'c', false, false, false, 0, now(), now() + g * interval '1 second'
			FROM generate_series(1, 20000) g`,
		`INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, scopes, nonce, code_challenge, session_id, user_id, auth_time, amr, created_at, expires_at)
			SELECT sha256(('c' || id::text)::bytea), 'client-1', 'https://app.example.com/cb', '["openid"]', 'n', 'c', id, user_id, now(), 'pwd', now(), now() + interval '1 minute'
			FROM sessions WHERE client_id IS NULL`,
		`INSERT INTO consents (user_id, client_id, scopes, given_at)
			SELECT id, 'client-1', '["openid"]', now() FROM users WHERE email LIKE 'u%'`,
		// The whole column sampled: with the default sample, ANALYZE's
		// random pick of 30,000 rows now and then estimated a prefix's 111
		// accounts at 800, and the planner rightly preferred walking
		// users_created; the choice is then a coin toss, not the index's.
		`ALTER TABLE users ALTER COLUMN email SET STATISTICS 10000`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var someUser uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT user_id FROM audit_events WHERE seq = 1`).Scan(&someUser); err != nil {
		t.Fatal(err)
	}
	users := make([]uuid.UUID, 200)
	rows, err := pool.Query(ctx, `SELECT id FROM users LIMIT 200`)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; rows.Next(); i++ {
		if err := rows.Scan(&users[i]); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()

	built := func(sql string, args []any, ok bool) (string, []any) {
		t.Helper()
		if !ok {
			t.Fatal("no statement built")
		}
		return sql, args
	}
	cursor := &app.UserCursor{CreatedAt: time.Now().Add(-time.Hour), ID: uuid.New()}
	for _, c := range []struct {
		name, index string
		sql         string
		args        []any
	}{
		{name: "users by prefix", index: "users_email_prefix"},
		{name: "users by prefix after a cursor", index: "users_email_prefix"},
		{name: "users newest first", index: "users_created"},
		{name: "users after a cursor", index: "users_created"},
		{name: "audit by user", index: "audit_events_user_seq"},
		{name: "audit by type", index: "audit_events_type_seq"},
		{name: "audit page", index: "audit_events_pkey"},
		{name: "rate limits by prefix", index: "rate_limits_pkey"},
		{name: "active sessions of a page of users", index: "sessions_user_live", sql: postgres.CountActiveSQL, args: []any{users, time.Now()}},
		{name: "mail of a deleted user", index: "mail_outbox_user", sql: sqlstore.DeleteUserMailSQL, args: []any{someUser}},
		{name: "outbox stats", index: "mail_outbox_due", sql: postgres.OutboxStatsSQL},
		// every bearer request: the session, its user and their second
		// factor, each by primary key
		{name: "bearer session with user and factor", index: "sessions_pkey", sql: sqlstore.BearerSQL, args: []any{uuid.New()}},
		{name: "browser session with user and factor", index: "sessions_browser_secret", sql: sqlstore.BrowserSQL, args: []any{make([]byte, 32)}},
		{name: "audit walk, a page", index: "audit_events_pkey", sql: postgres.WalkSQL, args: []any{int64(5000), postgres.WalkPage}},
		{name: "sessions of a deleted user (cascade)", index: "sessions_user", sql: `DELETE FROM sessions WHERE user_id = $1`, args: []any{someUser}},
		{name: "tokens of a deleted user (cascade)", index: "one_time_tokens_user", sql: `DELETE FROM one_time_tokens WHERE user_id = $1`, args: []any{someUser}},
		{name: "a TOTP step used", index: "mfa_totp_pkey", sql: sqlstore.UseTOTPStepSQL, args: []any{someUser, int64(2)}},
		{name: "MFA of a page of users", index: "mfa_totp_pkey", sql: postgres.EnabledAmongSQL, args: []any{users}},
		{name: "a recovery code used", index: "mfa_recovery_codes_pkey", sql: sqlstore.UseRecoveryCodeSQL, args: []any{someUser, make([]byte, 32), time.Now()}},
		{name: "unused recovery codes", index: "mfa_recovery_codes_pkey", sql: sqlstore.UnusedRecoveryCodesSQL, args: []any{someUser}},
		{name: "recovery codes of a user (replace, cascade)", index: "mfa_recovery_codes_pkey", sql: `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, args: []any{someUser}},
		{name: "MFA login tokens of a user (cascade)", index: "mfa_login_tokens_user", sql: `DELETE FROM mfa_login_tokens WHERE user_id = $1`, args: []any{someUser}},
		{name: "expired MFA login tokens (retention)", index: "mfa_login_tokens_expires", sql: `DELETE FROM mfa_login_tokens WHERE token_hash IN (SELECT token_hash FROM mfa_login_tokens WHERE expires_at < $1 LIMIT $2)`, args: []any{time.Now().Add(-time.Hour), 5000}},
		// the janitor: pending registrations, and each one's live links
		{name: "pending registrations without a live link (janitor)", index: "users_registration_pending", sql: postgres.SweepRegistrationsSQL, args: []any{time.Now(), 5000}},
		// grants: revoked with their browser session, or their client
		{name: "live grants of a browser session", index: "sessions_parent_live", sql: sqlstore.RevokeGrantsSQL, args: []any{uuid.New(), time.Now()}},
		{name: "live grants of a client", index: "sessions_client_live", sql: sqlstore.RevokeClientGrantsSQL, args: []any{"client-7", time.Now()}},
		{name: "live grants of a user for a client", index: "sessions_user_live", sql: sqlstore.RevokeUserClientGrantsSQL, args: []any{someUser, "client-7", time.Now()}},
		{name: "consents of a user", index: "consents_pkey", sql: sqlstore.ConsentsSQL, args: []any{someUser}},
		{name: "expired authorization requests (janitor)", index: "authorization_requests_expires", sql: sqlstore.SweepRequestsSQL, args: []any{time.Now().Add(-time.Hour), 5000}},
		{name: "expired authorization codes (janitor)", index: "authorization_codes_expires", sql: sqlstore.SweepCodesSQL, args: []any{time.Now().Add(-time.Hour), 5000}},
		{name: "authorization codes of a deleted user (cascade)", index: "authorization_codes_user", sql: `DELETE FROM authorization_codes WHERE user_id = $1`, args: []any{someUser}},
		{name: "consents of a deleted user (cascade)", index: "consents_pkey", sql: `DELETE FROM consents WHERE user_id = $1`, args: []any{someUser}},
	} {
		switch c.name {
		case "users by prefix":
			c.sql, c.args = built(postgres.ListUsersSQL(app.UserQuery{EmailPrefix: "u123", Limit: 51}))
		case "users by prefix after a cursor":
			c.sql, c.args = built(postgres.ListUsersSQL(app.UserQuery{EmailPrefix: "u1_%", Before: cursor, Limit: 51}))
		case "users newest first":
			c.sql, c.args = built(postgres.ListUsersSQL(app.UserQuery{Limit: 51}))
		case "users after a cursor":
			c.sql, c.args = built(postgres.ListUsersSQL(app.UserQuery{Before: cursor, Limit: 51}))
		case "audit by user":
			c.sql, c.args = built(sqlstore.AuditQuerySQL(admin.AuditQuery{UserID: someUser, BeforeSeq: 15000, Limit: 51}))
		case "audit by type":
			c.sql, c.args = built(sqlstore.AuditQuerySQL(admin.AuditQuery{Type: audit.AdminUserUnlocked, Limit: 51}))
		case "audit page":
			c.sql, c.args = built(sqlstore.AuditQuerySQL(admin.AuditQuery{BeforeSeq: 15000, Limit: 51}))
		case "rate limits by prefix":
			c.sql, c.args = built(postgres.ResetPrefixSQL("login:pair:u123@example.com:"))
		}
		plan := explain(t, pool, c.sql, c.args...)
		if !strings.Contains(plan, c.index) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: plan does not use %s:\n%s\n%s", c.name, c.index, c.sql, plan)
		} else {
			line := strings.Join(strings.Fields(plan), " ")
			if len(line) > 400 {
				line = line[:400] + "..."
			}
			t.Logf("%s: %s", c.name, line)
		}
	}
}

func explain(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `EXPLAIN `+sql, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", sql, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Walk reads the trail in pages (one short statement each, so that ten
// million records do not outlive the statement timeout) and still hands
// over every record once, in seq order, across page boundaries.
func TestAuditWalkCrossesPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPrivate(t)
	const n = 2*postgres.WalkPage + 7
	if _, err := pool.Exec(ctx, `INSERT INTO audit_events (seq, event_type, occurred_at, prev_hash, hash)
		SELECT g, 'login_succeeded', now(), '\x00', '\x00' FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	var count, last int64
	err := postgres.OpenStore(pool).AuditTrail.Walk(ctx, func(r audit.Record) error {
		if r.Seq != last+1 {
			t.Fatalf("record %d after %d", r.Seq, last)
		}
		last = r.Seq
		count++
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("Walk handed over %d of %d records (%v)", count, n, err)
	}
}

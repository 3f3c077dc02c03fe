package sqlite_test

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

// fullScan is a plan step that reads a whole table without an index.
var fullScan = regexp.MustCompile(`^SCAN \w+$`)

// The operators' queries and the deletes of a user's rows use their
// indexes, never a full scan, on tables of a few thousand rows, before and
// after ANALYZE (which PRAGMA optimize may run at Close).
func TestQueryPlansUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openFresh(t)
	writer, readers := sqlite.Pools(db)
	for _, q := range []string{
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
			INSERT INTO users (id, email, hashed_password, created_at, updated_at)
			SELECT printf('%08x-0000-4000-8000-%012x', n, n), 'u' || n || '@example.com', 'h', 1700000000000000 - n * 1000000, 0 FROM g`,
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
			SELECT id || '-' || k, id, 0, 0, 1, CASE WHEN k = 1 THEN 0 END FROM users, (SELECT 1 AS k UNION ALL SELECT 2)`,
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at)
			SELECT randomblob(32), id, 'reset_password', 0, 1 FROM users`,
		`INSERT INTO mail_outbox (id, kind, to_address, user_id, status, next_attempt_at, created_at)
			SELECT id, 'verify_email', email, id, 'sent', 0, 0 FROM users`,
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100)
			INSERT INTO mail_outbox (id, kind, to_address, status, next_attempt_at, created_at)
			SELECT printf('%08x-0000-4000-9000-%012x', n, n), 'reset_request', 'r' || n || '@example.com', 'pending', n, 0 FROM g`,
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
			INSERT INTO audit_events (seq, event_type, user_id, occurred_at, prev_hash, hash)
			SELECT n, CASE WHEN n % 100 = 0 THEN 'admin_user_unlocked' ELSE 'login_succeeded' END,
				printf('%08x-0000-4000-8000-%012x', n % 300 + 1, n % 300 + 1), 0, x'00', x'00' FROM g`,
		// One account in a hundred is a pending registration.
		`UPDATE users SET registration_pending = 1 WHERE email LIKE 'u%00@example.com'`,
		`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step)
			SELECT id, randomblob(64), 0, 0, 1 FROM users`,
		`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
			SELECT id, randomblob(32), 0 FROM users, (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5)`,
		`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at)
			SELECT randomblob(32), id, randomblob(32), 0, created_at FROM users`,
		// A grant of one of 50 clients for every live session, and as many
		// pending requests, codes and consents.
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, client_id, scopes, parent_id)
			SELECT id || '-g', user_id, 0, 0, 1, 'client-' || (abs(random()) % 50), '["openid"]', id FROM sessions WHERE revoked_at IS NULL`,
		`INSERT INTO authorization_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge, force_login, force_consent, has_max_age, max_age, created_at, expires_at)
			SELECT id, 'client-1', 'https://app.example.com/cb', '["openid"]', 's', 'n', 'c', 0, 0, 0, 0, 0, created_at FROM users`,
		`INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, scopes, nonce, code_challenge, session_id, user_id, auth_time, amr, created_at, expires_at)
			SELECT randomblob(32), 'client-1', 'https://app.example.com/cb', '["openid"]', 'n', 'c', id, user_id, 0, 'pwd', 0, 1 FROM sessions WHERE client_id IS NULL`,
		`INSERT INTO consents (user_id, client_id, scopes, given_at) SELECT id, 'client-1', '["openid"]', 0 FROM users`,
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
			INSERT INTO rate_limits (key, count, reset_at)
			SELECT 'login:pair:u' || n || '@example.com:ip:192.0.2.' || (n % 250), 1, 0 FROM g`,
	} {
		if _, err := writer.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	someUser := uuid.MustParse("00000001-0000-4000-8000-000000000001")
	users := make([]uuid.UUID, 200)
	for i := range users {
		users[i] = uuid.New()
	}
	users[7] = someUser
	cursor := &app.UserCursor{CreatedAt: time.UnixMicro(1700000000000000 - 1000*1000000), ID: uuid.New()}

	type stmt struct {
		name, index string
		query       string
		args        []any
	}
	built := func(name, index string) func(query string, args []any, ok bool) stmt {
		return func(query string, args []any, ok bool) stmt {
			if !ok {
				t.Fatalf("%s: no statement built", name)
			}
			return stmt{name, index, query, args}
		}
	}
	two := func(query string, args []any) (string, []any, bool) { return query, args, true }
	stmts := []stmt{
		built("users by prefix", "users_email_key")(sqlite.ListUsersSQL(app.UserQuery{EmailPrefix: "u123", Limit: 51})),
		built("users by prefix after a cursor", "users_email_key")(sqlite.ListUsersSQL(app.UserQuery{EmailPrefix: "u1_%", Before: cursor, Limit: 51})),
		built("users newest first", "users_created")(sqlite.ListUsersSQL(app.UserQuery{Limit: 51})),
		built("users after a cursor", "users_created")(sqlite.ListUsersSQL(app.UserQuery{Before: cursor, Limit: 51})),
		built("audit by user", "audit_events_user_seq")(sqlite.AuditQuerySQL(admin.AuditQuery{UserID: someUser, BeforeSeq: 2500, Limit: 51})),
		built("audit by type", "audit_events_type_seq")(sqlite.AuditQuerySQL(admin.AuditQuery{Type: audit.AdminUserUnlocked, Limit: 51})),
		built("audit page", "INTEGER PRIMARY KEY")(sqlite.AuditQuerySQL(admin.AuditQuery{BeforeSeq: 2500, Limit: 51})),
		built("rate limits by prefix", "sqlite_autoindex_rate_limits_1")(two(sqlite.ResetPrefixSQL("login:pair:u123@example.com:"))),
		built("active sessions of a page of users", "sessions_user_live")(two(sqlite.CountActiveSQL(users, time.UnixMicro(0)))),
		{"mail of a deleted user", "mail_outbox_user", sqlstore.DeleteUserMailSQL, []any{someUser.String()}},
		{"outbox stats", "mail_outbox_due", sqlite.OutboxStatsSQL, nil},
		{"expired rate limits (janitor, a batch)", "rate_limits_reset", sqlite.DeleteExpiredSQL, []any{int64(1), 5000}},
		// every bearer request: the session, its user and their second
		// factor, each by primary key
		{"bearer session with user and factor", "sqlite_autoindex_sessions_1", sqlstore.BearerSQL, []any{someUser.String() + "-1"}},
		{"browser session with user and factor", "sessions_browser_secret", sqlstore.BrowserSQL, []any{make([]byte, 32)}},
		{"sessions of a deleted user (cascade)", "sessions_user", `DELETE FROM sessions WHERE user_id = $1`, []any{someUser.String()}},
		{"tokens of a deleted user (cascade)", "one_time_tokens_user", `DELETE FROM one_time_tokens WHERE user_id = $1`, []any{someUser.String()}},
		{"a TOTP step used", "sqlite_autoindex_mfa_totp_1", sqlstore.UseTOTPStepSQL, []any{someUser.String(), int64(2)}},
		built("MFA of a page of users", "sqlite_autoindex_mfa_totp_1")(two(sqlite.EnabledAmongSQL(users))),
		{"a recovery code used", "sqlite_autoindex_mfa_recovery_codes_1", sqlstore.UseRecoveryCodeSQL, []any{someUser.String(), make([]byte, 32), int64(0)}},
		{"unused recovery codes", "sqlite_autoindex_mfa_recovery_codes_1", sqlstore.UnusedRecoveryCodesSQL, []any{someUser.String()}},
		{"recovery codes of a user (replace, cascade)", "sqlite_autoindex_mfa_recovery_codes_1", `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, []any{someUser.String()}},
		{"MFA login tokens of a user (cascade)", "mfa_login_tokens_user", `DELETE FROM mfa_login_tokens WHERE user_id = $1`, []any{someUser.String()}},
		{"expired MFA login tokens (retention)", "mfa_login_tokens_expires", `DELETE FROM mfa_login_tokens WHERE token_hash IN (SELECT token_hash FROM mfa_login_tokens WHERE expires_at < $1 LIMIT $2)`, []any{int64(0), 5000}},
		// the janitor: pending registrations, and each one's live links
		{"pending registrations without a live link (janitor)", "users_registration_pending", sqlite.SweepRegistrationsSQL, []any{int64(0), 5000}},
		// grants: revoked with their browser session, or their client
		{"live grants of a browser session", "sessions_parent_live", sqlstore.RevokeGrantsSQL, []any{someUser.String() + "-2", int64(0)}},
		{"live grants of a client", "sessions_client_live", sqlstore.RevokeClientGrantsSQL, []any{"client-7", int64(0)}},
		{"live grants of a user for a client", "sessions_client_live", sqlstore.RevokeUserClientGrantsSQL, []any{someUser.String(), "client-7", int64(0)}},
		{"consents of a user", "sqlite_autoindex_consents_1", sqlstore.ConsentsSQL, []any{someUser.String()}},
		{"expired authorization requests (janitor)", "authorization_requests_expires", sqlstore.SweepRequestsSQL, []any{int64(0), 5000}},
		{"expired authorization codes (janitor)", "authorization_codes_expires", sqlstore.SweepCodesSQL, []any{int64(0), 5000}},
		{"authorization codes of a deleted user (cascade)", "authorization_codes_user", `DELETE FROM authorization_codes WHERE user_id = $1`, []any{someUser.String()}},
		{"consents of a deleted user (cascade)", "sqlite_autoindex_consents_1", `DELETE FROM consents WHERE user_id = $1`, []any{someUser.String()}},
	}
	check := func(when string) {
		t.Helper()
		for _, c := range stmts {
			plan := explainPlan(t, readers, c.query, c.args...)
			var full bool
			for _, step := range plan {
				full = full || fullScan.MatchString(step)
			}
			if joined := strings.Join(plan, "; "); !strings.Contains(joined, c.index) || full {
				t.Errorf("%s, %s: plan does not use %s:\n%s\n%s", when, c.name, c.index, c.query, joined)
			} else {
				t.Logf("%s, %s: %s", when, c.name, joined)
			}
		}
	}
	check("before ANALYZE")
	if _, err := writer.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	check("after ANALYZE")
}

func explainPlan(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

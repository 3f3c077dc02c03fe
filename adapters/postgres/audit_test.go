package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func event(userID uuid.UUID) audit.Event {
	return audit.Event{
		Type:      audit.LoginSucceeded,
		UserID:    userID,
		IP:        "203.0.113.7",
		UserAgent: "Mozilla/5.0 (\xff invalid UTF-8)",
		At:        time.Now(), // nanoseconds: stored at microsecond precision
		Detail:    map[string]string{"session_id": uuid.NewString(), "reason": "ok"},
	}
}

func TestAuditAppendAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	log := postgres.NewAuditLog(pool)
	tm := postgres.NewTxManager(pool)

	for range 5 {
		if err := log.Append(ctx, event(uuid.New())); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Append(ctx, audit.Event{Type: audit.LoginFailed, At: time.Now()}); err != nil { // no user, no detail
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				err = log.Append(ctx, event(uuid.New()))
			} else {
				err = tm.Within(ctx, func(ctx context.Context, r app.Repos) error {
					return r.Audit.Append(ctx, event(uuid.New()))
				})
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	rows, err := postgres.VerifyAuditChain(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if rows < 26 {
		t.Fatalf("verified %d rows, want at least 26", rows)
	}
}

func TestAuditRolledBackAppendLeavesNoGap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	boom := errors.New("boom")
	err := postgres.NewTxManager(pool).Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Audit.Append(ctx, event(uuid.New())); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := postgres.NewAuditLog(pool).Append(ctx, event(uuid.New())); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.VerifyAuditChain(ctx, pool); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTamperDetected tampers inside a transaction that is rolled back,
// so that the shared chain stays intact for the other tests.
func TestAuditTamperDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	log := postgres.NewAuditLog(pool)
	marker := uuid.New()
	if err := log.Append(ctx, event(marker)); err != nil {
		t.Fatal(err)
	}
	if err := log.Append(ctx, event(uuid.New())); err != nil { // a successor, so the marker is not last
		t.Fatal(err)
	}
	var seq int64
	if err := pool.QueryRow(ctx, `SELECT seq FROM audit_events WHERE user_id = $1`, marker).Scan(&seq); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		sql     string
		badSeq  int64
		wantMsg string
		rows    int64 // rows verified before the break
	}{
		{"ip changed", `UPDATE audit_events SET ip = '198.51.100.66' WHERE seq = $1`, seq, "altered", seq - 1},
		{"detail changed", `UPDATE audit_events SET detail = detail || '{"reason":"forged"}' WHERE seq = $1`, seq, "altered", seq - 1},
		{"time changed", `UPDATE audit_events SET occurred_at = occurred_at + interval '1 microsecond' WHERE seq = $1`, seq, "altered", seq - 1},
		{"user removed", `UPDATE audit_events SET user_id = NULL WHERE seq = $1`, seq, "altered", seq - 1},
		{"prev_hash changed", `UPDATE audit_events SET prev_hash = hash WHERE seq = $1`, seq, "prev_hash", seq - 1},
		{"row deleted", `DELETE FROM audit_events WHERE seq = $1`, seq + 1, "missing", seq - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if tag, err := tx.Exec(ctx, tc.sql, seq); err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("tamper: %v (%d rows)", err, tag.RowsAffected())
			}
			rows, err := postgres.VerifyAuditChain(ctx, tx)
			if err == nil {
				t.Fatal("tampered chain verified")
			}
			if want := fmt.Sprintf("seq %d:", tc.badSeq); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not name %q (%s)", err, want, tc.wantMsg)
			}
			if int64(rows) != tc.rows {
				t.Fatalf("rows verified before the break = %d, want %d", rows, tc.rows)
			}
		})
	}
	if _, err := postgres.VerifyAuditChain(ctx, pool); err != nil {
		t.Fatalf("chain broken after rollbacks: %v", err)
	}
}

func TestAuditStoresEventAsHashed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	e := event(uuid.New())
	if err := postgres.NewAuditLog(pool).Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	var (
		typ, ip, ua string
		at          time.Time
		detail      map[string]string
	)
	err := pool.QueryRow(ctx, `SELECT event_type, ip, user_agent, occurred_at, detail FROM audit_events WHERE user_id = $1`, e.UserID).
		Scan(&typ, &ip, &ua, &at, &detail)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	if typ != string(e.Type) || ip != e.IP || ua != strings.ToValidUTF8(e.UserAgent, "\uFFFD") ||
		!at.Equal(e.At.Truncate(time.Microsecond)) || detail["session_id"] != e.Detail["session_id"] {
		t.Fatalf("stored %q %q %q %v %v", typ, ip, ua, at, detail)
	}
}

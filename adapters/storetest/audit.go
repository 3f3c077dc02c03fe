package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

func init() {
	registerSerial("Audit/TamperDetected", testAuditTamperDetected)
	register("Audit/StoresEventAsHashed", testAuditStoresEventAsHashed)
	register("Audit/ConcurrentAppendsFormOneChain", testAuditConcurrentAppends)
	register("Audit/RolledBackAppendLeavesNoGap", testAuditRolledBackAppend)
	register("Audit/QueryNewestFirstFilteredPaged", testAuditQuery)
}

// event is a login of userID with text no store keeps as it is (invalid
// UTF-8, NUL) and a nanosecond time.
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

// verifyChain checks the whole trail and returns how many records it
// checked.
func verifyChain(t *testing.T, s Store) int {
	t.Helper()
	n, err := admin.VerifyAuditChain(testCtx(t), s.AuditTrail)
	if err != nil {
		t.Fatalf("audit chain: %v (after %d good records)", err, n)
	}
	return n
}

// recordsOf returns the stored records of userID, in seq order.
func recordsOf(t *testing.T, s Store, userID uuid.UUID) []audit.Record {
	t.Helper()
	var out []audit.Record
	err := s.AuditTrail.Walk(testCtx(t), func(r audit.Record) error {
		if r.Event.UserID == userID {
			out = append(out, r)
		}
		return nil
	})
	mustf(t, err, "Walk")
	return out
}

// diffEvent describes how got differs from want, or returns nil.
func diffEvent(got, want audit.Event) error {
	if got.Type != want.Type || got.UserID != want.UserID || got.IP != want.IP || got.UserAgent != want.UserAgent ||
		!got.At.Equal(want.At) || !maps.Equal(got.Detail, want.Detail) {
		return fmt.Errorf("event differs:\n got %+v\nwant %+v", got, want)
	}
	return nil
}

// The stored event is exactly what was hashed: text made storable, time cut
// to microseconds; Walk gives it back and its hash recomputes.
func testAuditStoresEventAsHashed(t *testing.T, s Store) {
	ctx := testCtx(t)
	e := event(uuid.New())
	e.Detail["note"] = "NUL \x00 and \xfe" + strings.Repeat("x", 2*storable.MaxText)
	e.UserAgent += strings.Repeat("é", storable.MaxText)
	must(t, s.Repos.Audit.Append(ctx, e))
	bare := audit.Event{Type: audit.LoginFailed, IP: "198.51.100.1", At: time.Now()} // no user, no detail
	bare.UserAgent = "bare-" + uuid.NewString()
	must(t, s.Repos.Audit.Append(ctx, bare))

	recs := recordsOf(t, s, e.UserID)
	if len(recs) != 1 {
		t.Fatalf("%d records of the event's user, want 1", len(recs))
	}
	r := recs[0]
	want := storable.Event(e)
	must(t, diffEvent(r.Event, want))
	if len(r.Event.UserAgent) > storable.MaxText || len(r.Event.Detail["note"]) > storable.MaxText {
		t.Fatalf("stored text longer than %d bytes", storable.MaxText)
	}
	if r.Seq < 1 || len(r.PrevHash) != 32 || !bytes.Equal(r.Hash, audit.Chain(r.PrevHash, r.Seq, want)) {
		t.Fatalf("record %d: hash is not audit.Chain of the stored event", r.Seq)
	}

	var found []audit.Record
	err := s.AuditTrail.Walk(ctx, func(r audit.Record) error {
		if r.Event.UserAgent == bare.UserAgent {
			found = append(found, r)
		}
		return nil
	})
	must(t, err)
	if len(found) != 1 {
		t.Fatalf("%d records of the bare event, want 1", len(found))
	}
	must(t, diffEvent(found[0].Event, storable.Event(bare)))
	if found[0].Event.UserID != uuid.Nil || len(found[0].Event.Detail) != 0 {
		t.Fatalf("bare event read back with user %s, detail %v", found[0].Event.UserID, found[0].Event.Detail)
	}
	if found[0].Seq <= r.Seq {
		t.Fatalf("later append got seq %d, not after %d", found[0].Seq, r.Seq)
	}
}

// Appends racing, bound to the store and inside transactions, form one
// chain: seq 1..N without gaps, every link verifies, each event once.
func testAuditConcurrentAppends(t *testing.T, s Store) {
	ctx := testCtx(t)
	var users []uuid.UUID
	for range 5 {
		u := uuid.New()
		users = append(users, u)
		must(t, s.Repos.Audit.Append(ctx, event(u)))
	}
	const n = 30
	racers := make([]uuid.UUID, n)
	for i := range racers {
		racers[i] = uuid.New()
	}
	users = append(users, racers...)
	race(n, func(i int) {
		var err error
		if i%2 == 0 {
			err = s.Repos.Audit.Append(ctx, event(racers[i]))
		} else {
			err = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
				return r.Audit.Append(ctx, event(racers[i]))
			})
		}
		if err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	seen := map[uuid.UUID]int{}
	var last int64
	var v audit.Verifier
	err := s.AuditTrail.Walk(ctx, func(r audit.Record) error {
		if r.Seq != last+1 {
			return fmt.Errorf("seq %d follows %d", r.Seq, last)
		}
		last = r.Seq
		seen[r.Event.UserID]++
		return v.Check(r)
	})
	must(t, err)
	for _, u := range users {
		if seen[u] != 1 {
			t.Fatalf("event of %s stored %d times, want once", u, seen[u])
		}
	}
	if int64(v.Checked()) != last || last < int64(len(users)) {
		t.Fatalf("verified %d records, last seq %d, want at least %d", v.Checked(), last, len(users))
	}
	if rows := verifyChain(t, s); rows < len(users) {
		t.Fatalf("VerifyAuditChain checked %d records, want at least %d", rows, len(users))
	}
}

// An append rolled back with its transaction leaves neither its record nor
// a gap in seq; one committed with its transaction is stored.
func testAuditRolledBackAppend(t *testing.T, s Store) {
	ctx := testCtx(t)
	boom := errors.New("boom")
	rolledBack := event(uuid.New())
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Audit.Append(ctx, rolledBack); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	committed := event(uuid.New())
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Audit.Append(ctx, committed) })
	must(t, s.Repos.Audit.Append(ctx, event(uuid.New())))
	verifyChain(t, s)
	if recs := recordsOf(t, s, rolledBack.UserID); len(recs) != 0 {
		t.Fatalf("rolled-back event stored as seq %d", recs[0].Seq)
	}
	if recs := recordsOf(t, s, committed.UserID); len(recs) != 1 {
		t.Fatalf("committed event stored %d times", len(recs))
	}
}

// testAuditTamperDetected edits, deletes and relinks stored records behind
// the app's back and checks that admin.VerifyAuditChain names the broken
// record. It appends three records of its own, A, B and C, where C is a
// twin of A (same event), and restores A after each edit by copying C's
// columns back, so that the shared trail verifies again afterwards. Time
// and uuid columns are only ever copied between rows or set to NULL, so
// the SQL is the same on every store.
func testAuditTamperDetected(t *testing.T, s Store) {
	ctx := testCtx(t)
	at := now()
	evA := audit.Event{
		Type: audit.LoginSucceeded, UserID: uuid.New(), IP: "203.0.113.7", UserAgent: "agent-a", At: at,
		Detail: map[string]string{"session_id": uuid.NewString(), "reason": "ok"},
	}
	evB := audit.Event{
		Type: audit.PasswordChanged, UserID: uuid.New(), IP: "203.0.113.8", UserAgent: "agent-b", At: at.Add(time.Microsecond),
		Detail: map[string]string{"reason": "forged"},
	}
	for _, e := range []audit.Event{evA, evB, evA} {
		must(t, s.Repos.Audit.Append(ctx, e))
	}
	recsA, recsB := recordsOf(t, s, evA.UserID), recordsOf(t, s, evB.UserID)
	if len(recsA) != 2 || len(recsB) != 1 {
		t.Fatalf("found %d records of A and C, %d of B; want 2 and 1", len(recsA), len(recsB))
	}
	recA, seqA, seqB, seqC := recsA[0], recsA[0].Seq, recsB[0].Seq, recsA[1].Seq
	if !(seqA < seqB && seqB < seqC) {
		t.Fatalf("seqs A=%d B=%d C=%d out of order", seqA, seqB, seqC)
	}
	total := verifyChain(t, s)

	exec := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		mustf(t, s.Exec(ctx, sql, args...), "%s", sql)
	}
	// restore puts A back as it was appended: C's event, A's links.
	restore := func(t *testing.T) {
		t.Helper()
		exec(t, `UPDATE audit_events SET
				event_type = (SELECT event_type FROM audit_events WHERE seq = $1),
				user_id = (SELECT user_id FROM audit_events WHERE seq = $1),
				ip = (SELECT ip FROM audit_events WHERE seq = $1),
				user_agent = (SELECT user_agent FROM audit_events WHERE seq = $1),
				occurred_at = (SELECT occurred_at FROM audit_events WHERE seq = $1),
				detail = (SELECT detail FROM audit_events WHERE seq = $1),
				prev_hash = $2, hash = $3
			WHERE seq = $4`, seqC, recA.PrevHash, recA.Hash, seqA)
	}
	reinsert := func(t *testing.T) {
		t.Helper()
		exec(t, `INSERT INTO audit_events (seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash)
			SELECT $1, event_type, user_id, ip, user_agent, occurred_at, detail, $2, $3 FROM audit_events WHERE seq = $4`,
			seqA, recA.PrevHash, recA.Hash, seqC)
	}

	tests := []struct {
		name    string
		sql     string
		args    []any
		badSeq  int64
		wantMsg string
		undo    func(t *testing.T)
	}{
		{"ip changed", `UPDATE audit_events SET ip = $1 WHERE seq = $2`, []any{"198.51.100.66", seqA}, seqA, "altered", restore},
		{"user agent changed", `UPDATE audit_events SET user_agent = $1 WHERE seq = $2`, []any{"agent-x", seqA}, seqA, "altered", restore},
		{"event type changed", `UPDATE audit_events SET event_type = $1 WHERE seq = $2`, []any{string(audit.LoginFailed), seqA}, seqA, "altered", restore},
		{"detail changed", `UPDATE audit_events SET detail = (SELECT detail FROM audit_events WHERE seq = $1) WHERE seq = $2`, []any{seqB, seqA}, seqA, "altered", restore},
		{"time changed by 1µs", `UPDATE audit_events SET occurred_at = (SELECT occurred_at FROM audit_events WHERE seq = $1) WHERE seq = $2`, []any{seqB, seqA}, seqA, "altered", restore},
		{"user changed", `UPDATE audit_events SET user_id = (SELECT user_id FROM audit_events WHERE seq = $1) WHERE seq = $2`, []any{seqB, seqA}, seqA, "altered", restore},
		{"user removed", `UPDATE audit_events SET user_id = NULL WHERE seq = $1`, []any{seqA}, seqA, "altered", restore},
		{"hash changed", `UPDATE audit_events SET hash = prev_hash WHERE seq = $1`, []any{seqA}, seqA, "altered", restore},
		{"prev_hash changed", `UPDATE audit_events SET prev_hash = hash WHERE seq = $1`, []any{seqA}, seqA, "prev_hash", restore},
		{"row deleted", `DELETE FROM audit_events WHERE seq = $1`, []any{seqA}, seqA + 1, "missing", reinsert},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exec(t, tc.sql, tc.args...)
			defer func() {
				tc.undo(t)
				if n := verifyChain(t, s); n < total {
					t.Fatalf("after restoring, %d records verify, want %d", n, total)
				}
			}()
			rows, err := admin.VerifyAuditChain(ctx, s.AuditTrail)
			if err == nil {
				t.Fatal("tampered chain verified")
			}
			if want := fmt.Sprintf("seq %d:", tc.badSeq); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not name %q (%s)", err, want, tc.wantMsg)
			}
			if int64(rows) != seqA-1 {
				t.Fatalf("records verified before the break = %d, want %d", rows, seqA-1)
			}
		})
	}
	if n := verifyChain(t, s); n < total {
		t.Fatalf("chain after the restores: %d records, want %d", n, total)
	}
	if recs := recordsOf(t, s, evA.UserID); len(recs) != 2 || recs[0].Seq != seqA || diffEvent(recs[0].Event, storable.Event(evA)) != nil {
		t.Fatal("record A not restored as appended")
	}
}

func query(t *testing.T, s Store, q admin.AuditQuery) []audit.Record {
	t.Helper()
	recs, err := s.AuditTrail.Query(testCtx(t), q)
	if err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	if len(recs) > q.Limit {
		t.Fatalf("Query(limit %d) returned %d records", q.Limit, len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq >= recs[i-1].Seq {
			t.Fatalf("Query(%+v): seq %d after %d, want newest first", q, recs[i].Seq, recs[i-1].Seq)
		}
	}
	return recs
}

func seqs(recs []audit.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

// diffRecord describes how got differs from want (a record Walk gave), or
// returns nil.
func diffRecord(got, want audit.Record) error {
	if got.Seq != want.Seq || !bytes.Equal(got.PrevHash, want.PrevHash) || !bytes.Equal(got.Hash, want.Hash) {
		return fmt.Errorf("record %d (prev %x, hash %x), want %d (prev %x, hash %x)", got.Seq, got.PrevHash, got.Hash, want.Seq, want.PrevHash, want.Hash)
	}
	return diffEvent(got.Event, want.Event)
}

// Query gives records newest first (by seq), filtered by user and type,
// paged by BeforeSeq, decoded as Walk decodes them.
func testAuditQuery(t *testing.T, s Store) {
	ctx := testCtx(t)
	u1, u2 := uuid.New(), uuid.New()
	// A type no other case appends, so that a type-only query finds these
	// among few others.
	const rare = audit.AdminUserUnlocked
	appendEv := func(userID uuid.UUID, typ audit.Type) {
		t.Helper()
		e := event(userID)
		e.Type = typ
		must(t, s.Repos.Audit.Append(ctx, e))
	}
	appendEv(u1, audit.LoginSucceeded)
	appendEv(u2, audit.LoginSucceeded)
	appendEv(u1, audit.LoginFailed)
	appendEv(u1, rare)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		e := event(u1)
		e.Type = audit.LoginSucceeded
		return r.Audit.Append(ctx, e)
	})
	appendEv(u2, rare)
	appendEv(uuid.Nil, rare) // no user

	walked := recordsOf(t, s, u1) // seq order
	if len(walked) != 4 {
		t.Fatalf("%d records of u1, want 4", len(walked))
	}
	slices.Reverse(walked)

	// By user: all of them, as Walk gives them, newest first.
	got := query(t, s, admin.AuditQuery{UserID: u1, Limit: 10})
	if len(got) != len(walked) {
		t.Fatalf("Query(u1) = %v, want %v", seqs(got), seqs(walked))
	}
	for i := range got {
		must(t, diffRecord(got[i], walked[i]))
	}
	// Pages of 3 by BeforeSeq: 3, then 1, then none.
	p1 := query(t, s, admin.AuditQuery{UserID: u1, Limit: 3})
	p2 := query(t, s, admin.AuditQuery{UserID: u1, Limit: 3, BeforeSeq: p1[len(p1)-1].Seq})
	if !slices.Equal(seqs(append(p1, p2...)), seqs(walked)) || len(p1) != 3 {
		t.Fatalf("pages %v + %v, want %v", seqs(p1), seqs(p2), seqs(walked))
	}
	if p3 := query(t, s, admin.AuditQuery{UserID: u1, Limit: 3, BeforeSeq: p2[len(p2)-1].Seq}); len(p3) != 0 {
		t.Fatalf("after the oldest: %v", seqs(p3))
	}
	// BeforeSeq is exclusive.
	if got := query(t, s, admin.AuditQuery{UserID: u1, Limit: 10, BeforeSeq: walked[1].Seq}); !slices.Equal(seqs(got), seqs(walked[2:])) {
		t.Fatalf("before seq %d: %v, want %v", walked[1].Seq, seqs(got), seqs(walked[2:]))
	}

	// By user and type.
	if got := query(t, s, admin.AuditQuery{UserID: u1, Type: audit.LoginSucceeded, Limit: 10}); !slices.Equal(seqs(got), []int64{walked[0].Seq, walked[3].Seq}) {
		t.Fatalf("u1 logins: %v, want %v", seqs(got), []int64{walked[0].Seq, walked[3].Seq})
	}
	if got := query(t, s, admin.AuditQuery{UserID: u2, Type: audit.LoginFailed, Limit: 10}); len(got) != 0 {
		t.Fatalf("u2 failed logins: %v, want none", seqs(got))
	}

	// By type alone: every user's and the user-less one, newest first.
	rares := query(t, s, admin.AuditQuery{Type: rare, Limit: 100})
	var mine []audit.Record
	for _, r := range rares {
		if r.Event.Type != rare {
			t.Fatalf("type query gave a %s record", r.Event.Type)
		}
		if r.Event.UserID == u1 || r.Event.UserID == u2 || r.Event.UserID == uuid.Nil {
			mine = append(mine, r)
		}
	}
	if len(mine) < 3 || mine[0].Event.UserID != uuid.Nil || mine[1].Event.UserID != u2 || mine[2].Event.UserID != u1 {
		t.Fatalf("type query: %d of this case's records (%v), want the user-less, u2's and u1's first", len(mine), seqs(mine))
	}

	// Unfiltered: seqs have no gaps, so the record just below a seq is the
	// one before it.
	if got := query(t, s, admin.AuditQuery{BeforeSeq: walked[0].Seq + 1, Limit: 1}); len(got) != 1 || diffRecord(got[0], walked[0]) != nil {
		t.Fatalf("unfiltered below %d: %v, want %d", walked[0].Seq+1, seqs(got), walked[0].Seq)
	}
	if got := query(t, s, admin.AuditQuery{Limit: 5}); len(got) != 5 {
		t.Fatalf("unfiltered limit 5: %d records", len(got))
	}
	if got, err := s.AuditTrail.Query(ctx, admin.AuditQuery{UserID: u1}); err != nil || len(got) != 0 {
		t.Fatalf("limit 0: %d records, %v", len(got), err)
	}
}

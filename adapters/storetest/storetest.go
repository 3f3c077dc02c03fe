// Package storetest is the storage contract suite: every behaviour, and
// every race, that the app ports promise, written once against the ports
// and run by each store adapter's tests on a real database of its own:
//
//	func TestContract(t *testing.T) { storetest.Run(t, store) }
//
// Tests share the store and run in parallel; each makes its own users with
// random addresses, so nothing needs truncating. A few cases must not
// overlap anything else that reads the shared tables as a whole (the audit
// tamper checks, which break the chain for a moment and restore it, and the
// outbox claims, which take every due message): Run runs those first, one
// at a time, and only then the parallel rest. So do not call t.Parallel in
// TestContract, and do not run tests that verify the audit trail or claim
// mail at the same time as it.
//
// What the suite assumes of the store:
//
//   - it keeps times to the microsecond;
//   - repositories bound to a transaction are never mixed with the pool
//     inside Within (the suite never calls Store.Repos from inside Within,
//     so a store with one writer connection cannot deadlock on it);
//   - Exec takes plain UPDATE, DELETE and INSERT ... SELECT statements
//     with $1, $2, ... placeholders, numbered in the order they first
//     appear, and touches only text, integer and blob columns with literal
//     arguments (time and uuid columns are only copied from other rows or
//     set to NULL), so that the same SQL runs on PostgreSQL and SQLite.
package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

// Store is one store adapter's implementation of every storage port, on a
// fresh, migrated database of the test package's own.
type Store struct {
	// Name is "postgres" or "sqlite", for messages.
	Name string
	// Store is the opened store: its Tx runs use-case transactions, its
	// Repos are bound to the store itself (no transaction): each call
	// stands alone, as the use cases' pool-bound repositories do, and its
	// Ready is the readiness probe.
	*storage.Store
	// Exec runs one raw SQL statement with $1, $2, ... placeholders, for
	// tests that tamper with stored rows or set up states no port makes
	// (an audit row edited behind the app's back). Arguments are strings,
	// integers or []byte; SQL stays to what both stores accept.
	Exec func(ctx context.Context, sql string, args ...any) error
	// Count runs one SELECT count(*) ... statement with $1, $2, ...
	// placeholders and returns the count, for tests that check rows no
	// port reads (the outbox rows of a deleted user). Arguments are as for
	// Exec; compare uuid columns as CAST(col AS TEXT) = $n.
	Count func(ctx context.Context, sql string, args ...any) (int, error)
}

// Run runs the whole suite against s: first the cases that must run alone,
// one after another, then every other case in parallel.
func Run(t *testing.T, s Store) {
	t.Helper()
	s.check(t)
	for _, c := range cases {
		if c.serial {
			t.Run(c.name, func(t *testing.T) { c.run(t, s) })
		}
	}
	for _, c := range cases {
		if !c.serial {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, s)
			})
		}
	}
}

// check fails the test at once when a field of s is missing.
func (s Store) check(t *testing.T) {
	t.Helper()
	if s.Store == nil {
		t.Fatal("storetest: Store.Store is not set")
	}
	missing := map[string]bool{
		"Name":              s.Name == "",
		"Tx":                s.Tx == nil,
		"Repos.Users":       s.Repos.Users == nil,
		"Repos.Tokens":      s.Repos.Tokens == nil,
		"Repos.Sessions":    s.Repos.Sessions == nil,
		"Repos.Outbox":      s.Repos.Outbox == nil,
		"Repos.Audit":       s.Repos.Audit == nil,
		"Repos.AdminKeys":   s.Repos.AdminKeys == nil,
		"Limiter":           s.Limiter == nil,
		"Repos.SigningKeys": s.Repos.SigningKeys == nil,
		"Repos.MFA":         s.Repos.MFA == nil,
		"Repos.Grants":      s.Repos.Grants == nil,
		"Repos.Events":      s.Repos.Events == nil,
		"Repos.Webhooks":    s.Repos.Webhooks == nil,
		"Deliveries":        s.Deliveries == nil,
		"Repos.Passkeys":    s.Repos.Passkeys == nil,
		"Repos.Upstream":    s.Repos.Upstream == nil,
		"Settings":          s.Settings == nil,
		"Retention":         s.Retention == nil,
		"AuditTrail":        s.AuditTrail == nil,
		"Ready":             s.Ready == nil,
		"Exec":              s.Exec == nil,
	}
	for field, m := range missing {
		if m {
			t.Errorf("storetest: Store.%s is not set", field)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

type testCase struct {
	name   string
	serial bool
	run    func(t *testing.T, s Store)
}

// cases is filled by the files of this package, one group per port.
var cases []testCase

// register adds test cases to the suite; each file calls it from init.
func register(name string, run func(t *testing.T, s Store)) {
	cases = append(cases, testCase{name: name, run: run})
}

// registerSerial adds a case that runs alone, before the parallel ones:
// one that breaks a shared invariant for a moment (and restores it) or
// that takes whatever is due in a shared queue.
func registerSerial(name string, run func(t *testing.T, s Store)) {
	cases = append(cases, testCase{name: name, serial: true, run: run})
}

// nowSQL is the current time as the store writes it in raw SQL.
func (s Store) nowSQL() string {
	if s.Name == "sqlite" {
		return "CAST(unixepoch('subsec') * 1000000 AS INTEGER)"
	}
	return "now()"
}

func init() {
	register("Ready/Answers", testReadyAnswers)
	register("Ready/CanceledContextIsUnavailable", testReadyCanceled)
}

func testReadyAnswers(t *testing.T, s Store) {
	mustf(t, s.Ready(testCtx(t)), "Ready")
}

// A storage call that cannot run (here: its context is canceled) is an
// outage, not a bug: its error matches domain.ErrUnavailable (503).
func testReadyCanceled(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := s.Ready(ctx); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Ready: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Repos.Users.ByID(ctx, uuid.New()); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Users.ByID: err = %v, want ErrUnavailable", err)
	}
	err := s.Tx.Within(ctx, func(context.Context, app.Repos) error {
		t.Error("fn called in a transaction that cannot begin")
		return nil
	})
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Within: err = %v, want ErrUnavailable", err)
	}
	if _, _, err := s.Limiter.Hit(ctx, rateKey(), 1, 1e9); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("RateLimiter.Hit: err = %v, want ErrUnavailable", err)
	}
	if _, err := admin.VerifyAuditChain(ctx, s.AuditTrail); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("VerifyAuditChain: err = %v, want ErrUnavailable", err)
	}
}

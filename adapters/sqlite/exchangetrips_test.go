package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
)

// TestExchangeTrips counts the statements of a code exchange at the token
// endpoint and of a refresh on this store, as TestLoginTrips counts a
// login's.
func TestExchangeTrips(t *testing.T) {
	st, statements := countedStore(t)
	got := storetest.CountExchangeTrips(t, st, statements)
	t.Logf("statements: exchange %d, refresh %d", got.Exchange, got.Refresh)
	if want := (storetest.ExchangeTrips{Exchange: 9, Refresh: 8}); got != want {
		t.Errorf("statements %+v, want %+v", got, want)
	}
}

// BenchmarkExchange is the store's share of a code exchange beside a
// refresh's (storetest.BenchmarkExchange): on this store all of it is
// CPU in this process.
//
//	go test -run '^$' -bench Exchange -count 5 ./adapters/sqlite
func BenchmarkExchange(b *testing.B) {
	path := filepath.Join(b.TempDir(), "gatehouse.db")
	if err := MigrateUp(context.Background(), path); err != nil {
		b.Fatal(err)
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	storetest.BenchmarkExchange(b, open(db))
}

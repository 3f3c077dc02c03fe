// Package storage is what a store adapter hands to the rest of Gatehouse:
// one Store value carrying the store's ports and lifecycle, and the Adapter
// that opens it. cmd picks an Adapter from the configuration in one switch,
// and the assembly (wire/) takes the Store as it is, whichever store it is.
package storage

import (
	"context"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
	"github.com/gatehouse-auth/gatehouse/app/webhook"
)

// Store is one opened store: its transactions, its repositories, and what
// the service and the operators' commands need of it besides.
type Store struct {
	// Tx runs use cases in transactions; Repos are bound to the store
	// itself (each call stands alone).
	Tx    app.TxManager
	Repos app.Repos

	Limiter    app.RateLimiter
	Settings   keys.Settings
	Retention  maintenance.Retention
	AuditTrail admin.AuditTrail
	Info       admin.StoreInfo
	// Deliveries are the webhook deliveries, for the worker that sends
	// them.
	Deliveries webhook.Deliveries

	// Ready is the readiness probe: the store answers, within a short
	// timeout.
	Ready func(context.Context) error
	// Conns are the store's groups of connections, shown in the metrics.
	Conns []ConnGroup
	// SecretKeyFile is where the store keeps a secret key it generates
	// when the operator gives none: a file (the embedded store keeps it
	// beside its data), or "" when it keeps it in its own settings (a dump
	// of the database then holds it too).
	SecretKeyFile string
	// Close releases the store.
	Close func()
}

// ConnGroup names a group of connections and reads its statistics.
type ConnGroup struct {
	Name  string
	Stats func() ConnStats
}

// ConnStats is one group of connections at a moment.
type ConnStats struct {
	Acquired, Idle, Total, Max int
	// Acquires counts every acquire since the group opened; negative when
	// it is not counted.
	Acquires int64
	// Waits counts the acquires that had to wait for a connection, and
	// WaitTime is the time they waited in all.
	Waits    int64
	WaitTime time.Duration
}

// Adapter is a configured store, before it is opened: what cmd picks in
// its one switch. Adding a store is its adapter package, its migrations,
// one case in that switch, and the contract suite (adapters/storetest).
type Adapter interface {
	// Open opens the store.
	Open(ctx context.Context) (*Store, error)
	// Own makes this process the store's one server when the store
	// allows only one; release gives that up.
	Own() (release func(), err error)
	// MigrateUp applies every pending migration, MigrateDown rolls back
	// the last one, and MigrateStatus lists them on w.
	MigrateUp(ctx context.Context) error
	MigrateDown(ctx context.Context) error
	MigrateStatus(ctx context.Context, w io.Writer) error
	// Backup writes a consistent copy of the store to dest, or says which
	// tool does that for this store.
	Backup(ctx context.Context, dest string) error
	// Explain is err with what the operator can do about it, when it is
	// the store refusing for good (a database that does not exist); else
	// err as it is.
	Explain(err error) error
}

package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// Own is what a store runs its own way, on the DB its repositories are
// bound to: the statements on lists of ids or purposes, the insert of a
// set of recovery codes, the sweep of pending registrations, and the audit
// chain's walk (in one snapshot).
// Their contracts are the app ports' of the same names.
type Own interface {
	CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error)
	InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error)
	EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error)
	ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error
	SweepRegistrations(ctx context.Context, now time.Time, told func(deleted []*user.User) []webhook.Event) (int, error)
	Walk(ctx context.Context, fn func(audit.Record) error) error
}

// Store is one store's repositories on one DB: its pool (each call stands
// alone) or one of its transactions (everything runs inside it).
type Store struct {
	DB      DB
	Dialect Dialect
	// Own is the store's own statements, on the same DB.
	Own Own
	// Name is the store's kind ("postgres", "sqlite").
	Name string
}

// Repos returns the repositories of a use case.
func (s Store) Repos() app.Repos {
	return app.Repos{
		Users:       Users{DB: s.DB, Dialect: s.Dialect},
		Tokens:      OneTimeTokens{DB: s.DB, Dialect: s.Dialect, Own: s.Own},
		Sessions:    Sessions{DB: s.DB, Dialect: s.Dialect, Own: s.Own},
		Outbox:      Outbox{DB: s.DB, Dialect: s.Dialect},
		Audit:       s.Audit(),
		AdminKeys:   AdminKeys{DB: s.DB},
		MFA:         MFA{DB: s.DB, Own: s.Own},
		SigningKeys: SigningKeys{DB: s.DB},
		Clients:     Clients{DB: s.DB},
		Grants:      Grants{DB: s.DB, Dialect: s.Dialect},
		Events:      EventLog{DB: s.DB, Dialect: s.Dialect},
		Webhooks:    Webhooks{DB: s.DB, Dialect: s.Dialect},
		Passkeys:    Passkeys{DB: s.DB},
		Upstream:    Upstream{DB: s.DB},
	}
}

// Audit returns the audit log.
func (s Store) Audit() Audit { return Audit{DB: s.DB, Dialect: s.Dialect, Own: s.Own} }

// Storage is st with the ports built here set: the repositories, the
// settings, the retention, the audit trail, the webhook deliveries and
// the store's info. The store
// gives the rest (transactions, rate limiter, probes, Close).
func (s Store) Storage(st storage.Store) *storage.Store {
	st.Repos = s.Repos()
	st.Settings = Settings{DB: s.DB}
	st.Retention = Retention{DB: s.DB, Dialect: s.Dialect, Own: s.Own}
	st.AuditTrail = s.Audit()
	st.Info = StoreInfo{DB: s.DB, Name: s.Name}
	st.Deliveries = Deliveries{DB: s.DB, Dialect: s.Dialect}
	return &st
}

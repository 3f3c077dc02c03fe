package admin

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

// Version is the version of the running binary.
type Version string

// StatusView is the operators' picture of one instance and its store.
type StatusView struct {
	Version       string      `json:"version"`
	Store         string      `json:"store"`
	SchemaVersion int64       `json:"schema_version"`
	Keys          []KeyState  `json:"signing_keys"`
	Outbox        OutboxState `json:"outbox"`
}

// KeyState is a signing key by id, algorithm and state only.
type KeyState struct {
	ID        string               `json:"id"`
	Alg       signingkey.Algorithm `json:"alg"`
	State     signingkey.State     `json:"state"`
	Source    string               `json:"source"`
	Published bool                 `json:"published"`
}

// OutboxState is the mail queue's depth and the age of its oldest mail.
type OutboxState struct {
	Pending          int     `json:"pending"`
	Capped           bool    `json:"pending_capped"` // Pending reached app.OutboxStatsCap: there may be more
	OldestAgeSeconds float64 `json:"oldest_pending_age_seconds"`
}

// Status reads the operators' status.
type Status struct {
	info    StoreInfo
	outbox  app.Outbox
	ring    *keys.Ring
	clock   app.Clock
	version Version
}

// NewStatus builds the use case.
func NewStatus(info StoreInfo, outbox app.Outbox, ring *keys.Ring, clock app.Clock, version Version) *Status {
	return &Status{info: info, outbox: outbox, ring: ring, clock: clock, version: version}
}

// Get reads the status: a few indexed reads, no table scans.
func (s *Status) Get(ctx context.Context) (StatusView, error) {
	v := StatusView{Version: string(s.version), Store: s.info.Kind(), Keys: []KeyState{}}
	var err error
	if v.SchemaVersion, err = s.info.SchemaVersion(ctx); err != nil {
		return StatusView{}, err
	}
	list, err := s.ring.List(ctx)
	if err != nil {
		return StatusView{}, err
	}
	for _, k := range list {
		v.Keys = append(v.Keys, KeyState{ID: k.KID, Alg: k.Alg, State: k.State, Source: k.Source, Published: k.Published})
	}
	st, err := s.outbox.Stats(ctx)
	if err != nil {
		return StatusView{}, err
	}
	v.Outbox = OutboxState{Pending: st.Pending, Capped: st.Pending >= app.OutboxStatsCap}
	if !st.OldestPending.IsZero() {
		v.Outbox.OldestAgeSeconds = max(0, s.clock.Now().Sub(st.OldestPending).Seconds())
	}
	return v, nil
}

// StoreInfo describes the store, for the operators' status.
type StoreInfo interface {
	// Kind is "postgres" or "sqlite".
	Kind() string
	// SchemaVersion is the highest applied migration.
	SchemaVersion(ctx context.Context) (int64, error)
}

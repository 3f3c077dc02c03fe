package sqlite

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
)

// Walk calls fn with every stored record in seq order, read in one read
// transaction (one consistent snapshot: appends committed meanwhile are not
// seen), until fn returns an error, which Walk returns as is.
func (o own) Walk(ctx context.Context, fn func(audit.Record) error) error {
	return o.db.readTx(ctx, func(q querier) error {
		return sqlstore.Each(ctx, txConn{q, o.db}, sqlstore.EachRecord(fn), `SELECT `+sqlstore.RecordColumns+` FROM audit_events ORDER BY seq`)
	})
}

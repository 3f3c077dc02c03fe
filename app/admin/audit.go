package admin

//go:generate go tool mockgen -destination=../mock/admin.go -package=mock github.com/gatehouse-auth/gatehouse/app/admin AuditTrail

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

// Audit reads the audit trail for operators.
type Audit struct{ trail AuditTrail }

// NewAudit builds the use case.
func NewAudit(trail AuditTrail) *Audit {
	return &Audit{trail: trail}
}

// AuditInput selects a page of events.
type AuditInput struct {
	UserID uuid.UUID // uuid.Nil: every user
	Type   string    // "": every type
	Cursor string
	Limit  *int // nil for the default
}

// Query returns a page of events, newest first, and the cursor of the
// next page ("" after the last).
func (h *Audit) Query(ctx context.Context, in AuditInput) ([]audit.Record, string, error) {
	limit, before, err := pageRequest(in.Limit, in.Cursor, parseAuditCursor)
	if err != nil {
		return nil, "", err
	}
	if in.Type != "" && !audit.Known(audit.Type(in.Type)) {
		return nil, "", domain.InvalidRequest(domain.FieldError{Field: "type", Code: "unknown_type", Message: "No audit event has this type."})
	}
	recs, err := h.trail.Query(ctx, AuditQuery{UserID: in.UserID, Type: audit.Type(in.Type), BeforeSeq: before, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	recs, next := pageOf(recs, limit, func(r audit.Record) string { return auditCursor(r.Seq) })
	return recs, next, nil
}

// AuditTrail reads the stored audit trail back.
type AuditTrail interface {
	// Walk calls fn with every stored record in seq order, from one
	// consistent view of the trail, until fn returns an error.
	Walk(ctx context.Context, fn func(audit.Record) error) error
	// Query returns up to q.Limit records matching q, newest first (by
	// seq, descending).
	Query(ctx context.Context, q AuditQuery) ([]audit.Record, error)
}

// AuditQuery selects audit records for an operator.
type AuditQuery struct {
	UserID    uuid.UUID  // uuid.Nil: any user (and none)
	Type      audit.Type // "": any type
	BeforeSeq int64      // > 0: only records with a smaller seq
	Limit     int        // at least 1
}

// VerifyAuditChain reads the whole audit trail and checks every link of
// its hash chain (see audit.Verifier). It returns how many records it
// checked and, at the first broken link, an error naming that record.
func VerifyAuditChain(ctx context.Context, trail AuditTrail) (int, error) {
	var v audit.Verifier
	err := trail.Walk(ctx, v.Check)
	return v.Checked(), err
}

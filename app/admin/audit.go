package admin

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

// Audit reads the audit trail for operators.
type Audit struct{ trail app.AuditTrail }

// NewAudit builds the use case.
func NewAudit(trail app.AuditTrail) *Audit {
	app.Require(map[string]any{"AuditTrail": trail})
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
	limit, err := pageLimit(in.Limit)
	if err != nil {
		return nil, "", err
	}
	before, err := parseAuditCursor(in.Cursor)
	if err != nil {
		return nil, "", err
	}
	if in.Type != "" && !audit.Known(audit.Type(in.Type)) {
		return nil, "", domain.InvalidRequest(domain.FieldError{Field: "type", Code: "unknown_type", Message: "No audit event has this type."})
	}
	recs, err := h.trail.Query(ctx, app.AuditQuery{UserID: in.UserID, Type: audit.Type(in.Type), BeforeSeq: before, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = auditCursor(recs[limit-1].Seq)
	}
	return recs, next, nil
}

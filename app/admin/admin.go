// Package admin holds the operators' use cases: the user list and the
// account lifecycle (create, disable, delete, unlock, revoke sessions),
// the audit query, and the admin keys that authenticate the admin API.
// The admin API and the CLI drive the same use cases.
package admin

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

// Actor is who makes an operator's change: the admin key's name (or "cli"
// for the command line) and, over HTTP, the request's origin.
type Actor struct {
	Name string
	Meta app.RequestMeta
}

// CLI is the actor of changes made with the gatehouse command.
func CLI() Actor { return Actor{Name: "cli"} }

// event is the audit event of an operator's change to userID, with the
// actor named in the detail.
func (a Actor) event(t audit.Type, userID uuid.UUID, now time.Time, detail map[string]string) audit.Event {
	return a.Meta.ActorEvent(t, a.Name, userID, now, detail)
}

// Page sizes of the lists.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// pageLimit checks a requested page size; nil means the default.
func pageLimit(limit *int) (int, error) {
	if limit == nil {
		return DefaultLimit, nil
	}
	if n := *limit; n < 1 || n > MaxLimit {
		return 0, domain.InvalidRequest(domain.FieldError{Field: "limit", Code: "out_of_range", Message: "limit must be between 1 and 200."})
	}
	return *limit, nil
}

// pageRequest checks a requested page: its size (nil: the default) and
// its cursor, read by parse.
func pageRequest[C any](limit *int, cursor string, parse func(string) (C, error)) (int, C, error) {
	n, err := pageLimit(limit)
	if err != nil {
		var none C
		return 0, none, err
	}
	c, err := parse(cursor)
	return n, c, err
}

// pageOf cuts items, read one over limit to learn whether a next page
// exists, to limit, and returns the cursor of that next page ("" when
// there is none).
func pageOf[T any](items []T, limit int, cursor func(last T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	return items[:limit], cursor(items[limit-1])
}

var errBadCursor = domain.InvalidRequest(domain.FieldError{Field: "cursor", Code: "invalid_cursor", Message: "The cursor is not one this list returned."})

// Cursors are opaque to clients: base64url of a short text. They carry
// no secret, only a position.
func encodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ".")))
}

func decodeCursor(c string, n int) ([]string, error) {
	if len(c) > 128 {
		return nil, errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, errBadCursor
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != n {
		return nil, errBadCursor
	}
	return parts, nil
}

func userCursor(c app.UserCursor) string {
	return encodeCursor("u", strconv.FormatInt(c.CreatedAt.UnixMicro(), 10), c.ID.String())
}

func parseUserCursor(s string) (*app.UserCursor, error) {
	if s == "" {
		return nil, nil
	}
	p, err := decodeCursor(s, 3)
	if err != nil || p[0] != "u" {
		return nil, errBadCursor
	}
	micros, err := strconv.ParseInt(p[1], 10, 64)
	if err != nil {
		return nil, errBadCursor
	}
	id, err := uuid.Parse(p[2])
	if err != nil {
		return nil, errBadCursor
	}
	return &app.UserCursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: id}, nil
}

func auditCursor(seq int64) string { return encodeCursor("a", strconv.FormatInt(seq, 10)) }

func parseAuditCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	p, err := decodeCursor(s, 2)
	if err != nil || p[0] != "a" {
		return 0, errBadCursor
	}
	seq, err := strconv.ParseInt(p[1], 10, 64)
	if err != nil || seq < 1 {
		return 0, errBadCursor
	}
	return seq, nil
}

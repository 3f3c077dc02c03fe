// Package webhook holds the events Gatehouse tells applications about, as
// the Standard Webhooks specification delivers them.
package webhook

import (
	"encoding/json"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Type is an event type, as endpoints subscribe to it and as the body's
// "type" names it.
type Type string

// The event types (SPEC "Webhooks and user import").
const (
	UserCreated         Type = "user.created"
	UserVerified        Type = "user.verified"
	UserEmailChanged    Type = "user.email_changed"
	UserPasswordChanged Type = "user.password_changed"
	UserDisabled        Type = "user.disabled"
	UserEnabled         Type = "user.enabled"
	UserDeleted         Type = "user.deleted"
	UserMFAEnabled      Type = "user.mfa_enabled"
	UserMFADisabled     Type = "user.mfa_disabled"
	SessionCreated      Type = "session.created"
	SessionRevoked      Type = "session.revoked"
)

// Types are every event type, in the order the documentation lists them.
var Types = []Type{UserCreated, UserVerified, UserEmailChanged, UserPasswordChanged, UserDisabled, UserEnabled, UserDeleted, UserMFAEnabled, UserMFADisabled, SessionCreated, SessionRevoked}

// Known reports whether t is one of Types.
func (t Type) Known() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one thing that happened to a user, recorded in the transaction
// of the change. ID is the message id every delivery of it carries
// (webhook-id), the same across retries and endpoints.
type Event struct {
	ID     string
	Type   Type
	UserID uuid.UUID // events of one user reach an endpoint in order
	At     time.Time
	Data   Data
}

// Data is the body's "data": the public user as the change left it (as
// it was, for user.deleted), and for session events the session. Never a
// secret, a token or a hash.
type Data struct {
	User    PublicUser   `json:"user"`
	Session *SessionData `json:"session,omitempty"`
}

// PublicUser is the user as /v1/me shows them.
type PublicUser struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Disabled      bool      `json:"disabled"`
	MFAEnabled    bool      `json:"mfa_enabled"`
	CreatedAt     time.Time `json:"created_at"`
}

// SessionData names the session of a session event: one of the JSON API
// or a browser session. A client's grant is part of its browser session
// and is no event.
type SessionData struct {
	ID string `json:"id"`
}

// NewID makes a message id: "msg_" and a random UUID.
func NewID(id uuid.UUID) string { return "msg_" + id.String() }

// New is the event of type t about u at now. mfaEnabled is whether u has a
// second factor after the change.
func New(id uuid.UUID, t Type, u *user.User, mfaEnabled bool, now time.Time) Event {
	return Event{
		ID: NewID(id), Type: t, UserID: u.ID(), At: now,
		Data: Data{User: PublicUser{
			ID: u.ID().String(), Email: u.Email().String(), EmailVerified: u.Verified(),
			Disabled: !u.Active(), MFAEnabled: mfaEnabled, CreatedAt: u.CreatedAt().UTC(),
		}},
	}
}

// WithSession is e about session sessionID.
func (e Event) WithSession(sessionID uuid.UUID) Event {
	e.Data.Session = &SessionData{ID: sessionID.String()}
	return e
}

// Body is the JSON body every delivery of e carries:
// {"type","timestamp","data"}.
func (e Event) Body() ([]byte, error) {
	return json.Marshal(struct {
		Type      Type      `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      Data      `json:"data"`
	}{e.Type, e.At.UTC(), e.Data})
}

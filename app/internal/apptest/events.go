package apptest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// Events matches the variadic events of one EventLog.Publish call: exactly
// the types want, in any order, each once, every event about userID, at
// T0, with its own "msg_" id, naming no session and no second factor
// unless the matcher says so (Session, MFA). Pass it as the last matcher,
// in place of the events.
func Events(userID uuid.UUID, want ...webhook.Type) EventsMatcher {
	return EventsMatcher{user: userID, types: want}
}

// EventsMatcher is the matcher of Events.
type EventsMatcher struct {
	user    uuid.UUID
	types   []webhook.Type
	session func() uuid.UUID
	mfa     bool
}

// Session is m for events naming session id (a session event's).
func (m EventsMatcher) Session(id uuid.UUID) EventsMatcher {
	return m.SessionOf(func() uuid.UUID { return id })
}

// SessionOf is Session of the id id returns when a call is matched: a
// session the use case makes before it publishes.
func (m EventsMatcher) SessionOf(id func() uuid.UUID) EventsMatcher {
	m.session = id
	return m
}

// MFA is m for events whose user has a confirmed second factor.
func (m EventsMatcher) MFA() EventsMatcher {
	m.mfa = true
	return m
}

func (m EventsMatcher) Matches(x any) bool {
	got, ok := x.([]webhook.Event)
	if !ok || len(got) != len(m.types) {
		return false
	}
	types := make([]webhook.Type, len(got))
	seen := map[string]bool{}
	for i, e := range got {
		types[i] = e.Type
		u := e.Data.User
		if e.UserID != m.user || u.ID != m.user.String() || !e.At.Equal(T0) || u.MFAEnabled != m.mfa ||
			!strings.HasPrefix(e.ID, "msg_") || seen[e.ID] || !m.sessionMatches(e.Data.Session) {
			return false
		}
		seen[e.ID] = true
	}
	return slices.Equal(slices.Sorted(slices.Values(types)), slices.Sorted(slices.Values(m.types)))
}

func (m EventsMatcher) sessionMatches(s *webhook.SessionData) bool {
	if m.session == nil {
		return s == nil
	}
	return s != nil && s.ID == m.session().String()
}

func (m EventsMatcher) String() string {
	s := fmt.Sprintf("events %v about user %s at T0", m.types, m.user)
	if m.session != nil {
		s += " of a session"
	}
	if m.mfa {
		s += " with MFA on"
	}
	return s
}

// Published expects one Publish call on r's event log that m matches.
func (r *Repos) Published(m EventsMatcher) *gomock.Call {
	return r.Events.EXPECT().Publish(gomock.Any(), m)
}

// NoFactor lets the lookups of userID's second factor in a transaction
// (the events read it) find none, for a test that serves its users from
// the mocks rather than a seeded Store.
func (r *Repos) NoFactor(userID uuid.UUID) *gomock.Call {
	return r.MFA.EXPECT().TOTP(gomock.Any(), userID).Return(nil, mfa.ErrNotFound).AnyTimes()
}

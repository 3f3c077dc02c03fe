package app

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// The webhook events of the use cases: each change publishes its events
// through the Repos of its own transaction, so they commit with it or not
// at all.

// MFAEnabled reports whether the user has a confirmed second factor, as
// factors reads it: what /v1/me shows as mfa_enabled.
func MFAEnabled(ctx context.Context, factors MFARepository, userID uuid.UUID) (bool, error) {
	f, err := factors.TOTP(ctx, userID)
	if errors.Is(err, mfa.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return f.Enabled(), nil
}

// userEvents are the events of types ts about u as it stands in r's
// transaction (its second factor read there too), at now, with ids from
// ids.
func userEvents(ctx context.Context, r Repos, ids IDGenerator, now time.Time, u *user.User, ts ...webhook.Type) ([]webhook.Event, error) {
	on, err := MFAEnabled(ctx, r.MFA, u.ID())
	if err != nil {
		return nil, err
	}
	events := make([]webhook.Event, len(ts))
	for i, t := range ts {
		events[i] = webhook.New(ids.NewID(), t, u, on, now)
	}
	return events, nil
}

// Publish records, in r's transaction, the events of types ts about u as
// the change left it (its second factor read in r too); with no types,
// nothing.
func Publish(ctx context.Context, r Repos, ids IDGenerator, now time.Time, u *user.User, ts ...webhook.Type) error {
	if len(ts) == 0 {
		return nil
	}
	events, err := userEvents(ctx, r, ids, now, u, ts...)
	if err != nil {
		return err
	}
	return r.Events.Publish(ctx, events...)
}

// PublishCreated records, in r's transaction, one user.created for each
// of us, in one call. New users have no second factor, so nothing is read
// for them: an import publishes thousands at once.
func PublishCreated(ctx context.Context, r Repos, ids IDGenerator, now time.Time, us ...*user.User) error {
	events := make([]webhook.Event, len(us))
	for i, u := range us {
		events[i] = webhook.New(ids.NewID(), webhook.UserCreated, u, false, now)
	}
	return r.Events.Publish(ctx, events...)
}

// CreatedSessionEvents are the events of a sign-in that made session s
// of u, whose second factor the caller has just read (a sign-in knows it:
// no read here on the login path), at now: session.created, stored with
// the sign-in (SessionStart.Events); about a grant, none (see told).
func CreatedSessionEvents(ids IDGenerator, now time.Time, u *user.User, mfaEnabled bool, s *session.Session) []webhook.Event {
	if !told(s) {
		return nil
	}
	e := webhook.New(ids.NewID(), webhook.SessionCreated, u, mfaEnabled, now)
	return []webhook.Event{e.WithSession(s.ID())}
}

// publishRevoked records, in r's transaction, session.revoked about s,
// its user and second factor read in r; a grant's is not read.
func publishRevoked(ctx context.Context, r Repos, ids IDGenerator, now time.Time, s *session.Session) error {
	if !told(s) {
		return nil
	}
	u, err := r.Users.ByID(ctx, s.UserID())
	if err != nil {
		return err
	}
	events, err := userEvents(ctx, r, ids, now, u, webhook.SessionRevoked)
	if err != nil {
		return err
	}
	return r.Events.Publish(ctx, events[0].WithSession(s.ID()))
}

// told reports whether the session events tell of s. A grant (a client's
// session made from a browser session's sign-in at the authorization
// endpoint) is no event: it is one of the browser session's grants, which
// end with it, and the events tell of the sessions a user signs in to:
// the JSON API's and the browser's.
func told(s *session.Session) bool { return s.ClientID() == "" }

// RevokeSessions revokes every live session of u but keep (which may be
// uuid.Nil) and returns how many it revoked. When it revoked any, it
// publishes one session.revoked naming the user and no session: the store
// revokes them all in one statement and names none, and one event saying
// "the sessions of this user (but the one kept) ended" stays true without
// reading them first.
func RevokeSessions(ctx context.Context, r Repos, ids IDGenerator, u *user.User, keep uuid.UUID, now time.Time) (int, error) {
	n, err := r.Sessions.RevokeAll(ctx, u.ID(), keep, now)
	if err != nil || n == 0 {
		return n, err
	}
	return n, Publish(ctx, r, ids, now, u, webhook.SessionRevoked)
}

// DeleteUser deletes u (UserRepository.Delete) and publishes user.deleted
// about u as it was before.
func DeleteUser(ctx context.Context, r Repos, ids IDGenerator, u *user.User, now time.Time) error {
	events, err := userEvents(ctx, r, ids, now, u, webhook.UserDeleted)
	if err != nil {
		return err
	}
	if err := r.Users.Delete(ctx, u.ID()); err != nil {
		return err
	}
	return r.Events.Publish(ctx, events...)
}

// Package passkey holds the use cases of passkeys (WebAuthn): a signed-in
// user registers, lists, renames and deletes theirs, and anyone signs in
// with one and no email (a discoverable credential). Each ceremony is a
// begin, which stores a single-use challenge and answers the options for
// the authenticator with the challenge's id, and a finish, which takes the
// challenge and the authenticator's answer. The protocol is a port
// (Ceremonies); the JSON API and the hosted pages drive the same use
// cases.
package passkey

//go:generate go tool mockgen -destination=../mock/passkey.go -package=mock github.com/gatehouse-auth/gatehouse/app/passkey Ceremonies

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Account is the user a registration is for, as the authenticator shows
// and keeps it.
type Account struct {
	ID uuid.UUID
	// Name is shown by the authenticator when it offers the passkey (the
	// email address).
	Name string
}

// Ceremonies speaks WebAuthn: it makes the options an authenticator
// takes, with the state their finish needs (opaque, kept server-side in
// the challenge), and verifies the authenticator's answers (the JSON a
// browser's PublicKeyCredential serializes to). Every answer it cannot
// verify, whatever is wrong with it, is passkey.ErrInvalidCredential.
type Ceremonies interface {
	// BeginRegistration makes the creation options of a discoverable
	// credential for a, excluding the credentials of existing.
	BeginRegistration(a Account, existing []*passkey.Credential) (options json.RawMessage, state []byte, err error)
	// FinishRegistration verifies answer against state for a.
	FinishRegistration(a Account, state, answer []byte) (passkey.Registration, error)
	// BeginLogin makes the request options of a sign-in with a
	// discoverable credential (no user named).
	BeginLogin() (options json.RawMessage, state []byte, err error)
	// FinishLogin verifies answer against state and the passkey find
	// returns for the credential id and user handle the answer names. An
	// error of find other than passkey.ErrNotFound is returned as it is.
	FinishLogin(state, answer []byte, find func(credentialID, userHandle []byte) (*passkey.Credential, error)) (*passkey.Credential, passkey.Assertion, error)
}

// Begun is what a ceremony's begin answers: the id of its challenge,
// which the finish names, and the options for the authenticator.
type Begun struct {
	ChallengeID uuid.UUID
	Options     json.RawMessage
}

// account is the Account of u.
func account(u *user.User) Account { return Account{ID: u.ID(), Name: u.Email().String()} }

// begin stores the challenge of a ceremony of purpose for userID (uuid.Nil
// for a sign-in) holding state, and answers it with options.
func begin(ctx context.Context, repo app.PasskeyRepository, ids app.IDGenerator, clock app.Clock, userID uuid.UUID, purpose passkey.Purpose, options json.RawMessage, state []byte) (Begun, error) {
	ch, err := passkey.NewChallenge(ids.NewID(), userID, purpose, state, clock.Now())
	if err != nil {
		return Begun{}, err
	}
	if err := repo.AddChallenge(ctx, ch); err != nil {
		return Begun{}, err
	}
	return Begun{ChallengeID: ch.ID(), Options: options}, nil
}

// take consumes the challenge named by id (as the client sent it) for a
// ceremony of purpose for userID: unknown, used, expired, or another
// ceremony's, it is passkey.ErrChallengeInvalid.
func take(ctx context.Context, repo app.PasskeyRepository, clock app.Clock, id string, purpose passkey.Purpose, userID uuid.UUID) (*passkey.Challenge, error) {
	cid, err := uuid.Parse(id)
	if err != nil {
		return nil, passkey.ErrChallengeInvalid
	}
	ch, err := repo.TakeChallenge(ctx, cid)
	if err != nil {
		return nil, err
	}
	if err := ch.Answerable(purpose, userID, clock.Now()); err != nil {
		return nil, err
	}
	return ch, nil
}

// lockUser reads the signed-in user for change in r: a user deleted
// meanwhile is unauthorized, as on any bearer endpoint.
func lockUser(ctx context.Context, r app.Repos, id uuid.UUID) (*user.User, error) {
	u, err := r.Users.ByIDForChange(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, domain.ErrUnauthorized
	}
	return u, err
}

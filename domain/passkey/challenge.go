package passkey

import (
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Purpose is the ceremony a challenge belongs to.
type Purpose string

const (
	// PurposeRegister: a signed-in user adds a passkey.
	PurposeRegister Purpose = "register"
	// PurposeLogin: someone signs in with a discoverable passkey (no
	// user is known before the answer).
	PurposeLogin Purpose = "login"
)

// Challenge is the server's half of one ceremony between its begin and
// its finish: single-use, living ChallengeTTL. State is what the
// WebAuthn adapter keeps between the two steps (the challenge bytes among
// it), opaque here.
type Challenge struct {
	id        uuid.UUID
	userID    uuid.UUID
	purpose   Purpose
	state     []byte
	createdAt time.Time
	expiresAt time.Time
}

// NewChallenge starts a ceremony of purpose: a registration names the
// signed-in user, a sign-in names none (uuid.Nil).
func NewChallenge(id, userID uuid.UUID, purpose Purpose, state []byte, now time.Time) (*Challenge, error) {
	if id == uuid.Nil {
		return nil, errors.New("passkey: nil challenge id")
	}
	switch {
	case purpose == PurposeRegister && userID == uuid.Nil:
		return nil, errors.New("passkey: a registration needs its user")
	case purpose == PurposeLogin && userID != uuid.Nil:
		return nil, errors.New("passkey: a sign-in names no user")
	case purpose != PurposeRegister && purpose != PurposeLogin:
		return nil, errors.New("passkey: unknown purpose")
	}
	if len(state) == 0 {
		return nil, errors.New("passkey: empty ceremony state")
	}
	return &Challenge{id: id, userID: userID, purpose: purpose, state: slices.Clone(state), createdAt: now, expiresAt: now.Add(ChallengeTTL)}, nil
}

// RehydrateChallenge rebuilds a stored challenge. Storage adapters only.
func RehydrateChallenge(id, userID uuid.UUID, purpose Purpose, state []byte, createdAt, expiresAt time.Time) *Challenge {
	return &Challenge{id: id, userID: userID, purpose: purpose, state: state, createdAt: createdAt, expiresAt: expiresAt}
}

func (c *Challenge) ID() uuid.UUID        { return c.id }
func (c *Challenge) UserID() uuid.UUID    { return c.userID }
func (c *Challenge) Purpose() Purpose     { return c.purpose }
func (c *Challenge) State() []byte        { return slices.Clone(c.state) }
func (c *Challenge) CreatedAt() time.Time { return c.createdAt }
func (c *Challenge) ExpiresAt() time.Time { return c.expiresAt }

// Answerable reports whether the challenge, just taken from the store
// (which makes it used), may finish a ceremony of purpose for userID
// (uuid.Nil for a sign-in) at now: anything else is ErrChallengeInvalid.
func (c *Challenge) Answerable(purpose Purpose, userID uuid.UUID, now time.Time) error {
	if c.purpose != purpose || c.userID != userID || !now.Before(c.expiresAt) {
		return ErrChallengeInvalid
	}
	return nil
}

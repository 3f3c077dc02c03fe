// Package system adapts the operating system's clock and randomness to the
// app ports, so that use cases never call time.Now or crypto/rand.
package system

import (
	"crypto/rand"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

// Clock is the wall clock.
type Clock struct{}

var _ app.Clock = Clock{}

// Now returns the current time.
func (Clock) Now() time.Time { return time.Now() }

// IDs makes random (version 4) UUIDs: ids are published in tokens, and
// random ones reveal nothing about when an account was made.
type IDs struct{}

var _ app.IDGenerator = IDs{}

// NewID returns a new random UUID.
func (IDs) NewID() uuid.UUID { return uuid.New() }

// Random is the source of token bytes: the operating system's CSPRNG.
func Random() io.Reader { return rand.Reader }

// Package passhash implements app.PasswordHasher over the argon2id hasher
// and the password hashes of other systems, so that users can arrive with
// the hashes they have: bcrypt, argon2i, scrypt, PBKDF2-SHA256 (PHC and
// Django) and Firebase's modified scrypt. New hashes are always argon2id;
// a hash of another format verifies in one of the argon2id hasher's slots
// and asks to be rehashed, which the login does on its first success.
package passhash

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

var (
	_ app.PasswordHasher      = (*Hasher)(nil)
	_ app.ImportedHashChecker = (*Hasher)(nil)
)

// MaxEncodedLength bounds a hash string of any format, in bytes.
const MaxEncodedLength = 4096

// Native is the hasher of every new hash (the argon2id hasher): it hashes
// and verifies its own hashes, bounds how many run at once, and says which
// of its hashes and costs it takes.
type Native interface {
	app.PasswordHasher
	// Bounded runs fn in one of the slots Hash and Verify run in, or
	// gives the error of a wait that found none (domain.ErrOverloaded).
	Bounded(ctx context.Context, fn func()) error
	// CheckStored reports whether Verify takes encoded, before any work.
	CheckStored(encoded string) error
	// CheckCost reports whether an argon2 cost is within its bounds.
	CheckCost(memoryKiB, iterations uint32, parallelism uint8) error
}

// Hasher hashes with the native hasher and verifies its hashes and the
// imported formats. It is safe for concurrent use.
type Hasher struct {
	native   Native
	firebase *Firebase
}

// New wraps native; firebase, when not nil, makes Firebase's scrypt hashes
// verifiable with its project's parameters (Firebase.Validate first).
func New(native Native, firebase *Firebase) (*Hasher, error) {
	if native == nil {
		return nil, errors.New("passhash: nil argon2id hasher")
	}
	if firebase != nil {
		if err := firebase.Validate(); err != nil {
			return nil, err
		}
	}
	return &Hasher{native: native, firebase: firebase}, nil
}

// Hash returns an argon2id PHC string of pw.
func (h *Hasher) Hash(ctx context.Context, pw user.Password) (string, error) {
	return h.native.Hash(ctx, pw)
}

// DummyHash is the argon2id hasher's dummy hash.
func (h *Hasher) DummyHash() string { return h.native.DummyHash() }

// Verify checks pw against encoded. An argon2id hash is the native
// hasher's; a hash of another format runs in one of its slots (the same
// bound, the same wait) and always needs a rehash. A malformed hash, or one
// whose cost is out of bounds, is an error, as it is for argon2id.
func (h *Hasher) Verify(ctx context.Context, pw user.Password, encoded string) (ok, needsRehash bool, err error) {
	if isArgon2id(encoded) {
		return h.native.Verify(ctx, pw, encoded)
	}
	v, err := h.parse(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.native.Bounded(ctx, func() { ok = v.verify([]byte(pw.Reveal())) }); err != nil {
		return false, false, err
	}
	return ok, true, nil
}

// CheckImported gives nil when Verify takes encoded, else a validation
// error on password_hash that says why: the formats taken when encoded is
// of none of them, the bound passed when its cost is out of bounds.
func (h *Hasher) CheckImported(encoded string) error {
	var err error
	if isArgon2id(encoded) {
		err = h.native.CheckStored(encoded)
	} else {
		_, err = h.parse(encoded)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errUnknownFormat):
		return domain.Validation(domain.FieldError{Field: "password_hash", Code: "unsupported_hash_format",
			Message: "The password hash is of no accepted format. Accepted: " + h.accepted() + "."})
	default:
		return domain.Validation(domain.FieldError{Field: "password_hash", Code: "invalid_password_hash",
			Message: "The password hash cannot be used: " + err.Error() + "."})
	}
}

// accepted names the formats Verify takes.
func (h *Hasher) accepted() string {
	s := "bcrypt ($2a$, $2b$, $2y$), argon2id and argon2i (PHC), scrypt (PHC $scrypt$), " +
		"PBKDF2-SHA256 (PHC $pbkdf2-sha256$ or Django's pbkdf2_sha256$)"
	if h.firebase != nil {
		s += ", Firebase scrypt ($firebase-scrypt$SALT$HASH)"
	}
	return s
}

func isArgon2id(encoded string) bool { return strings.HasPrefix(encoded, "$argon2id$") }

// verifier checks a password against one parsed hash.
type verifier interface {
	verify(pw []byte) bool
}

var errUnknownFormat = errors.New("unknown password hash format")

// parse reads a hash of a format other than argon2id, checking its cost.
func (h *Hasher) parse(encoded string) (verifier, error) {
	if len(encoded) > MaxEncodedLength {
		return nil, errors.New("the hash is longer than " + strconv.Itoa(MaxEncodedLength) + " bytes")
	}
	switch {
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "$argon2i$"):
		return parseArgon2i(encoded, h.native.CheckCost)
	case strings.HasPrefix(encoded, "$scrypt$"):
		return parseScrypt(encoded)
	case strings.HasPrefix(encoded, "$pbkdf2-sha256$"):
		return parsePBKDF2(encoded)
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return parseDjango(encoded)
	case strings.HasPrefix(encoded, firebasePrefix):
		if h.firebase == nil {
			return nil, errors.New("Firebase scrypt hashes need the project's parameters (GATEHOUSE_FIREBASE_SIGNER_KEY_FILE and the others)")
		}
		return h.firebase.parse(encoded)
	}
	return nil, errUnknownFormat
}

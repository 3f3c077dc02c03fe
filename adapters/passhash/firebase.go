package passhash

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// firebasePrefix starts a Firebase scrypt hash as Gatehouse takes it:
// "$firebase-scrypt$SALT$HASH", with the salt and the hash in base64 as
// Firebase exports them (its "salt" and "passwordHash" fields).
const firebasePrefix = "$firebase-scrypt$"

// Firebase is a Firebase project's password hash parameters (Firebase
// console, Authentication, Password Hash Parameters).
type Firebase struct {
	SignerKey     []byte // base64_signer_key, decoded
	SaltSeparator []byte // base64_salt_separator, decoded
	Rounds        int    // rounds: scrypt's r
	MemCost       int    // mem_cost: scrypt's N is 2^MemCost
}

// Bounds of Firebase's parameters; mem_cost 20 is MaxScryptN.
const (
	MaxFirebaseRounds  = MaxScryptR
	MaxFirebaseMemCost = 20
)

// Validate reports whether f is usable, naming the parameter at fault.
func (f Firebase) Validate() error {
	switch {
	case len(f.SignerKey) == 0 || len(f.SignerKey) > maxKeyLength:
		return fmt.Errorf("firebase: the signer key must be 1 to %d bytes", maxKeyLength)
	case len(f.SaltSeparator) > maxSaltLength:
		return fmt.Errorf("firebase: the salt separator must be at most %d bytes", maxSaltLength)
	case f.Rounds < 1 || f.Rounds > MaxFirebaseRounds:
		return fmt.Errorf("firebase: rounds must be between 1 and %d", MaxFirebaseRounds)
	case f.MemCost < 1 || f.MemCost > MaxFirebaseMemCost:
		return fmt.Errorf("firebase: mem_cost must be between 1 and %d", MaxFirebaseMemCost)
	}
	return nil
}

// firebaseHash is one user's salt and hash under the project's parameters.
type firebaseHash struct {
	f          *Firebase
	salt, hash []byte
}

func (f *Firebase) parse(encoded string) (verifier, error) {
	salt, hash, ok := strings.Cut(strings.TrimPrefix(encoded, firebasePrefix), "$")
	if !ok {
		return nil, errors.New("malformed Firebase scrypt hash: want $firebase-scrypt$SALT$HASH")
	}
	s, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || len(s) > maxSaltLength {
		return nil, errors.New("malformed Firebase scrypt salt (want base64)")
	}
	h, err := base64.StdEncoding.DecodeString(hash)
	if err != nil || len(h) != len(f.SignerKey) {
		return nil, fmt.Errorf("malformed Firebase scrypt hash value (want %d bytes of base64, the signer key's length)", len(f.SignerKey))
	}
	return firebaseHash{f: f, salt: s, hash: h}, nil
}

// verify follows Firebase's published reference: scrypt of the password
// with the user's salt followed by the project's salt separator (N =
// 2^mem_cost, r = rounds, p = 1); the first 32 bytes of that key encrypt
// the signer key with AES-256 in CTR mode from a zero IV; the result is
// the stored hash.
func (fh firebaseHash) verify(pw []byte) bool {
	salt := append(append([]byte{}, fh.salt...), fh.f.SaltSeparator...)
	key, err := scrypt.Key(pw, salt, 1<<fh.f.MemCost, fh.f.Rounds, 1, 32)
	if err != nil { // the parameters were validated: unreachable
		return false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	out := make([]byte, len(fh.f.SignerKey))
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, fh.f.SignerKey)
	return subtle.ConstantTimeCompare(out, fh.hash) == 1
}

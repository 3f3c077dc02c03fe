// Package secretbox implements app.Sealer with XChaCha20-Poly1305: a random
// 24-byte nonce per value, the label as associated data. A sealed value is
// version byte 1, nonce, ciphertext and tag.
package secretbox

import (
	"crypto/rand"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app"
	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length of the secret key.
const KeySize = chacha20poly1305.KeySize

const version byte = 1

var _ app.Sealer = (*Box)(nil)

// Box seals and opens with one secret key. It is safe for concurrent use.
type Box struct {
	key []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: the secret key is %d bytes, want %d", len(key), KeySize)
	}
	return &Box{key: append([]byte(nil), key...)}, nil
}

// Seal encrypts plain bound to label.
func (b *Box) Seal(plain []byte, label string) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(b.key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plain, []byte(label)), nil
}

// Open decrypts a value sealed under label; anything else is
// app.ErrSealBroken.
func (b *Box) Open(sealed []byte, label string) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(b.key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != version {
		return nil, app.ErrSealBroken
	}
	plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(label))
	if err != nil {
		return nil, app.ErrSealBroken
	}
	return plain, nil
}

// NewKey returns a fresh random secret key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return k, nil
}

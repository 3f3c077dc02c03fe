package jwt

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

const pemTypePrivateKey = "PRIVATE KEY"

// ParsePrivateKeyPEM parses a PKCS#8 "PRIVATE KEY" PEM block holding an
// Ed25519 key.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("jwt: no PEM block found")
	}
	if block.Type != pemTypePrivateKey {
		return nil, fmt.Errorf("jwt: PEM block is %q, want %q (PKCS#8)", block.Type, pemTypePrivateKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwt: parse PKCS#8: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("jwt: key is %T, want an Ed25519 key", key)
	}
	return ed, nil
}

// LoadPrivateKeyFile reads and parses a PEM Ed25519 private key file.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt: read private key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return key, nil
}

// LoadPublicKeyFile reads the Ed25519 public key of a PEM file holding a
// PKCS#8 private key (the old key file itself) or a PKIX "PUBLIC KEY".
func LoadPublicKeyFile(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt: read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("jwt: no PEM block found (in %s)", path)
	}
	switch block.Type {
	case pemTypePrivateKey:
		key, err := ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, path)
		}
		return key.Public().(ed25519.PublicKey), nil
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parse public key: %w (in %s)", err, path)
		}
		pub, ok := key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("jwt: key is %T, want an Ed25519 key (in %s)", key, path)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("jwt: PEM block is %q, want %q or \"PUBLIC KEY\" (in %s)", block.Type, pemTypePrivateKey, path)
}

// GenerateSeed returns a new random Ed25519 seed, the form in which the
// generated key is stored.
func GenerateSeed() ([]byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("jwt: generate seed: %w", err)
	}
	return seed, nil
}

// KeyFromSeed derives the Ed25519 private key of a 32-byte seed.
func KeyFromSeed(seed []byte) (ed25519.PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("jwt: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// MarshalPrivateKeyPEM encodes key as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("jwt: not an Ed25519 private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("jwt: marshal PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}), nil
}

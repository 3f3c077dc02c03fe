package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// KeyPrefix starts every admin key, so that a leaked one is recognizable
// (secret scanners, logs).
const KeyPrefix = "gha_"

// keyName is what a key may be called: it is shown in the audit trail.
var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Keys manages admin keys and authenticates admin requests.
type Keys struct {
	store app.AdminKeyStore
	tx    app.TxManager
	clock app.Clock
	rnd   io.Reader
}

// NewKeys builds the use cases. store works outside any transaction.
func NewKeys(store app.AdminKeyStore, tx app.TxManager, clock app.Clock, rnd io.Reader) *Keys {
	return &Keys{store: store, tx: tx, clock: clock, rnd: rnd}
}

// Create makes a key called name and returns it: the only time it is
// shown. Only its SHA-256 is stored.
func (h *Keys) Create(ctx context.Context, a Actor, name string) (token.Secret, error) {
	if !keyName.MatchString(name) {
		return "", domain.Validation(domain.FieldError{Field: "name", Code: "invalid_name", Message: "A key name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."})
	}
	s, _, err := token.NewSecret(h.rnd)
	if err != nil {
		return "", err
	}
	key := token.Secret(KeyPrefix + s.Reveal())
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		if err := r.AdminKeys.Create(ctx, app.AdminKey{Name: name, Hash: token.HashOf(key), CreatedAt: now}); err != nil {
			return err
		}
		return r.Audit.Append(ctx, a.event(audit.AdminKeyCreated, uuid.Nil, now, map[string]string{"key": name}))
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// List returns every key (never the keys themselves, which are not kept).
func (h *Keys) List(ctx context.Context) ([]app.AdminKey, error) {
	return h.store.List(ctx)
}

// Revoke ends the key called name at once.
func (h *Keys) Revoke(ctx context.Context, a Actor, name string) error {
	return h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		if err := r.AdminKeys.Revoke(ctx, name, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, a.event(audit.AdminKeyRevoked, uuid.Nil, now, map[string]string{"key": name}))
	})
}

// Authenticate returns the name of the live key presented, or
// domain.ErrUnauthorized for a missing, malformed, unknown or revoked one.
// The key is looked up by its SHA-256, so lookup time tells nothing about
// the key; the stored hash is compared in constant time all the same.
func (h *Keys) Authenticate(ctx context.Context, presented string) (string, error) {
	rest, ok := strings.CutPrefix(presented, KeyPrefix)
	if !ok || len(rest) != token.EncodedLen {
		return "", domain.ErrUnauthorized
	}
	want := token.HashOf(token.Secret(presented))
	k, err := h.store.ByHash(ctx, want)
	if err != nil {
		if errors.Is(err, app.ErrAdminKeyNotFound) {
			return "", domain.ErrUnauthorized
		}
		return "", err
	}
	if subtle.ConstantTimeCompare(k.Hash[:], want[:]) != 1 || k.RevokedAt != nil {
		return "", domain.ErrUnauthorized
	}
	return k.Name, nil
}

package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app"
)

// Names of the settings the secret key uses.
const (
	checkSetting  = "secret_key_check"
	secretSetting = "secret_key"
)

var checkPlain = []byte("gatehouse secret key check")

// ErrWrongSecretKey: the secret key is not the one the stored secrets were
// sealed with. Startup stops rather than sign or verify with garbage.
var ErrWrongSecretKey = errors.New("the secret key is not the one this database's secrets were sealed with: " +
	"set GATEHOUSE_SECRET_KEY_FILE to the file the database was first used with (or unset it if it never was)")

// CheckSecretKey makes sure that sealer's key is the one the stored secrets
// were sealed with: the first instance stores a sealed check value, and
// every later one must open it.
func CheckSecretKey(ctx context.Context, settings app.Settings, sealer app.Sealer, clock app.Clock) error {
	stored, err := settings.Get(ctx, checkSetting)
	if err != nil {
		return err
	}
	if stored == nil {
		sealed, err := sealer.Seal(checkPlain, checkSetting)
		if err != nil {
			return err
		}
		if stored, err = settings.PutIfAbsent(ctx, checkSetting, sealed, clock.Now()); err != nil {
			return err
		}
	}
	plain, err := sealer.Open(stored, checkSetting)
	if errors.Is(err, app.ErrSealBroken) || (err == nil && string(plain) != string(checkPlain)) {
		return ErrWrongSecretKey
	}
	return err
}

// StoredSecretKey returns the secret key kept in the database, making it
// with generate the first time: for PostgreSQL without
// GATEHOUSE_SECRET_KEY_FILE (a database dump then holds the key too).
func StoredSecretKey(ctx context.Context, settings app.Settings, clock app.Clock, generate func() ([]byte, error)) ([]byte, error) {
	key, err := settings.Get(ctx, secretSetting)
	if err != nil || key != nil {
		return key, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate the secret key: %w", err)
	}
	return settings.PutIfAbsent(ctx, secretSetting, fresh, clock.Now())
}

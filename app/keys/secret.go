package keys

//go:generate go tool mockgen -destination=../mock/keys.go -package=mock github.com/gatehouse-auth/gatehouse/app/keys Settings,KeyInstaller

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	"use the secret key backed up with this database (GATEHOUSE_SECRET_KEY_FILE, or secret.key in the data directory when that is unset)")

// CheckSecretKey makes sure that sealer's key is the one the stored secrets
// were sealed with: the first instance stores a sealed check value, and
// every later one must open it.
func CheckSecretKey(ctx context.Context, settings Settings, sealer app.Sealer, clock app.Clock) error {
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

// SecretKeyKeeper keeps the secret key when the operator gives none
// (GATEHOUSE_SECRET_KEY_FILE unset): a file beside the embedded store, a
// setting of PostgreSQL.
type SecretKeyKeeper interface {
	// Load returns the kept key, or nil when none is kept.
	Load(ctx context.Context) ([]byte, error)
	// Create makes a new key, keeps it and returns the kept one: of
	// racing callers, all get the winner's.
	Create(ctx context.Context) ([]byte, error)
	// Where says where the key is kept (a file's path), for the operator.
	Where() string
}

// MissingSecretKeyError: the store holds secrets sealed under a secret
// key, and the key is not where it is kept (a database restored without
// its key file). No key is made: a new one could never open them.
type MissingSecretKeyError struct {
	// Expected is where the key was looked for.
	Expected string
}

func (e *MissingSecretKeyError) Error() string {
	return fmt.Sprintf("this database holds secrets sealed with a secret key, but there is no key at %s: "+
		"restore the secret key backed up with the database there, or set GATEHOUSE_SECRET_KEY_FILE to it. "+
		"No new key was made: it could not open them", e.Expected)
}

// KeptSecretKey returns the key keeper keeps. When it keeps none, it makes
// one only for a store that holds no sealed secret yet; otherwise it
// answers a *MissingSecretKeyError naming where the key was expected, and
// makes nothing.
func KeptSecretKey(ctx context.Context, settings Settings, ring app.SigningKeyRing, keeper SecretKeyKeeper) ([]byte, error) {
	key, err := keeper.Load(ctx)
	if err != nil || key != nil {
		return key, err
	}
	sealed, err := HoldsSealedSecrets(ctx, settings, ring)
	if err != nil {
		return nil, err
	}
	if sealed {
		return nil, &MissingSecretKeyError{Expected: keeper.Where()}
	}
	return keeper.Create(ctx)
}

// HoldsSealedSecrets reports whether the store may hold secrets sealed
// under a secret key: the check value (stored by the first instance,
// before it seals anything) or a generated signing key is there.
func HoldsSealedSecrets(ctx context.Context, settings Settings, ring app.SigningKeyRing) (bool, error) {
	check, err := settings.Get(ctx, checkSetting)
	if err != nil || check != nil {
		return check != nil, err
	}
	stored, err := ring.Keys(ctx)
	if err != nil {
		return false, err
	}
	for _, k := range stored {
		if len(k.Sealed) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// StoredSecretKey returns the secret key kept in the database, making it
// with generate the first time (see KeptSecretKey): for PostgreSQL without
// GATEHOUSE_SECRET_KEY_FILE (a database dump then holds the key too).
func StoredSecretKey(ctx context.Context, settings Settings, ring app.SigningKeyRing, clock app.Clock, generate func() ([]byte, error)) ([]byte, error) {
	return KeptSecretKey(ctx, settings, ring, settingsKeeper{settings: settings, clock: clock, generate: generate})
}

// settingsKeeper keeps the secret key in the shared settings.
type settingsKeeper struct {
	settings Settings
	clock    app.Clock
	generate func() ([]byte, error)
}

func (k settingsKeeper) Load(ctx context.Context) ([]byte, error) {
	return k.settings.Get(ctx, secretSetting)
}

func (k settingsKeeper) Create(ctx context.Context) ([]byte, error) {
	fresh, err := k.generate()
	if err != nil {
		return nil, fmt.Errorf("generate the secret key: %w", err)
	}
	return k.settings.PutIfAbsent(ctx, secretSetting, fresh, k.clock.Now())
}

func (settingsKeeper) Where() string {
	return "the database's settings (row secret_key)"
}

// Settings keeps small named values that every instance shares.
type Settings interface {
	// Get returns the value of name, or nil when none is stored.
	Get(ctx context.Context, name string) ([]byte, error)
	// PutIfAbsent stores value under name unless a value is stored, and
	// returns the stored one: of racing callers, all get the winner's.
	PutIfAbsent(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error)
}

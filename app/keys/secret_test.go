package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"go.uber.org/mock/gomock"
)

// The first instance stores a sealed check value; one whose key opens it
// starts; one with another key is stopped with an error that names the
// variable.
func TestCheckSecretKey(t *testing.T) {
	ctx := context.Background()
	ctrl := gomock.NewController(t)
	settings := mock.NewMockSettings(ctrl)
	sealer := apptest.Sealer{}
	clock := apptest.NewClock(apptest.T0)

	var stored []byte
	gomock.InOrder(
		settings.EXPECT().Get(ctx, "secret_key_check").Return(nil, nil),
		settings.EXPECT().PutIfAbsent(ctx, "secret_key_check", gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, _ string, v []byte, _ any) ([]byte, error) {
			stored = v
			return v, nil
		}),
	)
	if err := keys.CheckSecretKey(ctx, settings, sealer, clock); err != nil {
		t.Fatal(err)
	}
	settings.EXPECT().Get(ctx, "secret_key_check").DoAndReturn(func(context.Context, string) ([]byte, error) { return stored, nil })
	if err := keys.CheckSecretKey(ctx, settings, sealer, clock); err != nil {
		t.Fatalf("same key: %v", err)
	}
	settings.EXPECT().Get(ctx, "secret_key_check").Return([]byte("sealed under another key"), nil)
	err := keys.CheckSecretKey(ctx, settings, sealer, clock)
	if !errors.Is(err, keys.ErrWrongSecretKey) {
		t.Fatalf("other key: %v, want ErrWrongSecretKey", err)
	}
}

// Without a key file on PostgreSQL, the first instance makes the key and
// every instance then reads that one.
func TestStoredSecretKeyIsMadeOnce(t *testing.T) {
	ctx := context.Background()
	ctrl := gomock.NewController(t)
	settings := mock.NewMockSettings(ctrl)
	ring := mock.NewMockSigningKeyRing(ctrl)
	clock := apptest.NewClock(apptest.T0)
	gomock.InOrder(
		settings.EXPECT().Get(ctx, "secret_key").Return(nil, nil),
		settings.EXPECT().Get(ctx, "secret_key_check").Return(nil, nil),
		ring.EXPECT().Keys(ctx).Return(nil, nil),
		settings.EXPECT().PutIfAbsent(ctx, "secret_key", []byte("fresh"), apptest.T0).Return([]byte("winner"), nil),
	)
	k, err := keys.StoredSecretKey(ctx, settings, ring, clock, func() ([]byte, error) { return []byte("fresh"), nil })
	if err != nil || string(k) != "winner" {
		t.Fatalf("key %q, %v; want the winner's", k, err)
	}
	settings.EXPECT().Get(ctx, "secret_key").Return([]byte("winner"), nil)
	k, err = keys.StoredSecretKey(ctx, settings, ring, clock, func() ([]byte, error) { t.Fatal("made twice"); return nil, nil })
	if err != nil || string(k) != "winner" {
		t.Fatalf("key %q, %v", k, err)
	}
}

// keeper is a SecretKeyKeeper that records what it was asked.
type keeper struct {
	kept    []byte
	created int
}

func (k *keeper) Load(context.Context) ([]byte, error) { return k.kept, nil }
func (k *keeper) Create(context.Context) ([]byte, error) {
	k.created++
	k.kept = []byte("fresh key")
	return k.kept, nil
}
func (k *keeper) Where() string { return "/data/secret.key" }

// A store that holds sealed secrets (its check value, or a generated
// signing key) and no kept key is a restore without its key: nothing is
// made, and the error names where the key was expected. A store with
// nothing sealed gets a new key; a kept key is used as it is.
func TestKeptSecretKeyIsNeverMadeBesideSealedSecrets(t *testing.T) {
	ctx := context.Background()
	sealedKey := signingkey.NewCurrent(signingkey.RS256, "k1", []byte("sealed key"), apptest.T0)
	for _, c := range []struct {
		name   string
		kept   []byte
		check  []byte
		ring   signingkey.Ring
		wantOK bool
	}{
		{"fresh store", nil, nil, nil, true},
		{"kept key", []byte("the key"), []byte("check"), signingkey.Ring{sealedKey}, true},
		{"restored without the key: check value", nil, []byte("check"), nil, false},
		{"restored without the key or the settings: a sealed signing key", nil, nil, signingkey.Ring{sealedKey}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			settings := mock.NewMockSettings(ctrl)
			ring := mock.NewMockSigningKeyRing(ctrl)
			if c.kept == nil {
				settings.EXPECT().Get(ctx, "secret_key_check").Return(c.check, nil)
				if c.check == nil {
					ring.EXPECT().Keys(ctx).Return(c.ring, nil)
				}
			}
			k := &keeper{kept: c.kept}
			key, err := keys.KeptSecretKey(ctx, settings, ring, k)
			if c.wantOK {
				if err != nil || len(key) == 0 {
					t.Fatalf("key %q, %v", key, err)
				}
				if want := map[bool]int{true: 0, false: 1}[c.kept != nil]; k.created != want {
					t.Fatalf("made %d keys, want %d", k.created, want)
				}
				return
			}
			var missing *keys.MissingSecretKeyError
			if !errors.As(err, &missing) || key != nil {
				t.Fatalf("key %q, %v; want a MissingSecretKeyError", key, err)
			}
			if k.created != 0 {
				t.Fatal("a key was made beside sealed secrets")
			}
			if !strings.Contains(err.Error(), "/data/secret.key") || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY_FILE") {
				t.Fatalf("the error does not name the file expected: %v", err)
			}
		})
	}
}

package keys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"go.uber.org/mock/gomock"
)

// The first instance stores a sealed check value; one whose key opens it
// starts; one with another key is stopped with an error that names the
// variable.
func TestCheckSecretKey(t *testing.T) {
	ctx := context.Background()
	ctrl := gomock.NewController(t)
	settings := mock.NewMockSettings(ctrl)
	sealer := fakeSealer(ctrl)
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
	clock := apptest.NewClock(apptest.T0)
	settings.EXPECT().Get(ctx, "secret_key").Return(nil, nil)
	settings.EXPECT().PutIfAbsent(ctx, "secret_key", []byte("fresh"), apptest.T0).Return([]byte("winner"), nil)
	k, err := keys.StoredSecretKey(ctx, settings, clock, func() ([]byte, error) { return []byte("fresh"), nil })
	if err != nil || string(k) != "winner" {
		t.Fatalf("key %q, %v; want the winner's", k, err)
	}
	settings.EXPECT().Get(ctx, "secret_key").Return([]byte("winner"), nil)
	k, err = keys.StoredSecretKey(ctx, settings, clock, func() ([]byte, error) { t.Fatal("made twice"); return nil, nil })
	if err != nil || string(k) != "winner" {
		t.Fatalf("key %q, %v", k, err)
	}
}

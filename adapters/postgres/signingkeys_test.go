package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
)

// The one test of the package that touches signing_keys.
func TestSigningKeyGetOrCreateRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := postgres.NewSigningKeyStore(pgtest.New(t))
	const n = 10
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := store.GetOrCreate(ctx, func() ([]byte, error) { return fmt.Appendf(nil, "key-%d", i), nil })
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i := range keys {
		if len(keys[i]) == 0 || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("instance %d got %q, instance 0 got %q", i, keys[i], keys[0])
		}
	}
	// Once stored, generate is not called.
	k, err := store.GetOrCreate(ctx, func() ([]byte, error) { return nil, errors.New("must not be called") })
	if err != nil || !bytes.Equal(k, keys[0]) {
		t.Fatalf("GetOrCreate = %q, %v", k, err)
	}
}

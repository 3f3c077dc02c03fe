package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func init() {
	register("SigningKeys/ConcurrentGetOrCreateAgree", testSigningKeysGetOrCreate)
}

// Instances racing to create the key all return one key, the winner's;
// once it is stored, generate is not called again. Other tests of the
// adapter may have stored the key already: then every call returns that
// one.
func testSigningKeysGetOrCreate(t *testing.T, s Store) {
	ctx := testCtx(t)
	const n = 10
	keys := make([][]byte, n)
	generated := make([][]byte, n)
	race(n, func(i int) {
		k, err := s.SigningKeys.GetOrCreate(ctx, func() ([]byte, error) {
			generated[i] = fmt.Appendf(nil, "key-%d-%s", i, rateKey())
			return generated[i], nil
		})
		if err != nil {
			t.Error(err)
		}
		keys[i] = k
	})
	if t.Failed() {
		t.FailNow()
	}
	for i := range keys {
		if len(keys[i]) == 0 || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("instance %d got %q, instance 0 got %q", i, keys[i], keys[0])
		}
	}
	for i, g := range generated {
		if g != nil && !bytes.Equal(g, keys[0]) && bytes.Equal(keys[i], g) {
			t.Fatalf("instance %d returned its own key, not the stored one", i)
		}
	}
	k, err := s.SigningKeys.GetOrCreate(ctx, func() ([]byte, error) { return nil, errors.New("must not be called") })
	if err != nil || !bytes.Equal(k, keys[0]) {
		t.Fatalf("GetOrCreate once stored = %q, %v; want %q", k, err, keys[0])
	}
}

package secretbox_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/secretbox"
	"github.com/gatehouse-auth/gatehouse/app"
)

func box(t *testing.T, b byte) *secretbox.Box {
	t.Helper()
	x, err := secretbox.New(bytes.Repeat([]byte{b}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestSealOpen(t *testing.T) {
	a, b := box(t, 1), box(t, 2)
	plain := []byte("an ed25519 seed of 32 bytes.....")
	s1, err := a.Seal(plain, "signing-key:k1")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := a.Seal(plain, "signing-key:k1")
	if bytes.Equal(s1, s2) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if bytes.Contains(s1, plain) {
		t.Fatal("the sealed value holds the plain text")
	}
	if got, err := a.Open(s1, "signing-key:k1"); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flipped := append([]byte(nil), s1...)
	flipped[len(flipped)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"another key":   func() ([]byte, error) { return b.Open(s1, "signing-key:k1") },
		"another label": func() ([]byte, error) { return a.Open(s1, "signing-key:k2") },
		"altered":       func() ([]byte, error) { return a.Open(flipped, "signing-key:k1") },
		"short":         func() ([]byte, error) { return a.Open(s1[:10], "signing-key:k1") },
		"empty":         func() ([]byte, error) { return a.Open(nil, "signing-key:k1") },
	} {
		if got, err := try(); !errors.Is(err, app.ErrSealBroken) || got != nil {
			t.Errorf("%s: %q, %v; want ErrSealBroken", name, got, err)
		}
	}
	if _, err := secretbox.New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "secret.key")
	const n = 8
	keys := make([][]byte, n)
	made := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			keys[i], made[i], err = secretbox.LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if made[i] {
			creators++
		}
		if !bytes.Equal(keys[i], keys[0]) || len(keys[i]) != secretbox.KeySize {
			t.Fatalf("racers disagree on the key")
		}
	}
	if creators != 1 {
		t.Fatalf("%d processes made the file, want 1", creators)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "data", ".secret-key-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if got, err := secretbox.ReadKeyFile(path); err != nil || !bytes.Equal(got, keys[0]) {
		t.Fatalf("ReadKeyFile = %x, %v", got, err)
	}
	raw := filepath.Join(dir, "raw")
	_ = os.WriteFile(raw, bytes.Repeat([]byte{9}, 32), 0o600)
	if got, err := secretbox.ReadKeyFile(raw); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{9}, 32)) {
		t.Fatalf("raw key file: %x, %v", got, err)
	}
	bad := filepath.Join(dir, "bad")
	_ = os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600)
	if _, err := secretbox.ReadKeyFile(bad); err == nil {
		t.Fatal("a short key was accepted")
	}
}

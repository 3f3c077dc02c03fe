package secretbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EncodeKey is the text form of a secret key, as key files hold it:
// standard base64 and a newline.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) + "\n" }

// ReadKeyFile reads a secret key file: the base64 text EncodeKey writes
// (surrounding space ignored) or exactly 32 raw bytes.
func ReadKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the secret key: %w", err)
	}
	if len(raw) == KeySize {
		return raw, nil
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("the secret key in %s is not %d bytes of base64 (make one with `gatehouse keygen --secret`)", path, KeySize)
	}
	return key, nil
}

// LoadOrCreateKeyFile reads the key file at path, or makes it (mode 0600,
// its directory 0700) with a new random key when it does not exist, and
// reports whether it made it. The file appears whole or not at all (a
// temporary file hard-linked into place), so processes racing to make it
// all end up with the winner's key.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	if key, err := ReadKeyFile(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("make the secret key's directory: %w", err)
	}
	fresh, err := NewKey()
	if err != nil {
		return nil, false, err
	}
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("write the secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return nil, false, fmt.Errorf("write the secret key: %w", err)
	}
	_, werr := tmp.WriteString(EncodeKey(fresh))
	serr := tmp.Sync()
	if err := errors.Join(werr, serr, tmp.Close()); err != nil {
		return nil, false, fmt.Errorf("write the secret key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			key, err := ReadKeyFile(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("write the secret key: %w", err)
	}
	return fresh, true, nil
}

// KeyFile keeps a secret key in the file at Path (the embedded store's
// secret.key beside the database when GATEHOUSE_SECRET_KEY_FILE is unset).
// It is the keys.SecretKeyKeeper of that file.
type KeyFile struct{ Path string }

// Load reads the key, or nil when the file does not exist.
func (f KeyFile) Load(context.Context) ([]byte, error) {
	key, err := ReadKeyFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return key, err
}

// Create makes the file with a new key (see LoadOrCreateKeyFile).
func (f KeyFile) Create(context.Context) ([]byte, error) {
	key, _, err := LoadOrCreateKeyFile(f.Path)
	return key, err
}

// Where is the file's path.
func (f KeyFile) Where() string { return f.Path }

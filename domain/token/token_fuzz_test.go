package token_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// FuzzParseToken: Parse never panics; it accepts exactly the strings of 43
// base64url characters (which decode to 32 bytes), and its hash is the hash
// of the string as given. Everything else is ErrInvalidToken, the same
// answer as an unknown token.
func FuzzParseToken(f *testing.F) {
	valid := base64.RawURLEncoding.EncodeToString(make([]byte, token.SecretBytes))
	for _, s := range []string{
		valid,
		strings.Repeat("A", 43),
		strings.Repeat("_", 43),
		strings.Repeat("-", 43),
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP_",
		strings.Repeat("A", 42),
		strings.Repeat("A", 44),
		strings.Repeat("A", 42) + "=",
		strings.Repeat("A", 42) + "\n",
		strings.Repeat("A", 21) + "\r\n" + strings.Repeat("A", 20),
		strings.Repeat("A", 42) + "+",
		strings.Repeat("A", 42) + "/",
		strings.Repeat("A", 42) + "\x00",
		strings.Repeat("A", 41) + "é",
		strings.Repeat("A", 42) + "\xff",
		" " + strings.Repeat("A", 42),
		base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := token.Parse(raw)
		if err != nil {
			if err != domain.ErrInvalidToken {
				t.Fatalf("Parse(%q): %v, want ErrInvalidToken", raw, err)
			}
			if h != (token.Hash{}) {
				t.Fatalf("Parse(%q) failed with a non-zero hash", raw)
			}
			if wellFormed(raw) {
				t.Fatalf("Parse(%q) refused a well-formed token", raw)
			}
			return
		}
		if !wellFormed(raw) {
			t.Fatalf("Parse(%q) accepted a malformed token", raw)
		}
		b, derr := base64.RawURLEncoding.DecodeString(raw)
		if derr != nil || len(b) != token.SecretBytes {
			t.Fatalf("Parse(%q) accepted what does not decode to %d bytes (%d, %v)", raw, token.SecretBytes, len(b), derr)
		}
		if h != token.HashOf(token.Secret(raw)) {
			t.Fatalf("Parse(%q) hash differs from HashOf", raw)
		}
	})
}

// wellFormed is the specification: exactly 43 characters of the base64url
// alphabet.
func wellFormed(s string) bool {
	if len(s) != token.EncodedLen || token.EncodedLen != 43 {
		return false
	}
	for _, c := range []byte(s) {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(c)) {
			return false
		}
	}
	return true
}

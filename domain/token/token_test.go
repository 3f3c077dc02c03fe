package token_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestNewSecret(t *testing.T) {
	src := bytes.Repeat([]byte{0xfb, 0xff, 0x01, 0x7e}, 8) // 32 bytes, gives '-' and '_'
	s, h, err := token.NewSecret(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	raw := s.Reveal()
	if len(raw) != 43 || token.EncodedLen != 43 {
		t.Fatalf("len %d, EncodedLen %d", len(raw), token.EncodedLen)
	}
	if raw != base64.RawURLEncoding.EncodeToString(src) {
		t.Fatalf("secret %q is not base64url of the random bytes", raw)
	}
	if strings.ContainsAny(raw, "+/=") {
		t.Fatalf("secret %q is not url-safe unpadded", raw)
	}
	if h != token.Hash(sha256.Sum256([]byte(raw))) || h != token.HashOf(s) {
		t.Fatal("hash is not sha256 of the encoded secret")
	}
	if ph, err := token.Parse(raw); err != nil || ph != h {
		t.Fatalf("Parse(NewSecret) = %x, %v", ph, err)
	}

	// 32 bytes are read, no more.
	r := bytes.NewReader(make([]byte, 40))
	if _, _, err := token.NewSecret(r); err != nil || r.Len() != 8 {
		t.Fatalf("read %d bytes, err %v", 40-r.Len(), err)
	}
	// Short or failing random sources are errors, never weak secrets.
	if s, _, err := token.NewSecret(bytes.NewReader(make([]byte, 31))); err == nil || s != "" {
		t.Fatalf("short read gave %q, %v", s.Reveal(), err)
	}
	if _, _, err := token.NewSecret(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Fatal("failing reader accepted")
	}
	// Two secrets from crypto/rand differ.
	a, _, _ := token.NewSecret(rand.Reader)
	b, _, _ := token.NewSecret(rand.Reader)
	if a == b {
		t.Fatal("two secrets are equal")
	}
}

func TestParseRefuses(t *testing.T) {
	valid := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, c := range []struct{ name, raw string }{
		{"empty", ""},
		{"42 chars", valid[:42]},
		{"44 chars", valid + "A"},
		{"padded", valid[:42] + "="},
		{"std alphabet +", "+" + valid[1:]},
		{"std alphabet /", "/" + valid[1:]},
		{"space", " " + valid[1:]},
		{"dot", "." + valid[1:]},
		{"non-ascii", "\u00e9" + valid[2:]},
		{"NUL", "\x00" + valid[1:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := token.Parse(c.raw); !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("Parse(%q) err = %v, want ErrInvalidToken", c.raw, err)
			}
		})
	}
}

// Parse promises "43 base64url characters" before any lookup. The standard
// base64 decoder silently skips CR and LF, so 42 characters and a newline
// pass the check today.
func TestParseRefusesNewlines(t *testing.T) {
	valid := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, raw := range []string{valid[:42] + "\n", "\r" + valid[1:], valid[:20] + "\n" + valid[21:]} {
		if _, err := token.Parse(raw); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("Parse(%q) err = %v, want ErrInvalidToken", raw, err)
		}
	}
}

func TestSecretRedacts(t *testing.T) {
	s := token.Secret("s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-x")
	for _, f := range []string{"%v", "%s", "%#v", "%+v", "%q"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "s3cr3t") {
			t.Errorf("%s leaks: %s", f, out)
		}
	}
	if out := fmt.Sprintf("%#v", struct{ S token.Secret }{s}); strings.Contains(out, "s3cr3t") {
		t.Errorf("nested %%#v leaks: %s", out)
	}
	if s.Reveal() != string(s) {
		t.Fatal("Reveal")
	}
}

func TestIssue(t *testing.T) {
	uid := uuid.New()
	var h token.Hash
	h[0] = 1
	if _, err := token.Issue(h, uuid.Nil, token.PurposeVerifyEmail, t0, time.Hour); err == nil {
		t.Error("nil user accepted")
	}
	if _, err := token.Issue(h, uid, token.Purpose("login"), t0, time.Hour); err == nil {
		t.Error("unknown purpose accepted")
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := token.Issue(h, uid, token.PurposeVerifyEmail, t0, ttl); err == nil {
			t.Errorf("ttl %v accepted", ttl)
		}
	}
	tok, err := token.Issue(h, uid, token.PurposeResetPassword, t0, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Hash() != h || tok.UserID() != uid || tok.Purpose() != token.PurposeResetPassword ||
		!tok.CreatedAt().Equal(t0) || !tok.ExpiresAt().Equal(t0.Add(30*time.Minute)) || tok.UsedAt() != nil {
		t.Fatal("Issue lost a field")
	}
}

func TestUse(t *testing.T) {
	uid := uuid.New()
	exp := t0.Add(time.Hour)
	used := t0.Add(time.Minute)
	for _, c := range []struct {
		name    string
		tok     *token.OneTimeToken
		purpose token.Purpose
		now     time.Time
		ok      bool
	}{
		{"fresh", token.Rehydrate(token.Hash{}, uid, token.PurposeVerifyEmail, t0, exp, nil, "", ""), token.PurposeVerifyEmail, t0, true},
		{"just before expiry", token.Rehydrate(token.Hash{}, uid, token.PurposeVerifyEmail, t0, exp, nil, "", ""), token.PurposeVerifyEmail, exp.Add(-time.Nanosecond), true},
		{"exactly at expiry", token.Rehydrate(token.Hash{}, uid, token.PurposeVerifyEmail, t0, exp, nil, "", ""), token.PurposeVerifyEmail, exp, false},
		{"after expiry", token.Rehydrate(token.Hash{}, uid, token.PurposeVerifyEmail, t0, exp, nil, "", ""), token.PurposeVerifyEmail, exp.Add(time.Second), false},
		{"already used", token.Rehydrate(token.Hash{}, uid, token.PurposeVerifyEmail, t0, exp, &used, "", ""), token.PurposeVerifyEmail, t0.Add(2 * time.Minute), false},
		{"wrong purpose", token.Rehydrate(token.Hash{}, uid, token.PurposeVerifyEmail, t0, exp, nil, "", ""), token.PurposeResetPassword, t0, false},
		{"reset used as verify", token.Rehydrate(token.Hash{}, uid, token.PurposeResetPassword, t0, exp, nil, "", ""), token.PurposeVerifyEmail, t0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := c.tok.UsedAt()
			err := c.tok.Use(c.purpose, c.now)
			if c.ok {
				if err != nil {
					t.Fatalf("Use: %v", err)
				}
				if c.tok.UsedAt() == nil || !c.tok.UsedAt().Equal(c.now) {
					t.Fatalf("UsedAt = %v", c.tok.UsedAt())
				}
				return
			}
			if !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("Use err = %v, want ErrInvalidToken", err)
			}
			if c.tok.UsedAt() != before {
				t.Fatal("a refused Use changed UsedAt")
			}
		})
	}
}

func TestUseTwice(t *testing.T) {
	tok, err := token.Issue(token.Hash{1}, uuid.New(), token.PurposeVerifyEmail, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Use(token.PurposeVerifyEmail, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := tok.Use(token.PurposeVerifyEmail, t0.Add(2*time.Minute)); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("second Use = %v", err)
	}
	if !tok.UsedAt().Equal(t0.Add(time.Minute)) {
		t.Fatal("second Use moved UsedAt")
	}
}

// An invitation is a purpose of its own that sets a password, as a reset
// does; an invitation token is not usable as a reset, nor the reverse.
func TestInvitePurpose(t *testing.T) {
	var h token.Hash
	h[0] = 2
	tok, err := token.Issue(h, uuid.New(), token.PurposeInvite, t0, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Usable(token.PurposeResetPassword, t0); err == nil {
		t.Error("an invitation is usable as a reset")
	}
	if err := tok.Use(token.PurposeInvite, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[token.Purpose]bool{
		token.PurposeInvite: true, token.PurposeResetPassword: true,
		token.PurposeVerifyEmail: false, token.PurposeChangeEmail: false, token.Purpose("login"): false,
	} {
		if p.SetsPassword() != want {
			t.Errorf("%q.SetsPassword() = %v", p, !want)
		}
	}
}

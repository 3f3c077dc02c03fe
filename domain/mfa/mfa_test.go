package mfa_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

func TestStepAndAcceptedSteps(t *testing.T) {
	for _, c := range []struct {
		unix int64
		step int64
	}{{0, 0}, {29, 0}, {30, 1}, {59, 1}, {1111111109, 37037036}, {1234567890, 41152263}, {20000000000, 666666666}} {
		if got := mfa.Step(time.Unix(c.unix, 0)); got != c.step {
			t.Errorf("Step(%d) = %d, want %d", c.unix, got, c.step)
		}
	}
	got := mfa.AcceptedSteps(time.Unix(1111111109, 0))
	if fmt.Sprint(got) != "[37037036 37037035 37037037]" {
		t.Errorf("AcceptedSteps = %v: want the step itself first, then one either side", got)
	}
}

func TestNormalizeTOTPCode(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"012345", "012345", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"１２３４５６", "", false}, // full-width digits are not ASCII
		{"", "", false},
	} {
		got, ok := mfa.NormalizeTOTPCode(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeTOTPCode(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// A set is ten distinct codes of 80 random bits, shown in four groups, and
// each parses back (whatever the case, spaces and dashes) to its hash.
func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := mfa.NewRecoveryCodes(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != mfa.RecoveryCodeCount || len(hashes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	if mfa.RecoveryCodeBytes*8 < 80 {
		t.Fatalf("a code has %d bits, want at least 80", mfa.RecoveryCodeBytes*8)
	}
	shape := regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`)
	seen := map[token.Hash]bool{}
	for i, c := range codes {
		if !shape.MatchString(c.Reveal()) {
			t.Fatalf("code %q has not the shape XXXX-XXXX-XXXX-XXXX", c.Reveal())
		}
		if fmt.Sprint(c) != "[redacted]" || fmt.Sprintf("%#v", c) != "[redacted]" {
			t.Fatal("a recovery code prints itself")
		}
		seen[hashes[i]] = true
		for _, typed := range []string{c.Reveal(), strings.ToLower(c.Reveal()), strings.ReplaceAll(c.Reveal(), "-", ""), " " + strings.ReplaceAll(c.Reveal(), "-", " ") + " "} {
			h, ok := mfa.ParseRecoveryCode(typed)
			if !ok || h != hashes[i] {
				t.Fatalf("ParseRecoveryCode(%q) = %x, %v; want the hash of the code", typed, h, ok)
			}
		}
	}
	if len(seen) != mfa.RecoveryCodeCount {
		t.Fatal("codes of one set repeat")
	}
	for _, bad := range []string{"", "ABCD-EFGH-JKLM", "ABCD-EFGH-JKLM-NPQR-S", "ABCD-EFGH-JKLM-NPQ1", "123456", "ABCD_EFGH_JKLM_NPQR"} {
		if _, ok := mfa.ParseRecoveryCode(bad); ok {
			t.Errorf("ParseRecoveryCode(%q) accepted it", bad)
		}
	}
}

func TestEncodeSecret(t *testing.T) {
	secret := []byte("12345678901234567890")
	if got := mfa.EncodeSecret(secret); got != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Fatalf("EncodeSecret = %q", got)
	}
	s, err := mfa.NewSecret(rand.Reader)
	if err != nil || len(s) != mfa.SecretBytes {
		t.Fatalf("NewSecret = %d bytes, %v", len(s), err)
	}
}

func TestLoginTokenUsable(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	user := uuid.New()
	b := mfa.BindingOf(user, "$argon2id$h", "192.0.2.1", "agent")
	fresh := func() *mfa.LoginToken {
		lt, err := mfa.IssueLoginToken(token.Hash{1}, user, b, t0)
		if err != nil {
			t.Fatal(err)
		}
		return lt
	}
	used := t0.Add(time.Second)
	for _, c := range []struct {
		name string
		lt   *mfa.LoginToken
		at   time.Time
		b    mfa.Binding
		ok   bool
	}{
		{"fresh", fresh(), t0.Add(mfa.LoginTokenTTL - time.Microsecond), b, true},
		{"expired", fresh(), t0.Add(mfa.LoginTokenTTL), b, false},
		{"four wrong codes", mfa.RehydrateLoginToken(token.Hash{1}, user, b, t0, t0.Add(mfa.LoginTokenTTL), mfa.MaxCodeAttempts-1, nil), t0, b, true},
		{"burned", mfa.RehydrateLoginToken(token.Hash{1}, user, b, t0, t0.Add(mfa.LoginTokenTTL), mfa.MaxCodeAttempts, nil), t0, b, false},
		{"used", mfa.RehydrateLoginToken(token.Hash{1}, user, b, t0, t0.Add(mfa.LoginTokenTTL), 0, &used), t0, b, false},
		{"other client", fresh(), t0, mfa.BindingOf(user, "$argon2id$h", "192.0.2.2", "agent"), false},
		{"other agent", fresh(), t0, mfa.BindingOf(user, "$argon2id$h", "192.0.2.1", "agent2"), false},
		{"password changed since", fresh(), t0, mfa.BindingOf(user, "$argon2id$new", "192.0.2.1", "agent"), false},
	} {
		err := c.lt.Usable(c.at, c.b)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, mfa.ErrLoginTokenInvalid)) {
			t.Errorf("%s: Usable = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	if mfa.LoginTokenTTL != 5*time.Minute || mfa.MaxCodeAttempts != 5 {
		t.Fatal("the login token's rules changed: update SPEC, README and the threat model")
	}
}

func TestBindingFieldsDoNotRunTogether(t *testing.T) {
	u := uuid.New()
	if mfa.BindingOf(u, "h", "1.2.3.4", "x") == mfa.BindingOf(u, "h", "1.2.3.4x", "") {
		t.Fatal("ip and user agent run together")
	}
	if !mfa.BindingOf(u, "h", "ip", "ua").Equal(mfa.BindingOf(u, "h", "ip", "ua")) {
		t.Fatal("a binding differs from itself")
	}
}

func TestFactor(t *testing.T) {
	if _, err := mfa.NewPending(uuid.Nil, []byte("sealed"), time.Now()); err == nil {
		t.Error("a factor of no user")
	}
	if _, err := mfa.NewPending(uuid.New(), nil, time.Now()); err == nil {
		t.Error("a factor without a secret")
	}
	f, err := mfa.NewPending(uuid.New(), []byte("sealed"), time.Now())
	if err != nil || f.Enabled() || f.LastUsedStep() != nil || !bytes.Equal(f.SealedSecret(), []byte("sealed")) {
		t.Fatalf("NewPending = %+v, %v", f, err)
	}
	at, step := time.Now(), int64(7)
	if !mfa.RehydrateTOTP(f.UserID(), f.SealedSecret(), f.CreatedAt(), &at, &step).Enabled() {
		t.Fatal("a confirmed factor is not enabled")
	}
	if mfa.SealLabel(f.UserID()) != "totp:"+f.UserID().String() {
		t.Fatal("seal label")
	}
}

func TestLoginTokenFirstFactor(t *testing.T) {
	user := uuid.New()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pwd, err := mfa.IssueLoginToken(token.Hash{1}, user, mfa.Binding{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := pwd.FirstFactor(); !slices.Equal(got, []string{"pwd"}) {
		t.Errorf("after a password: %v", got)
	}
	hwk, err := mfa.IssueLoginTokenAfter(token.Hash{2}, user, mfa.Binding{}, []string{"hwk"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := hwk.FirstFactor(); !slices.Equal(got, []string{"hwk"}) {
		t.Errorf("after a passkey: %v", got)
	}
	if _, err := mfa.IssueLoginTokenAfter(token.Hash{3}, user, mfa.Binding{}, nil, now); err == nil {
		t.Error("a login token after nothing")
	}
}

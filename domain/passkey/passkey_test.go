package passkey_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/google/uuid"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		ok        bool
	}{
		{"Laptop", "Laptop", true},
		{"  YubiKey 5  ", "YubiKey 5", true},
		{"Téléphone 📱", "Téléphone 📱", true},
		{strings.Repeat("é", passkey.MaxNameLength), strings.Repeat("é", passkey.MaxNameLength), true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("a", passkey.MaxNameLength+1), "", false},
		{"tab\there", "", false},
		{"bad\xffutf8", "", false},
		{"line\nbreak", "", false},
	} {
		got, err := passkey.ParseName(tc.raw)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseName(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, domain.Validation()) {
			t.Errorf("ParseName(%q) = %q, %v; want a validation error", tc.raw, got, err)
		}
	}
	if n := passkey.DefaultName(t0); n != "Passkey 2026-12-07" {
		t.Errorf("DefaultName = %q", n)
	}
}

func newCredential(t *testing.T, count uint32) *passkey.Credential {
	t.Helper()
	c, err := passkey.New(uuid.New(), uuid.New(), "Laptop", passkey.Registration{CredentialID: []byte{1, 2, 3}, PublicKey: []byte{4, 5}, SignCount: count}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The counter rule of WebAuthn (§7.2, step 21): when either counter is
// not zero, the new one must be above the stored one.
func TestUsedCounter(t *testing.T) {
	for _, tc := range []struct {
		stored, sent uint32
		cloned       bool
	}{
		{0, 0, false}, // an authenticator without a counter
		{0, 1, false},
		{5, 6, false},
		{5, 100, false},
		{5, 5, true},
		{5, 4, true},
		{5, 0, true},
	} {
		c := newCredential(t, tc.stored)
		at := t0.Add(time.Hour)
		err := c.Used(passkey.Assertion{SignCount: tc.sent, UserVerified: true, BackupState: true}, at)
		if tc.cloned {
			if !errors.Is(err, passkey.ErrCloned) {
				t.Errorf("stored %d, sent %d: %v, want ErrCloned", tc.stored, tc.sent, err)
			}
			if c.SignCount() != tc.stored || c.LastUsedAt() != nil || c.Flags().BackupState {
				t.Errorf("stored %d, sent %d: a refused use changed the passkey", tc.stored, tc.sent)
			}
			continue
		}
		if err != nil {
			t.Errorf("stored %d, sent %d: %v", tc.stored, tc.sent, err)
			continue
		}
		if c.SignCount() != tc.sent || c.LastUsedAt() == nil || !c.LastUsedAt().Equal(at) || !c.Flags().BackupState {
			t.Errorf("stored %d, sent %d: counter %d, last used %v, flags %+v", tc.stored, tc.sent, c.SignCount(), c.LastUsedAt(), c.Flags())
		}
	}
}

func TestRemovable(t *testing.T) {
	if err := passkey.Removable(false, 0); !errors.Is(err, passkey.ErrLastWayToSignIn) {
		t.Errorf("no password, no other passkey: %v", err)
	}
	for _, tc := range []struct {
		pw     bool
		others int
	}{{true, 0}, {false, 1}, {true, 3}} {
		if err := passkey.Removable(tc.pw, tc.others); err != nil {
			t.Errorf("password %v, %d others: %v", tc.pw, tc.others, err)
		}
	}
}

func TestNewRefusesIncomplete(t *testing.T) {
	good := passkey.Registration{CredentialID: []byte{1}, PublicKey: []byte{2}}
	for name, tc := range map[string]struct {
		id, user uuid.UUID
		n        string
		r        passkey.Registration
	}{
		"nil id":        {uuid.Nil, uuid.New(), "a", good},
		"nil user":      {uuid.New(), uuid.Nil, "a", good},
		"no name":       {uuid.New(), uuid.New(), "", good},
		"no credential": {uuid.New(), uuid.New(), "a", passkey.Registration{PublicKey: []byte{2}}},
		"no key":        {uuid.New(), uuid.New(), "a", passkey.Registration{CredentialID: []byte{1}}},
	} {
		if _, err := passkey.New(tc.id, tc.user, tc.n, tc.r, t0); err == nil {
			t.Errorf("%s: made a passkey", name)
		}
	}
}

func TestChallenge(t *testing.T) {
	user := uuid.New()
	reg, err := passkey.NewChallenge(uuid.New(), user, passkey.PurposeRegister, []byte(`{}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	if !reg.ExpiresAt().Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("expires at %v", reg.ExpiresAt())
	}
	if err := reg.Answerable(passkey.PurposeRegister, user, t0.Add(passkey.ChallengeTTL-time.Second)); err != nil {
		t.Errorf("within its life: %v", err)
	}
	for name, tc := range map[string]struct {
		p    passkey.Purpose
		user uuid.UUID
		at   time.Time
	}{
		"expired":       {passkey.PurposeRegister, user, t0.Add(passkey.ChallengeTTL)},
		"other user":    {passkey.PurposeRegister, uuid.New(), t0},
		"other purpose": {passkey.PurposeLogin, uuid.Nil, t0},
	} {
		if err := reg.Answerable(tc.p, tc.user, tc.at); !errors.Is(err, passkey.ErrChallengeInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	login, err := passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeLogin, []byte(`{}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := login.Answerable(passkey.PurposeLogin, uuid.Nil, t0); err != nil {
		t.Errorf("sign-in: %v", err)
	}
	if _, err := passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeRegister, []byte(`{}`), t0); err == nil {
		t.Error("a registration without its user")
	}
	if _, err := passkey.NewChallenge(uuid.New(), user, passkey.PurposeLogin, []byte(`{}`), t0); err == nil {
		t.Error("a sign-in naming a user")
	}
	if _, err := passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeLogin, nil, t0); err == nil {
		t.Error("a challenge without state")
	}
}

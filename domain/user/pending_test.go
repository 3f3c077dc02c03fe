package user_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// A registration is pending until the address is verified (by any way) or
// the password logs in; an operator's account never is, nor becomes one
// when its address is unverified later.
func TestPendingRegistration(t *testing.T) {
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	email, err := user.ParseEmail("pending@example.com")
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() *user.User {
		u, err := user.NewRegistration(uuid.New(), email, "$argon2id$x", now)
		if err != nil {
			t.Fatal(err)
		}
		if !u.PendingRegistration() || u.Verified() {
			t.Fatalf("a new registration: pending %v verified %v", u.PendingRegistration(), u.Verified())
		}
		return u
	}
	other, _ := user.ParseEmail("other@example.com")
	for name, end := range map[string]func(u *user.User){
		"verified":      func(u *user.User) { u.VerifyEmail(now) },
		"logged in":     func(u *user.User) { u.LoggedIn(now) },
		"email changed": func(u *user.User) { _ = u.ChangeEmail(other, now) },
	} {
		u := fresh()
		end(u)
		if u.PendingRegistration() {
			t.Errorf("%s: still pending", name)
		}
		u.UnverifyEmail(now)
		if u.PendingRegistration() {
			t.Errorf("%s, then unverified: pending again", name)
		}
	}
	// Neither a password set nor a deactivation ends it.
	u := fresh()
	if err := u.SetPasswordHash("$argon2id$y", now); err != nil {
		t.Fatal(err)
	}
	u.Deactivate(now)
	if !u.PendingRegistration() {
		t.Error("a password set or a deactivation ended the pending registration")
	}
	op, err := user.New(uuid.New(), email, "$argon2id$x", now)
	if err != nil {
		t.Fatal(err)
	}
	if op.PendingRegistration() {
		t.Error("an operator's account is pending")
	}
	if _, err := user.NewRegistration(uuid.Nil, email, "$argon2id$x", now); err == nil {
		t.Error("NewRegistration took a nil id")
	}
	stored := user.Rehydrate(uuid.New(), email, "$argon2id$x", true, false, now, now, nil, nil)
	if stored.PendingRegistration() || !stored.RestorePending(true).PendingRegistration() {
		t.Error("RestorePending does not restore the mark")
	}
}

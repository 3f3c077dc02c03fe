package user_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestNewInvariants(t *testing.T) {
	id := uuid.MustParse("11111111-1111-4111-8111-111111111111")
	email := mustEmail(t, "a@x.io")
	for _, c := range []struct {
		name  string
		id    uuid.UUID
		email user.Email
		hash  string
	}{
		{"nil id", uuid.Nil, email, "$argon2id$..."},
		{"zero email", id, user.Email{}, "$argon2id$..."},
		{"empty hash", id, email, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if u, err := user.New(c.id, c.email, c.hash, t0); err == nil || u != nil {
				t.Fatalf("New = %v, %v; want an error", u, err)
			}
		})
	}

	u, err := user.New(id, email, "$argon2id$h", t0)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID() != id || u.Email() != email || u.PasswordHash() != "$argon2id$h" {
		t.Fatalf("fields: %v %v %q", u.ID(), u.Email(), u.PasswordHash())
	}
	if !u.Active() || u.Verified() || u.VerifiedAt() != nil {
		t.Fatalf("new user: active %v verified %v at %v", u.Active(), u.Verified(), u.VerifiedAt())
	}
	if !u.CreatedAt().Equal(t0) || !u.UpdatedAt().Equal(t0) {
		t.Fatalf("times %v %v", u.CreatedAt(), u.UpdatedAt())
	}
}

func TestVerifyEmailIdempotent(t *testing.T) {
	u, err := user.New(uuid.New(), mustEmail(t, "a@x.io"), "h", t0)
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	u.VerifyEmail(t1)
	if !u.Verified() || u.VerifiedAt() == nil || !u.VerifiedAt().Equal(t1) || !u.UpdatedAt().Equal(t1) {
		t.Fatalf("after verify: %v %v %v", u.Verified(), u.VerifiedAt(), u.UpdatedAt())
	}
	u.VerifyEmail(t2)
	if !u.VerifiedAt().Equal(t1) || !u.UpdatedAt().Equal(t1) {
		t.Fatalf("second verify changed times: %v %v", u.VerifiedAt(), u.UpdatedAt())
	}
}

func TestSetPasswordHashAndDeactivate(t *testing.T) {
	u, _ := user.New(uuid.New(), mustEmail(t, "a@x.io"), "old", t0)
	if err := u.SetPasswordHash("", t0.Add(time.Minute)); err == nil {
		t.Fatal("empty hash accepted")
	}
	if u.PasswordHash() != "old" || !u.UpdatedAt().Equal(t0) {
		t.Fatal("refused hash changed the user")
	}
	t1 := t0.Add(time.Hour)
	if err := u.SetPasswordHash("new", t1); err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash() != "new" || !u.UpdatedAt().Equal(t1) {
		t.Fatalf("hash %q updated %v", u.PasswordHash(), u.UpdatedAt())
	}
	t2 := t1.Add(time.Hour)
	u.Deactivate(t2)
	if u.Active() || !u.UpdatedAt().Equal(t2) {
		t.Fatalf("active %v updated %v", u.Active(), u.UpdatedAt())
	}
}

func TestRehydrate(t *testing.T) {
	id := uuid.New()
	v := t0.Add(time.Minute)
	u := user.Rehydrate(id, user.RehydrateEmail("b@y.io"), "h", false, true, t0, t0.Add(time.Hour), &v, nil)
	if u.ID() != id || u.Email().String() != "b@y.io" || u.PasswordHash() != "h" || u.Active() || !u.Verified() ||
		!u.CreatedAt().Equal(t0) || !u.UpdatedAt().Equal(t0.Add(time.Hour)) || u.VerifiedAt() != &v {
		t.Fatal("Rehydrate lost a field")
	}
}

package postgres_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// now is a fixed-precision current time, as PostgreSQL keeps it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func randomEmail(t *testing.T) user.Email {
	t.Helper()
	e, err := user.ParseEmail("u-" + uuid.NewString() + "@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newUser(t *testing.T) *user.User {
	t.Helper()
	u, err := user.New(uuid.New(), randomEmail(t), "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// createUser stores a new user through a pool-bound repository.
func createUser(t *testing.T) *user.User {
	t.Helper()
	u := newUser(t)
	if err := postgres.NewUserRepository(pgtest.New(t)).Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func createSession(t *testing.T, userID uuid.UUID, created time.Time) *session.Session {
	t.Helper()
	s, err := session.New(uuid.New(), userID, created, 24*time.Hour, "test-agent", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewSessionRepository(pgtest.New(t)).Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func randomHash(t *testing.T) token.Hash {
	t.Helper()
	_, h, err := token.NewSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

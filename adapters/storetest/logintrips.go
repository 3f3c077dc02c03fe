package storetest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// LoginTrips is what one password login asks of a store, as a store's
// test counts it (statements, or round trips to the server): a successful
// login of an account without a second factor, and a login refused for a
// wrong password, both under the default limits.
type LoginTrips struct {
	Success, Failure int
}

// CountLoginTrips runs the login use case on st, with a stand-in hasher
// and token issuer, and returns what count (a running total the store's
// test keeps) grew by during one successful and one failed login. Each is
// counted after an uncounted one of the same kind, so that the store's
// caches (prepared statements) are warm, as they are on a busy server. st
// must be a store of the test's own, or counted by a wrapper of its own:
// nothing else may use it meanwhile.
func CountLoginTrips(t *testing.T, st *storage.Store, count func() int) LoginTrips {
	t.Helper()
	ctx := testCtx(t)
	u := newUser(t)
	u.VerifyEmail(now())
	must(t, u.SetPasswordHash(tripsHasher{}.hashOf("right password here"), now()))
	must(t, st.Repos.Users.Create(ctx, u))
	login := session.NewLogin(session.LoginDeps{
		Users:           st.Repos.Users,
		Factors:         st.Repos.MFA,
		Tx:              st.Tx,
		Hasher:          tripsHasher{},
		Tokens:          tripsIssuer{},
		Guard:           limits.NewGuard(st.Limiter, limits.DefaultPolicy()),
		Audit:           st.Repos.Audit,
		Clock:           tripsClock{},
		IDs:             tripsIDs{},
		Random:          rand.Reader,
		TTL:             session.RefreshTTL(24 * time.Hour),
		RequireVerified: true,
		Observer:        tripsObserver{},
	})
	attempt := func(pw string, wantOK bool) int {
		before := count()
		_, err := login.Handle(ctx, session.LoginInput{Email: u.Email().String(), Password: pw, Meta: app.RequestMeta{IP: "192.0.2.7", UserAgent: "trips"}})
		if (err == nil) != wantOK {
			t.Fatalf("login with %q: %v", pw, err)
		}
		return count() - before
	}
	var trips LoginTrips
	attempt("right password here", true)
	trips.Success = attempt("right password here", true)
	attempt("a wrong password", false)
	trips.Failure = attempt("a wrong password", false)
	return trips
}

// tripsHasher "hashes" a password by prefixing it: the store's share of a
// login is what is counted, not the hash.
type tripsHasher struct{}

func (tripsHasher) hashOf(pw string) string { return "$trips$" + pw }

func (h tripsHasher) Hash(_ context.Context, pw user.Password) (string, error) {
	return h.hashOf(pw.Reveal()), nil
}

func (h tripsHasher) Verify(_ context.Context, pw user.Password, encoded string) (bool, bool, error) {
	return encoded == h.hashOf(pw.Reveal()), false, nil
}

func (tripsHasher) DummyHash() string { return "$trips$dummy" }

// tripsIssuer signs nothing.
type tripsIssuer struct{}

func (tripsIssuer) Issue(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
	c.IssuedAt = now()
	c.ExpiresAt = c.IssuedAt.Add(15 * time.Minute)
	return "signed", c, nil
}

type tripsClock struct{}

func (tripsClock) Now() time.Time { return now() }

type tripsIDs struct{}

func (tripsIDs) NewID() uuid.UUID { return uuid.New() }

// tripsObserver hears nothing.
type tripsObserver struct{}

func (tripsObserver) MailSkipped(context.Context, app.MailKind, string, string) {}
func (tripsObserver) LoginResult(context.Context, app.LoginOutcome)             {}
func (tripsObserver) RateLimited(context.Context, string)                       {}
func (tripsObserver) MailResult(context.Context, app.MailKind, app.MailOutcome) {}
func (tripsObserver) RefreshReuseDetected(context.Context)                      {}

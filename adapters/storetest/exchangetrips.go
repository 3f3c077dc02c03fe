package storetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	domainsession "github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// ExchangeTrips is what the token endpoint's code exchange asks of a
// store beside a refresh, as a store's test counts it (statements, or
// round trips to the server): the client's authentication and the
// exchange of a code for a grant with a refresh token, against one
// rotation of a refresh token (the grant's: a /v1 session's rotation runs
// the same statements).
type ExchangeTrips struct {
	Exchange, Refresh int
}

// rfc7636Verifier is the code verifier of RFC 7636's example, whose S256
// challenge newRequest's requests carry.
const rfc7636Verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// CountExchangeTrips runs the client authentication and code exchange
// use cases, and the refresh use case, on st with a stand-in token issuer
// and sealer, and returns what count (a running total the store's test
// keeps) grew by during one exchange and one refresh, each counted after
// an uncounted one (warm caches, as CountLoginTrips). st must be a store
// of the test's own, as for CountLoginTrips.
func CountExchangeTrips(t *testing.T, st *storage.Store, count func() int) ExchangeTrips {
	t.Helper()
	ctx := testCtx(t)
	at := now()
	u := newUser(t)
	must(t, st.Repos.Users.Create(ctx, u))
	parent := mustGet(domainsession.New(uuid.New(), u.ID(), at, 24*time.Hour, "trips", "192.0.2.7"))(t)
	must(t, st.Repos.Sessions.Create(ctx, parent))
	c := newClient(t, client.Public, at)
	must(t, st.Repos.Clients.Create(ctx, c))
	auth := oauth.NewClientAuth(st.Repos.Clients, st.Repos.Audit, tripsClock{}, limits.NewGuard(st.Limiter, limits.Policy{Disabled: true}))
	exchange := oauth.NewExchange(oauth.ExchangeDeps{
		Tx: st.Tx, Tokens: tripsIssuer{}, Clock: tripsClock{}, IDs: tripsIDs{}, Random: rand.Reader,
		TTL: session.RefreshTTL(24 * time.Hour), Idle: session.IdleTimeout(time.Hour),
	})
	refresh := session.NewRefresh(session.RefreshDeps{
		Tx: st.Tx, Tokens: tripsIssuer{}, Sealer: tripsSealer{}, Clock: tripsClock{}, IDs: tripsIDs{}, Random: rand.Reader,
		Idle: session.IdleTimeout(time.Hour), Grace: app.RefreshReuseGrace(10 * time.Second), Observer: tripsObserver{},
	})
	meta := app.RequestMeta{IP: "192.0.2.7", UserAgent: "trips"}
	var live token.Secret
	redeem := func() int {
		secret, hash, err := token.NewSecret(rand.Reader)
		must(t, err)
		req := newRequest(at)
		req.ClientID, req.RedirectURI = c.ID, c.RedirectURIs[0]
		must(t, st.Repos.Grants.CreateCode(ctx, grant.NewCode(hash, req, parent.ID(), u.ID(), at, []string{"pwd"}, at)))
		before := count()
		authed, err := auth.Handle(ctx, c.ID, "", meta)
		must(t, err)
		g, err := exchange.Handle(ctx, oauth.ExchangeInput{Client: authed, Code: secret.Reveal(), RedirectURI: req.RedirectURI, Verifier: rfc7636Verifier, Meta: meta})
		must(t, err)
		live = g.RefreshToken
		return count() - before
	}
	rotate := func() int {
		before := count()
		pair, err := refresh.Grant(ctx, c.ID, live.Reveal(), meta)
		must(t, err)
		live = pair.RefreshToken
		return count() - before
	}
	var trips ExchangeTrips
	redeem()
	trips.Exchange = redeem()
	rotate()
	trips.Refresh = rotate()
	return trips
}

// tripsSealer "seals" by padding as much as a real seal adds (the store
// checks the length): the store's share of a refresh is what is counted.
type tripsSealer struct{}

const tripsSealPad = 28 // a nonce and a tag

func (tripsSealer) Seal(plain []byte, _ string) ([]byte, error) {
	return append(make([]byte, tripsSealPad), plain...), nil
}

func (tripsSealer) Open(sealed []byte, _ string) ([]byte, error) { return sealed[tripsSealPad:], nil }

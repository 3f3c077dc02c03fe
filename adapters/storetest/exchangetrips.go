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

// CountExchangeTrips runs the client authentication and code exchange
// use cases, and the refresh use case, on st with a stand-in token issuer
// and sealer, and returns what count (a running total the store's test
// keeps) grew by during one exchange and one refresh, each counted after
// an uncounted one (warm caches, as CountLoginTrips). st must be a store
// of the test's own, as for CountLoginTrips.
func CountExchangeTrips(t *testing.T, st *storage.Store, count func() int) ExchangeTrips {
	t.Helper()
	run := newExchangeRun(t, st)
	counted := func(step func()) int {
		before := count()
		step()
		return count() - before
	}
	var trips ExchangeTrips
	run.redeem(run.code())
	code := run.code()
	trips.Exchange = counted(func() { run.redeem(code) })
	run.rotate()
	trips.Refresh = counted(run.rotate)
	return trips
}

// BenchmarkExchange measures, on st, the store's share of a code exchange
// beside a refresh's, as CountExchangeTrips counts them: the use cases with
// a stand-in token issuer and sealer, one request at a time, so that
// ns/op is the store's work (and on a server store, its round trips' wait)
// without HTTP or signatures. The codes are stored with the timer stopped.
func BenchmarkExchange(b *testing.B, st *storage.Store) {
	b.Run("exchange", func(b *testing.B) {
		run := newExchangeRun(b, st)
		for b.Loop() {
			b.StopTimer()
			c := run.code()
			b.StartTimer()
			run.redeem(c)
		}
	})
	b.Run("refresh", func(b *testing.B) {
		run := newExchangeRun(b, st)
		run.redeem(run.code())
		for b.Loop() {
			run.rotate()
		}
	})
}

// exchangeRun is a client, a user signed in (a browser session), and the
// use cases that redeem codes of that session and rotate the grant's
// refresh token.
type exchangeRun struct {
	tb       testing.TB
	st       *storage.Store
	user     uuid.UUID
	parent   uuid.UUID
	client   *client.Client
	auth     *oauth.ClientAuth
	exchange *oauth.Exchange
	refresh  *session.Refresh
	live     token.Secret
}

// rfc7636Verifier is the code verifier of RFC 7636's example, whose S256
// challenge newRequest's requests carry.
const rfc7636Verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

var tripsMeta = app.RequestMeta{IP: "192.0.2.7", UserAgent: "trips"}

func newExchangeRun(tb testing.TB, st *storage.Store) *exchangeRun {
	tb.Helper()
	ctx := testCtx(tb)
	at := now()
	u := newUser(tb)
	must(tb, st.Repos.Users.Create(ctx, u))
	parent := mustGet(domainsession.New(uuid.New(), u.ID(), at, 24*time.Hour, "trips", "192.0.2.7"))(tb)
	must(tb, st.Repos.Sessions.Create(ctx, parent))
	c := newClient(tb, client.Public, at)
	must(tb, st.Repos.Clients.Create(ctx, c))
	return &exchangeRun{
		tb: tb, st: st, user: u.ID(), parent: parent.ID(), client: c,
		auth: oauth.NewClientAuth(st.Repos.Clients, st.Repos.Audit, tripsClock{}, limits.NewGuard(st.Limiter, limits.Policy{Disabled: true})),
		exchange: oauth.NewExchange(oauth.ExchangeDeps{
			Tx: st.Tx, Tokens: tripsIssuer{}, Clock: tripsClock{}, IDs: tripsIDs{}, Random: rand.Reader,
			TTL: session.RefreshTTL(24 * time.Hour), Idle: session.IdleTimeout(time.Hour),
		}),
		refresh: session.NewRefresh(session.RefreshDeps{
			Tx: st.Tx, Tokens: tripsIssuer{}, Sealer: tripsSealer{}, Clock: tripsClock{}, IDs: tripsIDs{}, Random: rand.Reader,
			Idle: session.IdleTimeout(time.Hour), Grace: app.RefreshReuseGrace(10 * time.Second), Observer: tripsObserver{},
		}),
	}
}

// code stores a new code of the browser session for the client and
// returns its secret.
func (r *exchangeRun) code() token.Secret {
	secret, hash, err := token.NewSecret(rand.Reader)
	must(r.tb, err)
	at := now()
	req := newRequest(at)
	req.ClientID, req.RedirectURI = r.client.ID, r.client.RedirectURIs[0]
	must(r.tb, r.st.Repos.Grants.CreateCode(testCtx(r.tb), grant.NewCode(hash, req, r.parent, r.user, at, []string{"pwd"}, at)))
	return secret
}

// redeem authenticates the client and exchanges code, keeping the grant's
// refresh token.
func (r *exchangeRun) redeem(code token.Secret) {
	ctx := testCtx(r.tb)
	authed, err := r.auth.Handle(ctx, r.client.ID, "", tripsMeta)
	must(r.tb, err)
	g, err := r.exchange.Handle(ctx, oauth.ExchangeInput{Client: authed, Code: code.Reveal(), RedirectURI: r.client.RedirectURIs[0], Verifier: rfc7636Verifier, Meta: tripsMeta})
	must(r.tb, err)
	r.live = g.RefreshToken
}

// rotate refreshes the grant's live refresh token (a /v1 session's
// rotation runs the same statements).
func (r *exchangeRun) rotate() {
	pair, err := r.refresh.Grant(testCtx(r.tb), r.client.ID, r.live.Reveal(), tripsMeta)
	must(r.tb, err)
	r.live = pair.RefreshToken
}

// tripsSealer "seals" by padding as much as a real seal adds (the store
// checks the length): the store's share of a refresh is what is counted.
type tripsSealer struct{}

const tripsSealPad = 28 // a nonce and a tag

func (tripsSealer) Seal(plain []byte, _ string) ([]byte, error) {
	return append(make([]byte, tripsSealPad), plain...), nil
}

func (tripsSealer) Open(sealed []byte, _ string) ([]byte, error) { return sealed[tripsSealPad:], nil }

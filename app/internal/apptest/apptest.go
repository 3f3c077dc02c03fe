// Package apptest holds small fakes and mock helpers shared by the use-case
// tests: a fixed clock, deterministic ids and randomness, the ports and the
// repositories of one transaction as gomock mocks, and expectations of the
// calls many use cases make. Test code only.
package apptest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// T0 is the fixed "now" of the use-case tests.
var T0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// PublicURL is the public base URL the tests build links from.
const PublicURL = "https://auth.example.test"

// Clock is a stopped clock.
type Clock struct{ t time.Time }

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the time the clock stopped at.
func (c *Clock) Now() time.Time { return c.t }

// IDs hands out 00000000-0000-4000-8000-000000000001, ...2, ... in order.
type IDs struct {
	mu sync.Mutex
	n  uint64
}

// NewID returns the next id.
func (g *IDs) NewID() uuid.UUID {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return ID(g.n)
}

// Count is how many ids were handed out.
func (g *IDs) Count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return int(g.n)
}

// ID is the n-th id of an IDs generator; use it for fixtures too.
func ID(n uint64) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], n)
	u[6] = 0x40
	u[8] |= 0x80
	return u
}

// Rand is a deterministic, endless byte stream (SHA-256 in counter mode of
// a seed), so that successive secrets differ and runs are reproducible.
type Rand struct {
	mu   sync.Mutex
	seed string
	ctr  uint64
	buf  []byte
}

// NewRand returns a stream for seed.
func NewRand(seed string) *Rand { return &Rand{seed: seed} }

// Read fills p.
func (r *Rand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			r.ctr++
			b := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", r.seed, r.ctr)))
			r.buf = b[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

// Email parses s or panics.
func Email(s string) user.Email {
	e, err := user.ParseEmail(s)
	if err != nil {
		panic(err)
	}
	return e
}

// Secret draws a one-time secret from NewRand(seed) and returns it with
// its hash.
func Secret(t testing.TB, seed string) (token.Secret, token.Hash) {
	t.Helper()
	s, h, err := token.NewSecret(NewRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

// Links returns the links of PublicURL.
func Links() app.Links {
	l, err := app.NewLinks(PublicURL)
	if err != nil {
		panic(err)
	}
	return l
}

// Repos are the mocks behind one app.Repos.
type Repos struct {
	Users     *Users
	Tokens    *mock.MockOneTimeTokenRepository
	Sessions  *mock.MockSessionRepository
	Outbox    *mock.MockOutbox
	Audit     *mock.MockAuditLog
	AdminKeys *mock.MockAdminKeyStore
	MFA       *Factors
	// SigningKeys is the key ring.
	SigningKeys *mock.MockSigningKeyRing
	Clients     *mock.MockClientRepository
	Grants      *mock.MockGrantRepository
	Webhooks    *mock.MockWebhookRepository
	// Events are the webhook events (Published matches a call).
	Events   *mock.MockEventLog
	Passkeys *mock.MockPasskeyRepository
	Upstream *mock.MockUpstreamRepository
	// Store serves the user and factor lookups once a test seeds it.
	Store *Store
}

// NewRepos makes strict mocks of every repository, the lookups of users
// and factors served by a Store of their own.
func NewRepos(ctrl *gomock.Controller) *Repos { return newRepos(ctrl, NewStore()) }

func newRepos(ctrl *gomock.Controller, s *Store) *Repos {
	return &Repos{
		Users:     &Users{MockUserRepository: mock.NewMockUserRepository(ctrl), store: s, inTx: true},
		Tokens:    mock.NewMockOneTimeTokenRepository(ctrl),
		Sessions:  mock.NewMockSessionRepository(ctrl),
		Outbox:    mock.NewMockOutbox(ctrl),
		Audit:     mock.NewMockAuditLog(ctrl),
		AdminKeys: mock.NewMockAdminKeyStore(ctrl),
		MFA:       &Factors{MockMFARepository: mock.NewMockMFARepository(ctrl), store: s},

		SigningKeys: mock.NewMockSigningKeyRing(ctrl),
		Clients:     mock.NewMockClientRepository(ctrl),
		Grants:      mock.NewMockGrantRepository(ctrl),
		Webhooks:    mock.NewMockWebhookRepository(ctrl),
		Events:      mock.NewMockEventLog(ctrl),
		Passkeys:    mock.NewMockPasskeyRepository(ctrl),
		Upstream:    mock.NewMockUpstreamRepository(ctrl),
		Store:       s,
	}
}

// App is the app.Repos view of the mocks.
func (r *Repos) App() app.Repos {
	return app.Repos{Users: r.Users, Tokens: r.Tokens, Sessions: r.Sessions, Outbox: r.Outbox, Audit: r.Audit, AdminKeys: r.AdminKeys, MFA: r.MFA, SigningKeys: r.SigningKeys, Clients: r.Clients, Grants: r.Grants, Webhooks: r.Webhooks, Events: r.Events, Passkeys: r.Passkeys, Upstream: r.Upstream}
}

// Ports are the mocks of the ports most use cases draw on, all strict:
// a test expects only the calls that are the behaviour it checks. The
// lookups of users and factors, in and out of a transaction, are served
// by one Store once the test seeds it (Seed, SeedTOTP).
type Ports struct {
	// Ctrl is the controller of the mocks; a test makes its others on it.
	Ctrl *gomock.Controller
	// Users and Factors work outside any transaction.
	Users   *Users
	Factors *Factors
	Tx      *mock.MockTxManager
	Hasher  *mock.MockPasswordHasher
	RL      *mock.MockRateLimiter
	Audit   *mock.MockAuditLog
	// Repos are the repositories a transaction hands out.
	Repos *Repos
	// Clock stands at T0.
	Clock *Clock
	// Guard counts on RL under the default policy.
	Guard *limits.Guard
}

// NewPorts makes the mocks on a controller of t.
func NewPorts(t testing.TB) *Ports {
	ctrl := gomock.NewController(t)
	s := NewStore()
	rl := mock.NewMockRateLimiter(ctrl)
	return &Ports{
		Ctrl:    ctrl,
		Users:   &Users{MockUserRepository: mock.NewMockUserRepository(ctrl), store: s},
		Factors: &Factors{MockMFARepository: mock.NewMockMFARepository(ctrl), store: s},
		Tx:      mock.NewMockTxManager(ctrl),
		Hasher:  mock.NewMockPasswordHasher(ctrl),
		RL:      rl,
		Audit:   mock.NewMockAuditLog(ctrl),
		Repos:   newRepos(ctrl, s),
		Clock:   NewClock(T0),
		Guard:   limits.NewGuard(rl, limits.DefaultPolicy()),
	}
}

// PasswordCheck checks a signed-in user's password with Hasher, counting
// on Guard and auditing to Audit.
func (p *Ports) PasswordCheck() *limits.PasswordCheck {
	return limits.NewPasswordCheck(p.Guard, p.Hasher, p.Audit, p.Clock)
}

// StepUp is the step-up of fifteen minutes over Factors; its authenticator
// and sealer are strict mocks, so a test that reaches a code check fails.
func (p *Ports) StepUp() *appmfa.StepUp {
	return appmfa.NewStepUp(p.Factors, p.Tx, appmfa.NewVerifier(mock.NewMockTOTP(p.Ctrl), mock.NewMockSealer(p.Ctrl)),
		appmfa.NewAttempts(p.Guard, p.Audit, p.Clock), p.Clock, appmfa.StepUpMaxAge(15*time.Minute))
}

// Seed stores the users the lookups then find.
func (p *Ports) Seed(us ...*user.User) { p.Repos.Store.Seed(us...) }

// SeedTOTP stores the factors the lookups then find.
func (p *Ports) SeedTOTP(fs ...*mfa.TOTP) { p.Repos.Store.SeedTOTP(fs...) }

// Sealer is a plain stand-in for the AEAD: a sealed value is the label
// and the plain bytes in the clear, and it opens only under its label
// (app.ErrSealBroken otherwise), as the real one does.
type Sealer struct{}

// Seal returns label|plain.
func (Sealer) Seal(plain []byte, label string) ([]byte, error) {
	return append([]byte(label+"|"), plain...), nil
}

// Open returns plain when sealed was sealed under label.
func (Sealer) Open(sealed []byte, label string) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(label+"|"))
	if !ok {
		return nil, app.ErrSealBroken
	}
	return rest, nil
}

// TOTP is a stand-in authenticator for Secret: the code of a step is its
// last six digits. A code of any other secret is an error, so a code
// checked against a secret that did not open right fails the test.
type TOTP struct{ Secret []byte }

// Code is step's last six digits.
func (a TOTP) Code(secret []byte, step int64) (string, error) {
	if !bytes.Equal(secret, a.Secret) {
		return "", fmt.Errorf("apptest: a code of secret %x, want %x", secret, a.Secret)
	}
	return fmt.Sprintf("%06d", step%1000000), nil
}

// KeyURI names issuer, account and the encoded secret.
func (TOTP) KeyURI(issuer, account string, secret []byte) (string, error) {
	return "otpauth://totp/" + issuer + ":" + account + "?secret=" + mfa.EncodeSecret(secret), nil
}

// KeyQR is "png of " and the URI.
func (TOTP) KeyQR(uri string) ([]byte, error) { return []byte("png of " + uri), nil }

// Observer records what it hears, in order, one line a call:
// "LoginResult success", "MailResult verify_email sent", "RateLimited
// login_ip", "MailSkipped verify_email example.org mail_address",
// "RefreshReuseDetected". A test compares them with all it expects, so
// a call it did not expect fails it as a strict mock would.
type Observer struct {
	mu    sync.Mutex
	heard []string
}

func (o *Observer) hear(words ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.heard = append(o.heard, strings.Join(words, " "))
}

// HeardAtEnd fails t, as it ends, unless the observer heard exactly the
// lines want returns then.
func (o *Observer) HeardAtEnd(t testing.TB, want func() []string) {
	t.Cleanup(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if w := want(); !slices.Equal(o.heard, w) {
			t.Errorf("observed %q, want %q", o.heard, w)
		}
	})
}

func (o *Observer) MailSkipped(_ context.Context, kind app.MailKind, addressDomain, rule string) {
	o.hear("MailSkipped", string(kind), addressDomain, rule)
}

func (o *Observer) LoginResult(_ context.Context, result app.LoginOutcome) {
	o.hear("LoginResult", string(result))
}

func (o *Observer) RateLimited(_ context.Context, rule string) { o.hear("RateLimited", rule) }

func (o *Observer) MailResult(_ context.Context, kind app.MailKind, result app.MailOutcome) {
	o.hear("MailResult", string(kind), string(result))
}

func (o *Observer) RefreshReuseDetected(context.Context) { o.hear("RefreshReuseDetected") }

// LoginResults are the lines of the login results rs.
func LoginResults(rs ...app.LoginOutcome) []string {
	var out []string
	for _, r := range rs {
		out = append(out, "LoginResult "+string(r))
	}
	return out
}

// Purposes matches the variadic purposes of
// OneTimeTokenRepository.InvalidateUnused: exactly the purposes in want, in
// any order, each once. Pass it as the last matcher, in place of the
// purposes.
func Purposes(want ...token.Purpose) gomock.Matcher { return purposes(want) }

type purposes []token.Purpose

func (p purposes) Matches(x any) bool {
	got, ok := x.([]token.Purpose)
	return ok && slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(p)))
}

func (p purposes) String() string { return fmt.Sprintf("exactly the purposes %v", []token.Purpose(p)) }

// TxResults records what each transaction function returned, so a test can
// tell a committed transaction (nil) from a rolled back one.
type TxResults struct {
	mu   sync.Mutex
	errs []error
}

// Errs returns the results so far, in call order.
func (t *TxResults) Errs() []error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]error(nil), t.errs...)
}

// ExpectWithin makes tx run fn with r exactly times times and returns fn's
// error as Within's, like a real TxManager (commit on nil).
func ExpectWithin(tx *mock.MockTxManager, r app.Repos, times int) *TxResults {
	return expectWithin(tx, r, times, func() {}, func() {})
}

// ExpectWithinAfter is ExpectWithin with meanwhile run as each transaction
// begins: what another request changed between the reads before the
// transaction and the ones in it.
func ExpectWithinAfter(tx *mock.MockTxManager, r app.Repos, times int, meanwhile func()) *TxResults {
	return expectWithin(tx, r, times, meanwhile, func() {})
}

// ExpectLockingWithin is ExpectWithin over r where each transaction must
// read the user id for change (from the seeded Store): the lock that runs
// the changes of one user one after another. meanwhile, when given, are
// users as another request left them, seeded as each transaction begins.
func ExpectLockingWithin(t testing.TB, tx *mock.MockTxManager, r *Repos, times int, id uuid.UUID, meanwhile ...*user.User) *TxResults {
	var before int
	return expectWithin(tx, r.App(), times, func() {
		if len(meanwhile) > 0 {
			r.Store.Seed(meanwhile...)
		}
		before = len(r.Store.Locked())
	}, func() {
		if !slices.Contains(r.Store.Locked()[before:], id) {
			t.Errorf("a transaction did not read user %s for change", id)
		}
	})
}

func expectWithin(tx *mock.MockTxManager, r app.Repos, times int, begin, end func()) *TxResults {
	res := &TxResults{}
	tx.EXPECT().Within(gomock.Any(), gomock.Any()).Times(times).DoAndReturn(
		func(ctx context.Context, fn func(context.Context, app.Repos) error) error {
			begin()
			err := fn(ctx, r)
			end()
			res.mu.Lock()
			res.errs = append(res.errs, err)
			res.mu.Unlock()
			return err
		})
	return res
}

// ExpectMail expects one mail queued at T0, and fails t unless ok
// accepts it.
func ExpectMail(t testing.TB, ob *mock.MockOutbox, ok func(app.OutboundMail) bool) *gomock.Call {
	return ob.EXPECT().Enqueue(gomock.Any(), gomock.Any(), T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		if !ok(m) {
			t.Errorf("mail %+v", m)
		}
		return nil
	})
}

// ExpectSessionRevoked expects, in order, what app.RevokeSession does to
// the live session s at T0: s saved revoked at T0 (t fails otherwise),
// then its grants revoked, the store reporting grants of them ended.
func ExpectSessionRevoked(t testing.TB, sessions *mock.MockSessionRepository, s *session.Session, grants int) []any {
	return []any{
		sessions.EXPECT().Update(gomock.Any(), s).DoAndReturn(func(_ context.Context, ss *session.Session) error {
			if ss.RevokedAt() == nil || !ss.RevokedAt().Equal(T0) {
				t.Errorf("session %s saved unrevoked", ss.ID())
			}
			return nil
		}),
		sessions.EXPECT().RevokeGrants(gomock.Any(), s.ID(), T0).Return(grants, nil),
	}
}

// InOrder is gomock.InOrder of calls, where an element may also be a
// []any of calls (ExpectSessionRevoked's), taken in its place.
func InOrder(calls ...any) {
	var flat []any
	for _, c := range calls {
		if cs, ok := c.([]any); ok {
			flat = append(flat, cs...)
		} else {
			flat = append(flat, c)
		}
	}
	gomock.InOrder(flat...)
}

// ExpectAudit expects one event appended, and fails t unless ok accepts
// it.
func ExpectAudit(t testing.TB, log *mock.MockAuditLog, ok func(audit.Event) bool) *gomock.Call {
	return log.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if !ok(e) {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
}

// MailRequester is a use case taking a mail request for an address.
type MailRequester interface {
	Handle(ctx context.Context, rawEmail string) error
}

// MailRequestWork makes the request for addr of the use case build makes
// of ports that let it through, and returns the calls it made of them, by
// "Port.Method", and the mail it queued.
func MailRequestWork(t testing.TB, addr string, build func(app.Outbox, *limits.Guard, app.IDGenerator, app.Clock) MailRequester) (map[string]int, []app.OutboundMail) {
	ctrl := gomock.NewController(t)
	ob, rl, ids := mock.NewMockOutbox(ctrl), mock.NewMockRateLimiter(ctrl), &IDs{}
	hits := 0
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(context.Context, string, int, time.Duration) (bool, time.Duration, error) {
		hits++
		return true, 0, nil
	})
	var queued []app.OutboundMail
	ob.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		queued = append(queued, m)
		return nil
	})
	if err := build(ob, limits.NewGuard(rl, limits.DefaultPolicy()), ids, NewClock(T0)).Handle(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	return map[string]int{"RateLimiter.Hit": hits, "Outbox.Enqueue": len(queued), "IDGenerator.NewID": ids.Count()}, queued
}

// Compile-time checks.
var (
	_ app.Clock       = (*Clock)(nil)
	_ app.Sealer      = Sealer{}
	_ app.Observer    = (*Observer)(nil)
	_ appmfa.TOTP     = TOTP{}
	_ app.IDGenerator = (*IDs)(nil)
)

// ExpectLoginFailuresCleared expects the login failures counted under one
// address to be forgotten, once: every (account, IP) pair of it
// (RateLimiter.ResetPrefix), then the account's consecutive count
// (Reset). check, when not nil, runs at each of the two and reports what
// is wrong then (say, a transaction not committed yet) with errorf. It
// returns both calls, for ordering.
func ExpectLoginFailuresCleared(errorf func(format string, args ...any), rl *mock.MockRateLimiter, check func() string) (pairs, account *gomock.Call) {
	at := func(what, key, prefix string) {
		if !strings.HasPrefix(key, prefix) {
			errorf("%s %q, want a key under %q", what, key, prefix)
		}
		if check != nil {
			if msg := check(); msg != "" {
				errorf("%s: %s", what, msg)
			}
		}
	}
	pairs = rl.EXPECT().ResetPrefix(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, p string) error {
		at("ResetPrefix", p, "login:pair:")
		return nil
	})
	account = rl.EXPECT().Reset(gomock.Any(), gomock.Any()).Times(1).After(pairs).DoAndReturn(func(_ context.Context, k string) error {
		at("Reset", k, "login:account:")
		return nil
	})
	return pairs, account
}

// Committed is a check for ExpectLoginFailuresCleared: res has recorded n
// transactions and the last one committed.
func Committed(res *TxResults, n int) func() string {
	return func() string {
		if errs := res.Errs(); len(errs) != n || errs[n-1] != nil {
			return fmt.Sprintf("before the commit (transactions %v)", errs)
		}
		return ""
	}
}

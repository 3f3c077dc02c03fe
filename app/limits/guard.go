// Package limits holds Gatehouse's abuse-protection policy: which counters
// exist, how they are keyed and what happens when one is exceeded. The
// counters themselves live behind app.RateLimiter, shared by all instances.
package limits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Limit is at most Count events per Window.
type Limit struct {
	Count  int
	Window time.Duration
}

// ParseLimit reads "COUNT/DURATION", for example "30/5m".
func ParseLimit(s string) (Limit, error) {
	n, d, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Limit{}, fmt.Errorf("limit %q: want COUNT/DURATION, e.g. 30/5m", s)
	}
	c, err := strconv.Atoi(n)
	if err != nil || c < 1 {
		return Limit{}, fmt.Errorf("limit %q: count must be a positive integer", s)
	}
	w, err := time.ParseDuration(d)
	if err != nil || w <= 0 {
		return Limit{}, fmt.Errorf("limit %q: window must be a positive duration", s)
	}
	return Limit{Count: c, Window: w}, nil
}

func (l Limit) String() string { return strconv.Itoa(l.Count) + "/" + l.Window.String() }

// Endpoint names a public endpoint with its own per-IP counter.
type Endpoint string

const (
	Register    Endpoint = "register"
	Login       Endpoint = "login"
	VerifyEmail Endpoint = "verify"
	Resend      Endpoint = "resend"
	Forgot      Endpoint = "forgot"
	Reset       Endpoint = "reset"
	Refresh     Endpoint = "refresh"
	Password    Endpoint = "password_change"
	// LoginMFA is the second login step (a code after the password).
	LoginMFA Endpoint = "login_mfa"
	// Token is the OAuth token, revocation and introspection endpoints,
	// counted together under the Refresh limit.
	Token Endpoint = "token"
	// PasskeyBegin is the begin of a passkey sign-in (API and sign-in
	// page), counted under the Refresh limit: a begin checks no secret, it
	// only stores a challenge that expires, so the limit bounds storage,
	// and the sign-in page's script begins on every view, which must not
	// spend the budget of password sign-ins. The finish counts as Login.
	PasskeyBegin Endpoint = "passkey_begin"
)

// Rule names, reported to app.Observer when a limit refuses: fixed names,
// never a counter's key. The per-IP limits of the endpoints are named
// after the endpoint (Rule).
const (
	RuleLoginAccountIP = "login_account_ip" // LoginFailures per (account, client IP)
	RuleLoginAccount   = "login_account"    // LockoutThreshold: the account is locked
	RuleMailAddress    = "mail_address"     // MailPerAddress per address and kind
	RuleCodeAccount    = "mfa_code_account" // CodeFailures per account
	RuleCodeLocked     = "mfa_code_locked"  // CodeLockoutThreshold: the account's TOTP codes are locked
	RuleTokenClient    = "token_client"     // TokenPerClient per client id
)

// Rule is the name of the endpoint's per-IP limit, such as "login_ip".
func (e Endpoint) Rule() string { return string(e) + "_ip" }

// ErrLocked marks BeginLogin's refusal of a locked account, and
// BeginCode's refusal of a TOTP code of an account whose codes are locked;
// the error is a rate_limited one as well.
var ErrLocked = errors.New("limits: the account is locked")

// Policy is the configured set of limits.
type Policy struct {
	Disabled bool
	// Auth is the per-IP limit of register, login, verify, resend, forgot,
	// reset and password change, each counted on its own.
	Auth Limit
	// Refresh is the per-IP limit of token refresh, of the OAuth token
	// endpoints (Token) and of passkey sign-in begins (PasskeyBegin).
	Refresh Limit
	// TokenPerClient bounds the OAuth token endpoints' requests naming one
	// client id, from anywhere (a guessed secret, a runaway client).
	TokenPerClient Limit
	// MailPerAddress bounds the mails of one kind to one address.
	MailPerAddress Limit
	// ResetLinkTTL is how long a reset link works. The per-address window
	// of reset mails is never longer, so that an attacker who spends an
	// address's budget cannot leave its owner without a usable link: the
	// last link sent in a window works until the window ends, and then the
	// owner's next request is counted in a fresh one.
	ResetLinkTTL time.Duration
	// LoginFailures bounds failed logins per (account, client IP).
	LoginFailures Limit
	// LockoutThreshold consecutive failures from anywhere lock password
	// login for the account until a password reset.
	LockoutThreshold int
	// CodeFailures bounds second-factor codes (TOTP and recovery) per
	// account, from anywhere: over it every code of the account, even the
	// right one, is refused until the window ends.
	CodeFailures Limit
	// CodeLockoutThreshold consecutive wrong codes lock the account's TOTP
	// codes until a right recovery code (once the CodeFailures window has
	// ended) or an operator's unlock.
	CodeLockoutThreshold int
}

// DefaultPolicy is what an unconfigured instance enforces.
func DefaultPolicy() Policy {
	return Policy{
		Auth:             Limit{30, 5 * time.Minute},
		Refresh:          Limit{150, 5 * time.Minute},
		TokenPerClient:   Limit{3000, 5 * time.Minute},
		MailPerAddress:   Limit{3, time.Hour},
		ResetLinkTTL:     30 * time.Minute,
		LoginFailures:    Limit{10, 15 * time.Minute},
		LockoutThreshold: 100,

		CodeFailures:         Limit{10, 15 * time.Minute},
		CodeLockoutThreshold: 100,
	}
}

// lockoutWindow keeps the consecutive-failure counter until it is reset by
// a successful login or a password reset.
const lockoutWindow = 100 * 365 * 24 * time.Hour

// Guard applies the policy.
type Guard struct {
	rl  app.RateLimiter
	p   Policy
	obs app.Observer // nil: nobody listens
}

// NewGuard builds a Guard that tells nobody of what it refuses.
func NewGuard(rl app.RateLimiter, p Policy) *Guard {
	return &Guard{rl: rl, p: p}
}

// NewObservedGuard builds a Guard that tells obs of every request and mail
// it refuses.
func NewObservedGuard(rl app.RateLimiter, p Policy, obs app.Observer) *Guard {
	return &Guard{rl: rl, p: p, obs: obs}
}

// Policy returns the policy in force.
func (g *Guard) Policy() Policy { return g.p }

// key hashes the parts so that addresses are not spread in clear through
// the counter table and keys stay short whatever the input.
func key(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// hit counts an event under k; over l it tells the observer that rule
// refused and returns a rate_limited error.
func (g *Guard) hit(ctx context.Context, rule, k string, l Limit) error {
	ok, retry, err := g.rl.Hit(ctx, k, l.Count, l.Window)
	if err != nil {
		return err
	}
	if !ok {
		g.limited(ctx, rule)
		return domain.RateLimited(retry)
	}
	return nil
}

func (g *Guard) limited(ctx context.Context, rule string) {
	if g.obs != nil {
		g.obs.RateLimited(ctx, rule)
	}
}

// CheckIP counts a request from ip to endpoint; over the limit it returns
// a rate_limited error.
func (g *Guard) CheckIP(ctx context.Context, e Endpoint, ip string) error {
	if g.p.Disabled {
		return nil
	}
	l := g.p.Auth
	if e == Refresh || e == Token || e == PasskeyBegin {
		l = g.p.Refresh
	}
	return g.hit(ctx, e.Rule(), key("ip:"+string(e), ip), l)
}

// CheckClient counts a token endpoint request naming clientID; over the
// limit it returns a rate_limited error.
func (g *Guard) CheckClient(ctx context.Context, clientID string) error {
	if g.p.Disabled {
		return nil
	}
	return g.hit(ctx, RuleTokenClient, key("client", clientID), g.p.TokenPerClient)
}

// AllowMail counts a mail of kind to addr and reports whether it may be
// sent. Over the limit the caller still answers as usual and sends nothing.
func (g *Guard) AllowMail(ctx context.Context, kind app.MailKind, addr user.Email) (bool, error) {
	if g.p.Disabled {
		return true, nil
	}
	l := g.p.MailPerAddress
	if kind == app.MailResetPassword && g.p.ResetLinkTTL > 0 && g.p.ResetLinkTTL < l.Window {
		l.Window = g.p.ResetLinkTTL
	}
	err := g.hit(ctx, RuleMailAddress, key("mail:"+string(kind), addr.String()), l)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, domain.ErrRateLimited) {
		if g.obs != nil {
			g.obs.MailSkipped(ctx, kind, addr.Domain(), RuleMailAddress)
		}
		return false, nil
	}
	return false, err
}

// BeginLogin counts a password check for email from ip before it runs, and
// refuses it with a rate_limited error when the (account, IP) pair or the
// account has used up its attempts (the account's refusal also wraps
// ErrLocked). Counting first means a parallel burst cannot get more checks
// than the limit allows. A successful login gives the attempts back
// (LoginSucceeded), so the counters end up counting failures. Counters are
// keyed by the normalized email whether or not an account exists.
func (g *Guard) BeginLogin(ctx context.Context, email user.Email, ip string) error {
	if g.p.Disabled {
		return nil
	}
	if err := g.hit(ctx, RuleLoginAccountIP, pairKey(email, ip), g.p.LoginFailures); err != nil {
		return err
	}
	ok, _, err := g.rl.Hit(ctx, key("login:account", email.String()), g.p.LockoutThreshold, lockoutWindow)
	if err != nil {
		return err
	}
	if !ok {
		g.limited(ctx, RuleLoginAccount)
		// A lock lasts until a password reset; the hint only paces clients.
		return fmt.Errorf("%w (%w)", domain.RateLimited(time.Hour), ErrLocked)
	}
	return nil
}

// LoginFailed reports whether the failed check just counted (by
// BeginLogin) used up the account's attempts, which locks it.
func (g *Guard) LoginFailed(ctx context.Context, email user.Email) (locked bool, err error) {
	return g.Locked(ctx, email)
}

// LoginSucceeded ends a run of consecutive failures of the account and
// clears the (account, IP) pair's count.
func (g *Guard) LoginSucceeded(ctx context.Context, email user.Email, ip string) error {
	if g.p.Disabled {
		return nil
	}
	if err := g.rl.Reset(ctx, pairKey(email, ip)); err != nil {
		return err
	}
	return g.rl.Reset(ctx, key("login:account", email.String()))
}

// pairPrefix starts the keys of every (account, IP) pair of email, so an
// operator's unlock can clear them all without knowing the IPs.
func pairPrefix(email user.Email) string { return key("login:pair", email.String()) + ":" }

func pairKey(email user.Email, ip string) string { return pairPrefix(email) + key("ip", ip) }

// Locked reports whether the account's consecutive failures have locked
// password login.
func (g *Guard) Locked(ctx context.Context, email user.Email) (bool, error) {
	if g.p.Disabled {
		return false, nil
	}
	locked, _, err := g.rl.Blocked(ctx, key("login:account", email.String()), g.p.LockoutThreshold)
	return locked, err
}

// Unlock lifts an account lock and clears the failure counts of every
// (account, IP) pair, and the second-factor counters of the account
// userID (an operator's decision).
func (g *Guard) Unlock(ctx context.Context, email user.Email, userID uuid.UUID) error {
	if err := g.resetLogin(ctx, email); err != nil {
		return err
	}
	return g.resetCodes(ctx, userID)
}

// resetLogin clears the password-login counters of email: every (account,
// IP) pair and the account's consecutive failures.
func (g *Guard) resetLogin(ctx context.Context, email user.Email) error {
	if err := g.rl.ResetPrefix(ctx, pairPrefix(email)); err != nil {
		return err
	}
	return g.rl.Reset(ctx, key("login:account", email.String()))
}

// ClearLockout lifts an account lock (after a password reset).
func (g *Guard) ClearLockout(ctx context.Context, email user.Email) error {
	if g.p.Disabled {
		return nil
	}
	return g.rl.Reset(ctx, key("login:account", email.String()))
}

// Second-factor counters. They are keyed by the user id, not the address:
// a code is only ever checked for a known account, the id never changes
// (an email change must not hand an attacker fresh counters), and no
// password counter shares a key with them, so a password success (which
// resets the password counters) never touches them. Only a right code
// (CodeSucceeded) or an operator's unlock resets them.
func codeWindowKey(userID uuid.UUID) string { return key("mfa:window", userID.String()) }
func codeLockKey(userID uuid.UUID) string   { return key("mfa:lock", userID.String()) }

// BeginCode counts a second-factor code of the account userID before it
// is checked, so that a parallel burst cannot get more checks than the
// limits allow, and refuses it with a rate_limited error when the
// account's window is used up (every code, even the right one, until the
// window ends). Once CodeLockoutThreshold consecutive codes failed, TOTP
// codes are refused (wrapping ErrLocked) until a right recovery code or
// an unlock: recovery says this code is a recovery code, which is still
// checked, within the window's limit.
func (g *Guard) BeginCode(ctx context.Context, userID uuid.UUID, recovery bool) error {
	if g.p.Disabled {
		return nil
	}
	if err := g.hit(ctx, RuleCodeAccount, codeWindowKey(userID), g.p.CodeFailures); err != nil {
		return err
	}
	ok, _, err := g.rl.Hit(ctx, codeLockKey(userID), g.p.CodeLockoutThreshold, lockoutWindow)
	if err != nil {
		return err
	}
	if !ok && !recovery {
		g.limited(ctx, RuleCodeLocked)
		// The lock lasts until a right recovery code or an unlock; the
		// hint only paces clients.
		return fmt.Errorf("%w (%w)", domain.RateLimited(g.p.CodeFailures.Window), ErrLocked)
	}
	return nil
}

// CodeFailed reports whether the wrong code just counted (by BeginCode)
// locked the account's TOTP codes.
func (g *Guard) CodeFailed(ctx context.Context, userID uuid.UUID) (locked bool, err error) {
	if g.p.Disabled {
		return false, nil
	}
	locked, _, err = g.rl.Blocked(ctx, codeLockKey(userID), g.p.CodeLockoutThreshold)
	return locked, err
}

// CodeSucceeded clears the account's second-factor counters after a
// right code.
func (g *Guard) CodeSucceeded(ctx context.Context, userID uuid.UUID) error {
	if g.p.Disabled {
		return nil
	}
	return g.resetCodes(ctx, userID)
}

// FactorRemoved clears the account's second-factor counters, as a right
// code does, once an operator has turned its factor off: a lock earned
// against the old factor must not refuse the codes of the owner's next
// enrollment.
func (g *Guard) FactorRemoved(ctx context.Context, userID uuid.UUID) error {
	return g.CodeSucceeded(ctx, userID)
}

func (g *Guard) resetCodes(ctx context.Context, userID uuid.UUID) error {
	if err := g.rl.Reset(ctx, codeWindowKey(userID)); err != nil {
		return err
	}
	return g.rl.Reset(ctx, codeLockKey(userID))
}

// AddressVerified forgets the password-login failures counted under email
// (every (account, IP) pair and the account's consecutive count) once its
// owner has proven the address: failures counted before then, when the
// address may have had no account or a stranger's pending registration,
// are not the owner's. Second-factor counters are not login failures and
// stay.
func (g *Guard) AddressVerified(ctx context.Context, email user.Email) error {
	if g.p.Disabled {
		return nil
	}
	return g.resetLogin(ctx, email)
}

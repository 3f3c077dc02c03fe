package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// RequireVerifiedEmail is true when an address must be verified before its
// password logs in.
type RequireVerifiedEmail bool

// Links builds the links put in mails. They always start at the configured
// public URL, never at a Host or X-Forwarded-Host header.
type Links struct{ base string }

// NewLinks validates publicURL (absolute http or https, no query).
func NewLinks(publicURL string) (Links, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return Links{}, fmt.Errorf("public URL %q must be an absolute http(s) URL without query", publicURL)
	}
	return Links{base: strings.TrimRight(u.String(), "/")}, nil
}

// Base is the public URL without a trailing slash.
func (l Links) Base() string { return l.base }

// VerifyEmail is the hosted verification page for s.
func (l Links) VerifyEmail(s token.Secret) string {
	return l.base + "/verify-email?token=" + s.Reveal()
}

// ResetPassword is the hosted reset page for s.
func (l Links) ResetPassword(s token.Secret) string {
	return l.base + "/reset-password?token=" + s.Reveal()
}

// AcceptInvite is the hosted page where an invited user sets a first
// password with s.
func (l Links) AcceptInvite(s token.Secret) string {
	return l.base + "/accept-invite?token=" + s.Reveal()
}

// ConfirmEmail is the hosted page that confirms an email change with s.
func (l Links) ConfirmEmail(s token.Secret) string {
	return l.base + "/confirm-email?token=" + s.Reveal()
}

// ForgotPassword is the hosted page where a reset can be requested.
func (l Links) ForgotPassword() string { return l.base + "/forgot-password" }

// IssuePasswordLink makes a fresh token that sets a password (a reset, or
// an invitation: purpose.SetsPassword) for userID and stores its hash
// through r, after invalidating the user's unused tokens of the same
// purpose: only the newest reset link works, and a reset never touches an
// invitation. The caller has read the user for change in the same
// transaction, so two concurrent issues for one user run one after the
// other and only the later token survives.
func IssuePasswordLink(ctx context.Context, r Repos, rnd io.Reader, userID uuid.UUID, purpose token.Purpose, now time.Time, ttl time.Duration) (token.Secret, error) {
	if !purpose.SetsPassword() {
		return "", fmt.Errorf("app: %q does not set a password", purpose)
	}
	secret, hash, err := token.NewSecret(rnd)
	if err != nil {
		return "", err
	}
	t, err := token.Issue(hash, userID, purpose, now, ttl)
	if err != nil {
		return "", err
	}
	if _, err := r.Tokens.InvalidateUnused(ctx, userID, now, purpose); err != nil {
		return "", err
	}
	if err := r.Tokens.Add(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// AccountLinks are the purposes of every link that acts on an account as
// it is: set its password, verify its address, move it to another
// address. Setting a password or moving the address kills them all.
var AccountLinks = []token.Purpose{token.PurposeResetPassword, token.PurposeInvite, token.PurposeVerifyEmail, token.PurposeChangeEmail}

// RevokeAccess revokes every session of u but keep (RevokeSessions), then
// kills every account link of theirs: what setting a password or moving
// the address does. It returns how many sessions it revoked.
func RevokeAccess(ctx context.Context, r Repos, ids IDGenerator, u *user.User, keep uuid.UUID, now time.Time) (int, error) {
	n, err := RevokeSessions(ctx, r, ids, u, keep, now)
	if err != nil {
		return 0, err
	}
	_, err = r.Tokens.InvalidateUnused(ctx, u.ID(), now, AccountLinks...)
	return n, err
}

// RevokeSession ends s at now, with its grants (the tokens of the clients
// a browser session signed in to), and publishes its session.revoked (a
// grant's publishes nothing, see told), in the caller's transaction, which
// read s for change. Every path that ends one session goes through it, so
// that no grant outlives the session it came from and no revocation goes
// untold. It reports whether it ended s: one revoked before is left as it
// is.
func RevokeSession(ctx context.Context, r Repos, ids IDGenerator, s *session.Session, now time.Time) (bool, error) {
	if s.RevokedAt() != nil {
		return false, nil
	}
	s.Revoke(now)
	if err := r.Sessions.Update(ctx, s); err != nil {
		return false, err
	}
	if _, err := r.Sessions.RevokeGrants(ctx, s.ID(), now); err != nil {
		return false, err
	}
	return true, publishRevoked(ctx, r, ids, now, s)
}

// AddVerificationToken stores a verification token for u with a fresh
// secret and enqueues the mail with its link to u's stored address.
// passwordHash is the password chosen at the registration this token
// stands for, or "" for a resend (verifying then needs u's current
// password). Verification tokens do not replace each other: each stands
// for its own registration until one of them verifies the address, which
// invalidates the rest. Callers apply the per-address mail limit.
func AddVerificationToken(ctx context.Context, r Repos, ids IDGenerator, rnd io.Reader, links Links, u *user.User, passwordHash string, now time.Time, ttl time.Duration) error {
	secret, hash, err := token.NewSecret(rnd)
	if err != nil {
		return err
	}
	var t *token.OneTimeToken
	if passwordHash != "" {
		t, err = token.IssueForRegistration(hash, u.ID(), passwordHash, now, ttl)
	} else {
		t, err = token.Issue(hash, u.ID(), token.PurposeVerifyEmail, now, ttl)
	}
	if err != nil {
		return err
	}
	if err := r.Tokens.Add(ctx, t); err != nil {
		return err
	}
	return r.Outbox.Enqueue(ctx, OutboundMail{
		ID: ids.NewID(), Kind: MailVerifyEmail, To: u.Email().String(), UserID: u.ID(),
		Data: LinkMailData(links.VerifyEmail(secret), ttl),
	}, now)
}

// SignedIn reads the caller of a bearer endpoint; an account deleted
// since the token was issued is domain.ErrUnauthorized.
func SignedIn(ctx context.Context, users UserRepository, id uuid.UUID) (*user.User, error) {
	u, err := users.ByID(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, domain.ErrUnauthorized
	}
	return u, err
}

// UseToken consumes the one-time token with hash for purpose in the
// caller's transaction and reads its user for change. Unknown, used,
// expired and wrong-purpose tokens, and the links of a disabled account,
// are all domain.ErrInvalidToken.
func UseToken(ctx context.Context, r Repos, hash token.Hash, purpose token.Purpose, now time.Time) (*token.OneTimeToken, *user.User, error) {
	t, err := r.Tokens.ByHashForChange(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	if err := t.Use(purpose, now); err != nil {
		return nil, nil, err
	}
	if err := r.Tokens.MarkUsed(ctx, t); err != nil {
		return nil, nil, err
	}
	u, err := r.Users.ByIDForChange(ctx, t.UserID())
	if err != nil {
		return nil, nil, err
	}
	if !u.Active() {
		return nil, nil, domain.ErrInvalidToken
	}
	return t, u, nil
}

// Drain runs claim until ctx ends: at once, again at once after a claim
// that took all it could (full), otherwise after interval or as soon as
// wake signals (a nil wake never does); failures, unless ctx ended, go to
// rep as what.
func Drain(ctx context.Context, interval time.Duration, wake <-chan struct{}, rep ErrorReporter, what string, claim func(context.Context) (full bool, err error)) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
			t.Stop() // no stale tick follows Stop (Go 1.23 timers)
		}
		full, err := claim(ctx)
		if err != nil && ctx.Err() == nil {
			rep.ReportError(ctx, what, err)
		}
		if full {
			t.Reset(0)
		} else {
			t.Reset(interval)
		}
	}
}

// Every runs fn every interval until ctx ends (the first run one interval
// after the start); failures, unless ctx ended, go to rep as what.
func Every(ctx context.Context, interval time.Duration, rep ErrorReporter, what string, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				rep.ReportError(ctx, what, err)
			}
		}
	}
}

// LinkMailData is the Data of a mail carrying a one-time link: the link,
// and how long it works (whole seconds, Data["expires_in"]), which the
// mail states in words.
func LinkMailData(link string, ttl time.Duration) map[string]string {
	return map[string]string{"link": link, "expires_in": strconv.FormatInt(int64(ttl/time.Second), 10)}
}

// LockUnchanged reads u for change in r and checks that its password is
// still the one checked before the transaction: a reset or change that
// committed in between wins, and gives changed. A user deleted meanwhile
// gives gone, or user.ErrNotFound when gone is nil.
func LockUnchanged(ctx context.Context, r Repos, u *user.User, gone, changed error) (*user.User, error) {
	fresh, err := r.Users.ByIDForChange(ctx, u.ID())
	if gone != nil && errors.Is(err, user.ErrNotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	if fresh.PasswordHash() != u.PasswordHash() {
		return nil, changed
	}
	return fresh, nil
}

package session

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// MaxReuseGrace bounds the refresh reuse grace: a stolen rotated token
// gets the live one for no longer than this.
const MaxReuseGrace = time.Minute

// maxGraceHops bounds how many rotations a repeat within the grace follows
// to the live token. Tabs refreshing at once make one rotation; a chain
// this long within a few seconds is not a browser, and is reuse.
const maxGraceHops = 16

// Refresh rotates a refresh token. The presented token is locked, so of
// concurrent refreshes with one token exactly one finds it unused and
// rotates it. The others, and any repeat within the reuse grace, get that
// same successor (kept sealed on the rotated token for the grace) with a
// fresh access token, so several tabs refreshing at once all stay signed
// in. A token presented again after the grace revokes its whole session
// (reuse detection).
type Refresh struct {
	d     RefreshDeps
	idle  time.Duration
	grace time.Duration
}

// RefreshDeps are what Refresh needs.
type RefreshDeps struct {
	Tx       app.TxManager
	Tokens   TokenIssuer
	Sealer   app.Sealer
	Clock    app.Clock
	IDs      app.IDGenerator
	Random   io.Reader
	Idle     IdleTimeout
	Grace    app.RefreshReuseGrace
	Observer app.Observer
}

// NewRefresh builds the use case. A grace outside 0..MaxReuseGrace is a
// wiring bug (configuration checks it first) and panics.
func NewRefresh(d RefreshDeps) *Refresh {
	if d.Grace < 0 || time.Duration(d.Grace) > MaxReuseGrace {
		panic("session: refresh reuse grace out of range")
	}
	return &Refresh{d: d, idle: time.Duration(d.Idle), grace: time.Duration(d.Grace)}
}

// successorLabel binds a sealed successor to the token it replaced, so
// that a sealed value moved to another row does not open.
func successorLabel(rotated token.Hash) string {
	return "refresh-successor:" + hex.EncodeToString(rotated[:])
}

// Handle returns a new pair for a valid refresh token of the JSON API.
func (h *Refresh) Handle(ctx context.Context, raw string, meta app.RequestMeta) (*TokenPair, error) {
	return h.rotate(ctx, "", raw, meta)
}

// Grant returns a new pair for a valid refresh token of a grant to client
// clientID (the token endpoint's refresh_token grant). A token of another
// client, or of the JSON API, is invalid here and changes nothing, as a
// grant's token is at /v1/refresh.
func (h *Refresh) Grant(ctx context.Context, clientID, raw string, meta app.RequestMeta) (*TokenPair, error) {
	return h.rotate(ctx, clientID, raw, meta)
}

func (h *Refresh) rotate(ctx context.Context, clientID, raw string, meta app.RequestMeta) (*TokenPair, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return nil, domain.ErrRefreshInvalid
	}
	var pair *TokenPair
	reused, revoked := false, false
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		rt, err := r.Sessions.RefreshTokenForChange(ctx, hash)
		if errors.Is(err, session.ErrNotFound) {
			return domain.ErrRefreshInvalid
		} else if err != nil {
			return err
		}
		// A rotated token within its grace stands for the live token of
		// its line. The tokens are locked before the session, oldest
		// first, as a rotation locks them, so no two refreshes wait on
		// each other.
		var live token.Secret
		if rt.UsedAt != nil {
			if live, err = h.liveSuccessor(ctx, r, rt, now); err != nil {
				return err
			}
		}
		s, err := r.Sessions.ByIDForChange(ctx, rt.SessionID)
		if errors.Is(err, session.ErrNotFound) {
			return domain.ErrRefreshInvalid
		} else if err != nil {
			return err
		}
		if s.ClientID() != clientID {
			return domain.ErrRefreshInvalid
		}
		if rt.UsedAt != nil && live == "" {
			// Reuse: commit the revocation, then refuse. The grace is
			// over, so the successor is erased too.
			reused, revoked = true, false
			if rt.SealedSuccessor != nil {
				if err := r.Sessions.MarkRefreshTokenUsed(ctx, hash, *rt.UsedAt, nil); err != nil {
					return err
				}
			}
			if revoked, err = app.RevokeSession(ctx, r, h.d.IDs, s, now); err != nil || !revoked {
				return err
			}
			return r.Audit.Append(ctx, meta.Event(audit.RefreshReuseDetected, s.UserID(), now, map[string]string{"session_id": s.ID().String()}))
		}
		if !s.Live(now, h.idle) {
			return domain.ErrRefreshInvalid
		}
		u, err := r.Users.ByID(ctx, s.UserID())
		if err != nil {
			return err
		}
		if !u.Active() {
			return domain.ErrRefreshInvalid
		}
		s.Touch(now)
		if err := r.Sessions.Update(ctx, s); err != nil {
			return err
		}
		if live != "" {
			// Within the grace: the same successor, a fresh access token,
			// no second rotation.
			pair, err = SignPair(ctx, h.d.Tokens, s, u, live)
			return err
		}
		if pair, err = IssuePair(ctx, r, h.d.Tokens, h.d.Random, s, u, now); err != nil {
			return err
		}
		var sealed []byte
		if h.grace > 0 {
			if sealed, err = h.d.Sealer.Seal([]byte(pair.RefreshToken.Reveal()), successorLabel(hash)); err != nil {
				return err
			}
		}
		return r.Sessions.MarkRefreshTokenUsed(ctx, hash, now, sealed)
	})
	if err != nil {
		return nil, err
	}
	if reused {
		if revoked {
			h.d.Observer.RefreshReuseDetected(ctx)
		}
		return nil, domain.ErrRefreshInvalid
	}
	return pair, nil
}

// liveSuccessor is the secret of the live token that replaced rt, when rt
// was rotated less than the grace ago: its sealed successor, and if that
// was rotated too (within its own grace, which is no shorter), that one's,
// up to maxGraceHops. "" means reuse: the grace is over or off, or the line
// is too long.
func (h *Refresh) liveSuccessor(ctx context.Context, r app.Repos, rt app.RefreshToken, now time.Time) (token.Secret, error) {
	for range maxGraceHops {
		if h.grace == 0 || rt.SealedSuccessor == nil || now.Sub(*rt.UsedAt) >= h.grace {
			return "", nil
		}
		plain, err := h.d.Sealer.Open(rt.SealedSuccessor, successorLabel(rt.Hash))
		if err != nil {
			return "", err
		}
		secret := token.Secret(plain)
		next, err := r.Sessions.RefreshTokenForChange(ctx, token.HashOf(secret))
		if errors.Is(err, session.ErrNotFound) {
			// Its session was swept with its tokens.
			return "", domain.ErrRefreshInvalid
		} else if err != nil {
			return "", err
		}
		if next.SessionID != rt.SessionID {
			return "", domain.ErrRefreshInvalid
		}
		if next.UsedAt == nil {
			return secret, nil
		}
		rt = next
	}
	return "", nil
}

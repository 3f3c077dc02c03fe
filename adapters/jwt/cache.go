package jwt

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
)

// DefaultCacheSize is how many verified tokens Verify remembers when
// Config.CacheSize is zero: about 4 MiB at most.
const DefaultCacheSize = 16384

// verifiedCache remembers tokens whose signature and claims Verify checked,
// by the SHA-256 of the whole token, until their exp: a token presented
// again skips the signature check and the JSON decoding. Only what cannot
// change for a given token is remembered; what can change is checked on
// every hit: the clock against exp (strictly), and that the key that
// signed it is still published (a retired key's tokens are refused at
// once). Whether the session is live and the user active is not the
// token's business and is read from the store on every request
// (app.SessionRepository.ForBearer). Refused tokens are never remembered,
// so garbage cannot fill it; it holds at most max tokens.
type verifiedCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	kid    string
	claims app.AccessClaims
}

// newVerifiedCache holds up to max tokens; max < 1 turns it off (nil).
func newVerifiedCache(max int) *verifiedCache {
	if max < 1 {
		return nil
	}
	return &verifiedCache{max: max, entries: make(map[[sha256.Size]byte]verifiedToken)}
}

// get returns the claims of the token with hash sum if it was verified,
// is not expired at now and its key is still in keys.
func (c *verifiedCache) get(sum [sha256.Size]byte, keys *keySet, now time.Time) (app.AccessClaims, bool) {
	if c == nil {
		return app.AccessClaims{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[sum]
	c.mu.RUnlock()
	if !ok || !now.Before(e.claims.ExpiresAt) || keys.pubs[e.kid] == nil {
		return app.AccessClaims{}, false
	}
	cl := e.claims
	cl.AMR = slices.Clone(cl.AMR) // callers may keep or change theirs
	return cl, true
}

// put remembers a token Verify accepted, signed by kid. When the cache is
// full it first forgets the expired tokens, then, if that was not enough,
// an arbitrary eighth of the rest.
func (c *verifiedCache) put(sum [sha256.Size]byte, kid string, claims app.AccessClaims, now time.Time) {
	if c == nil {
		return
	}
	claims.AMR = slices.Clone(claims.AMR)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.claims.ExpiresAt) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max-c.max/8 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[sum] = verifiedToken{kid: kid, claims: claims}
}

// len is how many tokens are remembered (tests).
func (c *verifiedCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

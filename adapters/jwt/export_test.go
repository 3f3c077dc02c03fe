package jwt

// CachedTokens is how many verified tokens t remembers, for the tests of
// the cache.
func CachedTokens(t *Tokens) int { return t.verified.len() }

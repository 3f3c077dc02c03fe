// Command verify checks a Gatehouse access token the way another service
// should before it trusts one: it is the README's "Verifying access tokens
// in another service", as a program that runs.
//
//	go run ./examples/verify [flags] TOKEN     # or the token on stdin
//
//	-issuer    http://localhost:8080                        GATEHOUSE_PUBLIC_URL
//	-jwks      http://localhost:8080/.well-known/jwks.json  the JWKS of that issuer (unset: -issuer's)
//	-audience  gatehouse                                    GATEHOUSE_JWT_AUDIENCE
//	-require-amr otp                                        refuse a token whose amr lacks it
//
// It prints the token's claims as JSON and exits 0, or says why the token
// is refused and exits 1. What it checks, in order:
//
//   - the token is a compact JWS signed with EdDSA (the algorithm is pinned:
//     "none", HS256 and the rest are refused before any key is looked up);
//   - its typ header is "at+jwt" (RFC 9068), so an ID token or another JWT
//     signed by the same key is not taken for an access token;
//   - its kid names a key of the JWKS. The JWKS is fetched once, cached for
//     its max-age, and fetched again for an unknown kid (a key rotation),
//     but at most once per -min-refetch, so tokens with made-up kids cannot
//     make the service hammer the issuer. The jku, x5u and jwk headers are
//     never followed: keys come from the configured JWKS URL only;
//   - the signature verifies with that key;
//   - iss, aud and exp (with 30 s of leeway for clock skew), and that sub
//     and exp are present;
//   - with -require-amr, that the amr claim (RFC 8176: how the session's
//     login was proven, "pwd" and, with a second factor, "otp") holds that
//     method: what a service checks before a sensitive action.
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The refusals a caller may want to tell apart.
var (
	// ErrUnknownKID: no key of the JWKS has the token's kid, even after a
	// refetch (or a refetch was not allowed yet).
	ErrUnknownKID = errors.New("unknown kid")
	// ErrWrongType: the typ header is not that of an access token.
	ErrWrongType = errors.New(`wrong typ (an access token has typ "at+jwt")`)
	// ErrBadSignature: the signature does not verify with the key the kid
	// names: the token was altered or signed by someone else.
	ErrBadSignature = errors.New("bad signature")
)

// AccessTokenType is the typ header of Gatehouse access tokens (RFC 9068).
const AccessTokenType = "at+jwt"

// Claims are the claims of a Gatehouse access token.
type Claims struct {
	jwt.Claims
	SessionID     string `json:"sid"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	// AMR is how the session's login was proven (RFC 8176): ["pwd"], or
	// ["pwd","otp"] after a second factor. Kept through refreshes.
	AMR []string `json:"amr"`
}

// ErrMissingAMR: the token's amr does not hold a method the caller needs.
var ErrMissingAMR = errors.New("amr lacks a required method")

// RequireAMR refuses claims whose amr does not hold method (e.g. "otp"
// for an action that needs a second factor).
func (c *Claims) RequireAMR(method string) error {
	if !slices.Contains(c.AMR, method) {
		return fmt.Errorf("%w: %q not in %q", ErrMissingAMR, method, c.AMR)
	}
	return nil
}

// Verifier verifies access tokens of one issuer. Its zero value is not
// usable; set the exported fields (NewVerifier gives the defaults) and
// share one Verifier between requests: it caches the JWKS.
type Verifier struct {
	Issuer   string        // the iss to expect: GATEHOUSE_PUBLIC_URL
	Audience string        // an aud to expect: GATEHOUSE_JWT_AUDIENCE
	JWKSURL  string        // where the issuer publishes its keys
	Leeway   time.Duration // clock skew allowed on exp, nbf and iat
	// MinRefetch is the least time between two JWKS fetches: an unknown
	// kid triggers one refetch only if the last fetch is older.
	MinRefetch time.Duration
	// DefaultMaxAge is how long a JWKS is used when its response has no
	// Cache-Control max-age.
	DefaultMaxAge time.Duration
	Client        *http.Client
	Now           func() time.Time

	mu        sync.Mutex
	keys      *jose.JSONWebKeySet
	fetchedAt time.Time     // of the last fetch, successful or not
	maxAge    time.Duration // of the cached set
}

// NewVerifier returns a verifier with the defaults of this program.
func NewVerifier(issuer, audience, jwksURL string) *Verifier {
	return &Verifier{
		Issuer: issuer, Audience: audience, JWKSURL: jwksURL,
		Leeway:        30 * time.Second,
		MinRefetch:    30 * time.Second,
		DefaultMaxAge: 5 * time.Minute, // what Gatehouse sends: max-age=300
		Client:        &http.Client{Timeout: 10 * time.Second},
		Now:           time.Now,
	}
}

// Verify checks raw and returns its claims.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA}) // pin the algorithm
	if err != nil {
		return nil, fmt.Errorf("not an EdDSA-signed JWT: %w", err)
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("not a token with exactly one signature")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return nil, fmt.Errorf("%w: typ is %q", ErrWrongType, typ)
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: the token names no kid", ErrUnknownKID)
	}
	key, err := v.key(ctx, h.KeyID) // from our JWKS only: never jku, x5u or an embedded jwk
	if err != nil {
		return nil, err
	}
	var c Claims
	if err := tok.Claims(key, &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, ErrBadSignature
		}
		return nil, fmt.Errorf("claims: %w", err)
	}
	if c.Expiry == nil || c.Subject == "" {
		return nil, errors.New("the token has no exp or no sub")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{
		Issuer:      v.Issuer,
		AnyAudience: jwt.Audience{v.Audience},
		Time:        v.Now(),
	}, v.Leeway); err != nil {
		return nil, err
	}
	return &c, nil
}

// isAccessTokenType accepts "at+jwt" and its full media type
// "application/at+jwt" (RFC 9068, section 4), in any case.
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == AccessTokenType || typ == "application/"+AccessTokenType
}

// key returns the Ed25519 key of the JWKS with this kid, fetching the JWKS
// when none is cached or the cached one is past its max-age, and once more
// for an unknown kid if the last fetch is older than MinRefetch.
func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.Now()
	if v.keys == nil || now.Sub(v.fetchedAt) >= v.maxAge {
		if err := v.fetch(ctx, now); err != nil {
			return nil, err
		}
	}
	if k, ok := lookup(v.keys, kid); ok {
		return k, nil
	}
	if now.Sub(v.fetchedAt) < v.MinRefetch {
		return nil, fmt.Errorf("%w %q (the JWKS was fetched less than %s ago)", ErrUnknownKID, kid, v.MinRefetch)
	}
	if err := v.fetch(ctx, now); err != nil { // the issuer may have a new key
		return nil, err
	}
	if k, ok := lookup(v.keys, kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKID, kid)
}

// lookup finds a public Ed25519 signing key with kid in set.
func lookup(set *jose.JSONWebKeySet, kid string) (ed25519.PublicKey, bool) {
	if set == nil {
		return nil, false
	}
	for _, k := range set.Key(kid) {
		pub, ok := k.Key.(ed25519.PublicKey)
		if ok && (k.Use == "" || k.Use == "sig") && (k.Algorithm == "" || k.Algorithm == string(jose.EdDSA)) {
			return pub, true
		}
	}
	return nil, false
}

// fetch replaces the cached JWKS. A failed fetch counts for MinRefetch too,
// so an issuer that is down is not asked again at every request.
func (v *Verifier) fetch(ctx context.Context, now time.Time) error {
	v.fetchedAt = now
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.Client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: %s answered %s", v.JWKSURL, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("jwks: %s: %w", v.JWKSURL, err)
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("jwks: %s has no keys", v.JWKSURL)
	}
	v.keys, v.maxAge = &set, maxAge(resp.Header.Get("Cache-Control"), v.DefaultMaxAge)
	return nil
}

// maxAge reads max-age from a Cache-Control header.
func maxAge(cacheControl string, fallback time.Duration) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(d)), "max-age="); ok {
			if s, err := strconv.Atoi(v); err == nil && s >= 0 {
				return time.Duration(s) * time.Second
			}
		}
	}
	return fallback
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the program: 0 for a valid token, 1 for a refused one, 2 for a
// usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: verify [flags] TOKEN   (or the token on stdin)")
		fs.PrintDefaults()
	}
	issuer := fs.String("issuer", "http://localhost:8080", "expected iss: the issuer's GATEHOUSE_PUBLIC_URL")
	jwksURL := fs.String("jwks", "http://localhost:8080/.well-known/jwks.json", "URL of the issuer's JWKS (default: the issuer's /.well-known/jwks.json)")
	audience := fs.String("audience", "gatehouse", "expected aud: the issuer's GATEHOUSE_JWT_AUDIENCE")
	requireAMR := fs.String("require-amr", "", "refuse a token whose amr claim lacks this method (e.g. otp: a second factor)")
	minRefetch := fs.Duration("min-refetch", 30*time.Second, "least time between two JWKS fetches (an unknown kid refetches once)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	jwksSet := false
	fs.Visit(func(f *flag.Flag) { jwksSet = jwksSet || f.Name == "jwks" })
	if !jwksSet { // the issuer's own JWKS
		*jwksURL = strings.TrimRight(*issuer, "/") + "/.well-known/jwks.json"
	}
	var raw string
	switch fs.NArg() {
	case 0:
		line, err := bufio.NewReader(io.LimitReader(stdin, 64*1024)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(stderr, "verify: reading the token:", err)
			return 2
		}
		raw = line
	case 1:
		raw = fs.Arg(0)
	default:
		fs.Usage()
		return 2
	}
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "Bearer ")
	if raw == "" {
		fs.Usage()
		return 2
	}
	v := NewVerifier(*issuer, *audience, *jwksURL)
	v.MinRefetch = *minRefetch
	c, err := v.Verify(ctx, raw)
	if err == nil && *requireAMR != "" {
		err = c.RequireAMR(*requireAMR)
	}
	if err != nil {
		fmt.Fprintln(stderr, "verify: token refused:", err)
		return 1
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "verify:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}

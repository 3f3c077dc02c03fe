// Package argon2id implements app.PasswordHasher with argon2id and PHC
// strings, bounding how many hashes run at once so that a flood of logins
// cannot exhaust memory.
package argon2id

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"golang.org/x/crypto/argon2"
)

var _ app.PasswordHasher = (*Hasher)(nil)

// Fixed encoding choices of every hash this package makes.
const (
	SaltLength = 16 // bytes of random salt
	KeyLength  = 32 // bytes of derived key
)

// Bounds on the cost parameters, enforced both on the configuration and on
// stored hashes before they are verified, so that a corrupt or hostile hash
// in the database cannot make Verify allocate without limit or panic.
const (
	MaxMemoryKiB  = 4 * 1024 * 1024 // 4 GiB
	MaxIterations = 1024

	minStoredSaltLength = 8
	minStoredKeyLength  = 16
	maxStoredKeyLength  = 1024
	maxStoredSaltLength = 1024
)

// DefaultMaxWait is how long Hash and Verify wait for a free slot when
// Options.MaxWait is zero.
const DefaultMaxWait = 2 * time.Second

// Params is the argon2id cost.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams is the OWASP-recommended minimum cost (19 MiB, t=2, p=1),
// also the service's configuration default.
var DefaultParams = Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}

// Validate reports whether p is a usable cost.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("argon2id: parallelism must be at least 1")
	case p.Iterations < 1:
		return errors.New("argon2id: iterations must be at least 1")
	case p.Iterations > MaxIterations:
		return fmt.Errorf("argon2id: iterations must be at most %d", MaxIterations)
	case p.MemoryKiB < 8*uint32(p.Parallelism):
		return fmt.Errorf("argon2id: memory must be at least 8 KiB per lane (%d KiB)", 8*uint32(p.Parallelism))
	case p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("argon2id: memory must be at most %d KiB", MaxMemoryKiB)
	}
	return nil
}

// Options configures a Hasher.
type Options struct {
	Params
	// MaxConcurrent bounds the hashes (and verifications) running at once;
	// zero means runtime.NumCPU().
	MaxConcurrent int
	// MaxWait bounds how long a call waits for a free slot before it gives
	// up with domain.ErrOverloaded; zero means DefaultMaxWait.
	MaxWait time.Duration
	// Observer, when set, hears how the slots are used (metrics).
	Observer Observer
}

// Slots is how many hashes may run at once: MaxConcurrent, or
// runtime.NumCPU() when it is zero.
func (o Options) Slots() int {
	if o.MaxConcurrent == 0 {
		return runtime.NumCPU()
	}
	return o.MaxConcurrent
}

// MemoryBound is the most argon2 memory, in bytes, that hashes at the
// configured cost hold at once: Slots × MemoryKiB. Each hash allocates its
// memory afresh, so the garbage of finished hashes comes on top until the
// garbage collector frees it.
func (o Options) MemoryBound() int64 {
	return int64(o.Slots()) * int64(o.MemoryKiB) * 1024
}

// Observer hears how the hasher's slots are used. Calls come from every
// hashing goroutine at once and must be cheap.
type Observer interface {
	// SlotAcquired: a call got a slot after waiting wait (zero when one
	// was free) and now hashes.
	SlotAcquired(wait time.Duration)
	// SlotRefused: a call gave up after waiting wait, because no slot
	// freed up in time (domain.ErrOverloaded) or its context ended.
	SlotRefused(wait time.Duration)
	// SlotReleased: a call that acquired a slot is done with it.
	SlotReleased()
}

// nopObserver is the Observer of a hasher nobody watches.
type nopObserver struct{}

func (nopObserver) SlotAcquired(time.Duration) {}
func (nopObserver) SlotRefused(time.Duration)  {}
func (nopObserver) SlotReleased()              {}

// Hasher hashes and verifies passwords with argon2id. It is safe for
// concurrent use.
type Hasher struct {
	params  Params
	sem     chan struct{}
	maxWait time.Duration
	obs     Observer
	dummy   string
}

// New validates opts, fills in defaults and precomputes the dummy hash.
func New(opts Options) (*Hasher, error) {
	if err := opts.Params.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxConcurrent < 0 {
		return nil, errors.New("argon2id: MaxConcurrent must not be negative")
	}
	opts.MaxConcurrent = opts.Slots()
	if opts.MaxWait < 0 {
		return nil, errors.New("argon2id: MaxWait must not be negative")
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	h := &Hasher{
		params:  opts.Params,
		sem:     make(chan struct{}, opts.MaxConcurrent),
		maxWait: opts.MaxWait,
		obs:     opts.Observer,
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("argon2id: dummy password: %w", err)
	}
	dummy, err := h.create(base64.RawStdEncoding.EncodeToString(secret))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the configured cost.
func (h *Hasher) Params() Params { return h.params }

// Hash returns a PHC string of pw with the configured cost. It waits for a
// free slot; see Options.
func (h *Hasher) Hash(ctx context.Context, pw user.Password) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.create(pw.Reveal())
}

// Verify checks pw against the PHC string encoded in constant time and
// reports whether encoded was made with other parameters than the configured
// ones. A malformed hash, or one whose cost is out of bounds, is an error.
func (h *Hasher) Verify(ctx context.Context, pw user.Password, encoded string) (ok, needsRehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	other := argon2.IDKey([]byte(pw.Reveal()), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(key, other) == 1
	needsRehash = p.Memory != h.params.MemoryKiB ||
		p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism ||
		len(salt) != SaltLength || len(key) != KeyLength
	return ok, needsRehash, nil
}

// DummyHash is a hash of a random secret with the configured cost, for
// verifying against when no user exists.
func (h *Hasher) DummyHash() string { return h.dummy }

func (h *Hasher) create(pw string) (string, error) {
	s, err := argon2id.CreateHash(pw, &argon2id.Params{
		Memory:      h.params.MemoryKiB,
		Iterations:  h.params.Iterations,
		Parallelism: h.params.Parallelism,
		SaltLength:  SaltLength,
		KeyLength:   KeyLength,
	})
	if err != nil {
		return "", fmt.Errorf("argon2id: hash: %w", err)
	}
	return s, nil
}

// decode parses a PHC string and checks that its cost and lengths are within
// bounds, since argon2.IDKey panics on zero parameters and allocates memory
// as the hash says.
func decode(encoded string) (*argon2id.Params, []byte, []byte, error) {
	if len(encoded) > 4096 {
		return nil, nil, nil, argon2id.ErrInvalidHash
	}
	p, salt, key, err := argon2id.DecodeHash(encoded)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("argon2id: malformed hash: %w", err)
	}
	if err := (Params{MemoryKiB: p.Memory, Iterations: p.Iterations, Parallelism: p.Parallelism}).Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("argon2id: stored hash: %w", err)
	}
	if len(salt) < minStoredSaltLength || len(salt) > maxStoredSaltLength ||
		len(key) < minStoredKeyLength || len(key) > maxStoredKeyLength {
		return nil, nil, nil, fmt.Errorf("argon2id: stored hash: %w", argon2id.ErrInvalidHash)
	}
	return p, salt, key, nil
}

// acquire takes a slot, waiting at most maxWait; it gives
// domain.ErrOverloaded when none frees up in time and ctx's error when ctx
// ends first.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		h.obs.SlotRefused(0)
		return err
	}
	select {
	case h.sem <- struct{}{}:
		h.obs.SlotAcquired(0)
		return nil
	default:
	}
	start := time.Now()
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		h.obs.SlotAcquired(time.Since(start))
		return nil
	case <-ctx.Done():
		h.obs.SlotRefused(time.Since(start))
		return ctx.Err()
	case <-t.C:
		h.obs.SlotRefused(time.Since(start))
		return domain.ErrOverloaded
	}
}

func (h *Hasher) release() {
	<-h.sem
	h.obs.SlotReleased()
}

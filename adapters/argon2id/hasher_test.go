package argon2id

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

var cheap = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func newHasher(t testing.TB, opts Options) *Hasher {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func pw(s string) user.Password { return user.NormalizePassword(s) }

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{Params: cheap})
	ctx := context.Background()
	enc, err := h.Hash(ctx, pw("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected PHC string %q", enc)
	}
	ok, rehash, err := h.Verify(ctx, pw("correct horse battery staple"), enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(ctx, pw("correct horse battery stapler"), enc)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	enc2, err := h.Hash(ctx, pw("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newHasher(t, Options{Params: Params{MemoryKiB: 32, Iterations: 1, Parallelism: 1}})
	cur := newHasher(t, Options{Params: cheap})
	enc, err := old.Hash(ctx, pw("a long enough password"))
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := cur.Verify(ctx, pw("a long enough password"), enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify(old params) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	for name, p := range map[string]Params{
		"iterations":  {MemoryKiB: 64, Iterations: 2, Parallelism: 1},
		"parallelism": {MemoryKiB: 64, Iterations: 1, Parallelism: 2},
	} {
		other := newHasher(t, Options{Params: p})
		enc, err := other.Hash(ctx, pw("a long enough password"))
		if err != nil {
			t.Fatal(err)
		}
		if _, rehash, err := cur.Verify(ctx, pw("a long enough password"), enc); err != nil || !rehash {
			t.Errorf("%s: needsRehash = %v, err = %v; want true", name, rehash, err)
		}
	}
}

func TestMalformedHash(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{Params: cheap})
	good, err := h.Hash(context.Background(), pw("whatever password"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, key
	for name, enc := range map[string]string{
		"empty":         "",
		"garbage":       "not a hash",
		"bcrypt":        "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":       "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"version":       "$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"zero p":        "$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"zero t":        "$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"huge m":        "$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5],
		"p overflow":    "$argon2id$v=19$m=64,t=1,p=300$" + parts[4] + "$" + parts[5],
		"bad salt b64":  "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + parts[5],
		"empty key":     "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		"short salt":    "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + parts[5],
		"extra segment": good + "$x",
		"huge":          good + strings.Repeat("A", 10000),
	} {
		ok, _, err := h.Verify(context.Background(), pw("whatever password"), enc)
		if err == nil || ok {
			t.Errorf("%s: Verify = %v, %v; want an error", name, ok, err)
		}
	}
}

func TestDummyHash(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{Params: cheap})
	d := h.DummyHash()
	if !strings.HasPrefix(d, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("DummyHash = %q; want configured params", d)
	}
	ok, rehash, err := h.Verify(context.Background(), pw("some random guess"), d)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(dummy) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	if h2 := newHasher(t, Options{Params: cheap}); h2.DummyHash() == d {
		t.Fatal("dummy hashes of two hashers are equal")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"zero":             {},
		"no parallelism":   {Params: Params{MemoryKiB: 64, Iterations: 1}},
		"no iterations":    {Params: Params{MemoryKiB: 64, Parallelism: 1}},
		"memory per lane":  {Params: Params{MemoryKiB: 31, Iterations: 1, Parallelism: 4}},
		"memory too large": {Params: Params{MemoryKiB: MaxMemoryKiB + 1, Iterations: 1, Parallelism: 1}},
		"iterations large": {Params: Params{MemoryKiB: 64, Iterations: MaxIterations + 1, Parallelism: 1}},
		"negative slots":   {Params: cheap, MaxConcurrent: -1},
		"negative wait":    {Params: cheap, MaxWait: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New succeeded; want an error", name)
		}
	}
	h := newHasher(t, Options{Params: Params{MemoryKiB: 32, Iterations: 1, Parallelism: 4}})
	if cap(h.sem) < 1 || h.maxWait != DefaultMaxWait {
		t.Fatalf("defaults not applied: slots %d, wait %v", cap(h.sem), h.maxWait)
	}
}

func TestOverloaded(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{Params: cheap, MaxConcurrent: 1, MaxWait: 50 * time.Millisecond})
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil { // hold the only slot
		t.Fatal(err)
	}
	start := time.Now()
	_, err := h.Hash(ctx, pw("a long enough password"))
	if !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("Hash with no free slot: err = %v; want ErrOverloaded", err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Fatalf("gave up after %v; want about MaxWait", waited)
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.RetryAfter != time.Second {
		t.Fatalf("err = %#v; want a domain error with RetryAfter 1s", err)
	}
	if _, _, err := h.Verify(ctx, pw("a long enough password"), h.DummyHash()); !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("Verify with no free slot: err = %v; want ErrOverloaded", err)
	}
	h.release()
	if _, err := h.Hash(ctx, pw("a long enough password")); err != nil {
		t.Fatalf("Hash after release: %v", err)
	}
	if len(h.sem) != 0 {
		t.Fatalf("slots leaked: %d held", len(h.sem))
	}
}

func TestContextCanceledWhileWaiting(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{Params: cheap, MaxConcurrent: 1, MaxWait: time.Minute})
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, pw("a long enough password"), h.DummyHash())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Verify did not return after cancel")
	}
	// An already ended context never takes a slot.
	if _, err := h.Hash(ctx, pw("a long enough password")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(canceled ctx): err = %v; want context.Canceled", err)
	}
}

// slotLog records what an Observer hears.
type slotLog struct {
	mu                          sync.Mutex
	acquired, refused, released int
	inFlight, maxInFlight       int
	longestWait                 time.Duration
}

func (l *slotLog) SlotAcquired(wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquired++
	l.inFlight++
	l.maxInFlight = max(l.maxInFlight, l.inFlight)
	l.longestWait = max(l.longestWait, wait)
}

func (l *slotLog) SlotRefused(wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	l.longestWait = max(l.longestWait, wait)
}

func (l *slotLog) SlotReleased() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released++
	l.inFlight--
}

// The observer hears every acquired slot once released, every refusal,
// and how long each call waited.
func TestObserverHearsSlots(t *testing.T) {
	t.Parallel()
	log := &slotLog{}
	h := newHasher(t, Options{Params: cheap, MaxConcurrent: 2, MaxWait: 30 * time.Millisecond, Observer: log})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			encoded, err := h.Hash(ctx, pw("a long enough password"))
			if err == nil {
				_, _, err = h.Verify(ctx, pw("a long enough password"), encoded)
			}
			if err != nil && !errors.Is(err, domain.ErrOverloaded) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := h.acquire(ctx); err != nil { // hold one slot: both are taken below
		t.Fatal(err)
	}
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(ctx, pw("a long enough password")); !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("Hash with no free slot: %v", err)
	}
	h.release()
	h.release()

	log.mu.Lock()
	defer log.mu.Unlock()
	if log.acquired != log.released || log.inFlight != 0 {
		t.Fatalf("acquired %d, released %d, in flight %d", log.acquired, log.released, log.inFlight)
	}
	if log.acquired < 2 || log.refused < 1 || log.maxInFlight > 2 {
		t.Fatalf("acquired %d, refused %d, at most %d in flight", log.acquired, log.refused, log.maxInFlight)
	}
	if log.longestWait < 25*time.Millisecond {
		t.Fatalf("longest wait %v; the refused call waited about MaxWait", log.longestWait)
	}
}

func TestMemoryBound(t *testing.T) {
	t.Parallel()
	o := Options{Params: DefaultParams, MaxConcurrent: 3}
	if got, want := o.MemoryBound(), int64(3*19456*1024); got != want {
		t.Fatalf("MemoryBound = %d; want %d", got, want)
	}
	o.MaxConcurrent = 0
	if got, want := o.Slots(), runtime.NumCPU(); got != want {
		t.Fatalf("Slots with MaxConcurrent 0 = %d; want NumCPU %d", got, want)
	}
	h := newHasher(t, Options{Params: cheap})
	if cap(h.sem) != runtime.NumCPU() {
		t.Fatalf("hasher has %d slots; want NumCPU %d", cap(h.sem), runtime.NumCPU())
	}
}

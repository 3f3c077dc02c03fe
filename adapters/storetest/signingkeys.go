package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

func init() {
	// The ring holds one current key per algorithm per database: these
	// cases run alone.
	registerSerial("KeyRing/AddRefusesASecondCurrentOrNext", testKeyRingAdd)
	registerSerial("KeyRing/AlgorithmsSideBySide", testKeyRingAlgorithmsSideBySide)
	registerSerial("KeyRing/RacingFirstKeysLetOnePerAlgorithmWin", testKeyRingRacingFirstKeys)
	registerSerial("KeyRing/RacingPromotionsLetExactlyOneWin", testKeyRingRacingPromotion)
	registerSerial("KeyRing/PromotingOneAlgorithmLeavesTheOther", testKeyRingPromotionLeavesTheOther)
	registerSerial("KeyRing/DeleteGoneKeepsPublishedKeys", testKeyRingDeleteGone)
	registerSerial("KeyRing/TakeUnsealedMovesTheOldKeyOut", testKeyRingTakeUnsealed)
	register("Settings/PutIfAbsentRacersAgree", testSettingsPutIfAbsent)
}

// emptyRing deletes every key, so that a case starts from a known ring.
func emptyRing(t *testing.T, s Store) {
	t.Helper()
	must(t, s.Exec(testCtx(t), `DELETE FROM signing_key_ring`))
}

func testKey(kid string) []byte { return []byte("sealed:" + kid) }

func testKeyRingAdd(t *testing.T, s Store) {
	ctx := testCtx(t)
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	cur := signingkey.NewCurrent(ed, "kid-a", testKey("kid-a"), now)
	must(t, s.Repos.SigningKeys.Add(ctx, cur))
	if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewCurrent(ed, "kid-b", testKey("kid-b"), now)); !errors.Is(err, app.ErrKeyRingChanged) {
		t.Fatalf("second current: %v, want ErrKeyRingChanged", err)
	}
	next := signingkey.NewNext(ed, "kid-c", testKey("kid-c"), now.Add(time.Second), 10*time.Minute)
	must(t, s.Repos.SigningKeys.Add(ctx, next))
	if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewNext(ed, "kid-d", testKey("kid-d"), now, time.Minute)); !errors.Is(err, signingkey.ErrRotationPending) {
		t.Fatalf("second next: %v, want ErrRotationPending", err)
	}
	if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewNext(rs, "kid-a", testKey("x"), now, time.Minute)); err == nil {
		t.Fatal("a kid stored twice")
	}
	ring, err := s.Repos.SigningKeys.Keys(ctx)
	must(t, err)
	if len(ring) != 2 {
		t.Fatalf("ring has %d keys, want 2: %+v", len(ring), ring)
	}
	got := ring[0]
	if got.KID != "kid-a" || got.Alg != ed || got.State != signingkey.Current || !bytes.Equal(got.Sealed, cur.Sealed) ||
		!got.CreatedAt.Equal(now) || !got.ActivateAt.Equal(now) || got.ActivatedAt == nil || !got.ActivatedAt.Equal(now) ||
		got.RetiredAt != nil || got.PublishUntil != nil {
		t.Fatalf("current key read back as %+v", got)
	}
	if n := ring[1]; n.KID != "kid-c" || n.Alg != ed || n.State != signingkey.Next || !n.ActivateAt.Equal(next.ActivateAt) || n.ActivatedAt != nil {
		t.Fatalf("next key read back as %+v", n)
	}
}

// ed and rs are the algorithms, short.
const (
	ed = signingkey.EdDSA
	rs = signingkey.RS256
)

// Each algorithm has its own current and next key: a current and a next
// key of both are stored side by side and read back with their algorithm,
// and a second of either is refused for that algorithm alone.
func testKeyRingAlgorithmsSideBySide(t *testing.T, s Store) {
	ctx := testCtx(t)
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, k := range []signingkey.Key{
		signingkey.NewCurrent(ed, "ed-cur", testKey("ed-cur"), now),
		signingkey.NewCurrent(rs, "rs-cur", testKey("rs-cur"), now.Add(time.Microsecond)),
		signingkey.NewNext(ed, "ed-next", testKey("ed-next"), now.Add(2*time.Microsecond), time.Minute),
		signingkey.NewNext(rs, "rs-next", testKey("rs-next"), now.Add(3*time.Microsecond), time.Minute),
	} {
		if err := s.Repos.SigningKeys.Add(ctx, k); err != nil {
			t.Fatalf("add %s %s key %s: %v", k.Alg, k.State, k.KID, err)
		}
	}
	for _, alg := range signingkey.Algorithms() {
		if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewCurrent(alg, "cur-2-"+string(alg), testKey("x"), now)); !errors.Is(err, app.ErrKeyRingChanged) {
			t.Fatalf("second current %s key: %v, want ErrKeyRingChanged", alg, err)
		}
		if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewNext(alg, "next-2-"+string(alg), testKey("x"), now, time.Minute)); !errors.Is(err, signingkey.ErrRotationPending) {
			t.Fatalf("second next %s key: %v, want ErrRotationPending", alg, err)
		}
	}
	ring, err := s.Repos.SigningKeys.Keys(ctx)
	must(t, err)
	if len(ring) != 4 {
		t.Fatalf("ring has %d keys, want 4: %+v", len(ring), ring)
	}
	for _, alg := range signingkey.Algorithms() {
		prefix := map[signingkey.Algorithm]string{ed: "ed-", rs: "rs-"}[alg]
		c, ok := ring.Current(alg)
		if !ok || c.KID != prefix+"cur" || !bytes.Equal(c.Sealed, testKey(prefix+"cur")) {
			t.Fatalf("current %s key read back as %+v", alg, c)
		}
		if n, ok := ring.Next(alg); !ok || n.KID != prefix+"next" {
			t.Fatalf("next %s key read back as %+v", alg, n)
		}
	}
}

// Ten instances on an empty ring each make the first key of both
// algorithms at once: one current key of each algorithm is stored, and
// every other instance is told the ring changed.
func testKeyRingRacingFirstKeys(t *testing.T, s Store) {
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	ring := racePerAlgorithm(t, s, "first key", app.ErrKeyRingChanged, func(ctx context.Context, r app.Repos, i int, alg signingkey.Algorithm) error {
		kid := fmt.Sprint("first-", i)
		return r.SigningKeys.Add(ctx, signingkey.NewCurrent(alg, kid, testKey(kid), now))
	})
	algs := signingkey.Algorithms()
	for _, alg := range algs {
		if _, ok := ring.Current(alg); !ok {
			t.Fatalf("no current %s key", alg)
		}
	}
	if len(ring) != len(algs) {
		t.Fatalf("ring has %d keys, want %d", len(ring), len(algs))
	}
}

// Ten instances see the next key of each algorithm due at once and each
// tries, in one transaction, to retire the current key of that algorithm
// and promote its next one: for each algorithm one succeeds, the others
// change nothing.
func testKeyRingRacingPromotion(t *testing.T, s Store) {
	ctx := testCtx(t)
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	type pair struct{ cur, next signingkey.Key }
	pairs := map[signingkey.Algorithm]pair{}
	for _, alg := range signingkey.Algorithms() {
		p := pair{
			cur:  signingkey.NewCurrent(alg, "old-"+string(alg), testKey("old-"+string(alg)), now.Add(-time.Hour)),
			next: signingkey.NewNext(alg, "new-"+string(alg), testKey("new-"+string(alg)), now.Add(-2*time.Minute), time.Minute), // due since a minute
		}
		pairs[alg] = p
		for _, k := range []signingkey.Key{p.cur, p.next} {
			must(t, s.Repos.SigningKeys.Add(ctx, k))
		}
	}
	errLost := errors.New("lost")
	ring := racePerAlgorithm(t, s, "promotion", errLost, func(ctx context.Context, r app.Repos, _ int, alg signingkey.Algorithm) error {
		p := pairs[alg]
		promoted, retired := signingkey.Promote(p.next, p.cur, now, 15*time.Minute, 30*time.Second)
		for _, step := range []struct {
			k    signingkey.Key
			from signingkey.State
		}{{retired, signingkey.Current}, {promoted, signingkey.Next}} {
			ok, err := r.SigningKeys.Save(ctx, step.k, step.from)
			if err != nil {
				return err
			}
			if !ok {
				return errLost
			}
		}
		return nil
	})
	for _, alg := range signingkey.Algorithms() {
		c, ok := ring.Current(alg)
		if !ok || c.KID != "new-"+string(alg) {
			t.Fatalf("current %s key is %+v", alg, c)
		}
		old, _ := ring.ByID("old-" + string(alg))
		if old.State != signingkey.Retired || old.Alg != alg || old.PublishUntil == nil || !old.PublishUntil.Equal(now.Add(-time.Minute).Add(30*time.Second+15*time.Minute)) {
			t.Fatalf("old %s key is %+v", alg, old)
		}
		if _, pending := ring.Next(alg); pending {
			t.Fatalf("a next %s key is left", alg)
		}
	}
}

// racePerAlgorithm runs attempt ten times for each signing-key algorithm,
// all at once, each in a transaction of its own (i numbers the attempts),
// and fails the test unless, for each algorithm, exactly one attempt
// succeeds and every other fails with lost. It returns the ring after.
func racePerAlgorithm(t *testing.T, s Store, what string, lost error, attempt func(ctx context.Context, r app.Repos, i int, alg signingkey.Algorithm) error) signingkey.Ring {
	t.Helper()
	ctx := testCtx(t)
	const n = 10
	algs := signingkey.Algorithms()
	results := make([]error, n*len(algs))
	race(len(results), func(i int) {
		results[i] = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			return attempt(ctx, r, i, algs[i%len(algs)])
		})
	})
	won := map[signingkey.Algorithm]int{}
	for i, err := range results {
		switch {
		case err == nil:
			won[algs[i%len(algs)]]++
		case errors.Is(err, lost):
		default:
			t.Errorf("%s: %v", what, err)
		}
	}
	for _, alg := range algs {
		if won[alg] != 1 {
			t.Fatalf("%s of a %s key: %d succeeded, want exactly 1", what, alg, won[alg])
		}
	}
	return mustGet(s.Repos.SigningKeys.Keys(ctx))(t)
}

// Promoting the next key of one algorithm leaves the keys of the other
// exactly as they were, its next key included.
func testKeyRingPromotionLeavesTheOther(t *testing.T, s Store) {
	ctx := testCtx(t)
	for _, alg := range signingkey.Algorithms() {
		emptyRing(t, s)
		other := rs
		if alg == rs {
			other = ed
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		cur := signingkey.NewCurrent(alg, "cur", testKey("cur"), now.Add(-time.Hour))
		next := signingkey.NewNext(alg, "next", testKey("next"), now.Add(-2*time.Minute), time.Minute)
		otherCur := signingkey.NewCurrent(other, "other-cur", testKey("other-cur"), now.Add(-time.Hour))
		otherNext := signingkey.NewNext(other, "other-next", testKey("other-next"), now.Add(-2*time.Minute), time.Minute)
		for _, k := range []signingkey.Key{cur, next, otherCur, otherNext} {
			must(t, s.Repos.SigningKeys.Add(ctx, k))
		}
		promoted, retired := signingkey.Promote(next, cur, now, 15*time.Minute, 30*time.Second)
		must(t, s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			for _, step := range []struct {
				k    signingkey.Key
				from signingkey.State
			}{{retired, signingkey.Current}, {promoted, signingkey.Next}} {
				if ok, err := r.SigningKeys.Save(ctx, step.k, step.from); err != nil || !ok {
					return fmt.Errorf("save %s: %v %v", step.k.KID, ok, err)
				}
			}
			return nil
		}))
		ring, err := s.Repos.SigningKeys.Keys(ctx)
		must(t, err)
		if c, _ := ring.Current(alg); c.KID != "next" {
			t.Fatalf("%s: current is %+v", alg, c)
		}
		for _, want := range []signingkey.Key{otherCur, otherNext} {
			got, ok := ring.ByID(want.KID)
			if !ok || got.Alg != other || got.State != want.State || !got.ActivateAt.Equal(want.ActivateAt) ||
				(got.ActivatedAt == nil) != (want.ActivatedAt == nil) || got.RetiredAt != nil || got.PublishUntil != nil {
				t.Fatalf("promoting the %s key changed the %s key %s: %+v", alg, other, want.KID, got)
			}
		}
	}
}

func testKeyRingDeleteGone(t *testing.T, s Store) {
	ctx := testCtx(t)
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for kid, until := range map[string]time.Duration{"gone": -time.Second, "edge": 0, "kept": time.Minute} {
		k := signingkey.NewCurrent(rs, kid, testKey(kid), now.Add(-time.Hour)).RetireNow(now.Add(-time.Hour))
		u := now.Add(until)
		k.PublishUntil = &u
		must(t, s.Repos.SigningKeys.Add(ctx, k))
	}
	must(t, s.Repos.SigningKeys.Add(ctx, signingkey.NewCurrent(rs, "live", testKey("live"), now.Add(-time.Hour))))
	n, err := s.Repos.SigningKeys.DeleteGone(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("DeleteGone = %d, %v; want 2 (publication ended before or at now)", n, err)
	}
	ring, err := s.Repos.SigningKeys.Keys(ctx)
	must(t, err)
	var kids []string
	for _, k := range ring {
		kids = append(kids, k.KID)
	}
	if fmt.Sprint(kids) != "[kept live]" && fmt.Sprint(kids) != "[live kept]" {
		t.Fatalf("left %v, want kept and live", kids)
	}
}

// The plain seed of versions before the ring is handed over once and is
// then gone from the database.
func testKeyRingTakeUnsealed(t *testing.T, s Store) {
	ctx := testCtx(t)
	seed := bytes.Repeat([]byte{7}, 32)
	must(t, s.Exec(ctx, `INSERT INTO signing_keys (id, private_key, created_at) VALUES ('current', $1, `+s.nowSQL()+`)`, seed))
	got, err := s.Repos.SigningKeys.TakeUnsealed(ctx)
	if err != nil || !bytes.Equal(got, seed) {
		t.Fatalf("TakeUnsealed = %x, %v", got, err)
	}
	if got, err := s.Repos.SigningKeys.TakeUnsealed(ctx); err != nil || got != nil {
		t.Fatalf("second TakeUnsealed = %x, %v; want nothing", got, err)
	}
	if n, err := s.Count(ctx, `SELECT count(*) FROM signing_keys`); err != nil || n != 0 {
		t.Fatalf("signing_keys has %d rows (%v)", n, err)
	}
}

func testSettingsPutIfAbsent(t *testing.T, s Store) {
	ctx := testCtx(t)
	name := "test-" + fmt.Sprint(time.Now().UnixNano())
	if v, err := s.Settings.Get(ctx, name); err != nil || v != nil {
		t.Fatalf("Get of an unset name = %q, %v", v, err)
	}
	const n = 10
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.Settings.PutIfAbsent(ctx, name, []byte(fmt.Sprint("value-", i)), time.Now())
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("racers disagree: %q and %q", got[i], got[0])
		}
	}
	if v, err := s.Settings.Get(ctx, name); err != nil || !bytes.Equal(v, got[0]) {
		t.Fatalf("Get = %q, %v; want %q", v, err, got[0])
	}
}

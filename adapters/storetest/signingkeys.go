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
	// The ring holds one current key per database: these cases run alone.
	registerSerial("KeyRing/AddRefusesASecondCurrentOrNext", testKeyRingAdd)
	registerSerial("KeyRing/RacingPromotionsLetExactlyOneWin", testKeyRingRacingPromotion)
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
	cur := signingkey.NewCurrent("kid-a", testKey("kid-a"), now)
	must(t, s.Repos.SigningKeys.Add(ctx, cur))
	if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewCurrent("kid-b", testKey("kid-b"), now)); !errors.Is(err, app.ErrKeyRingChanged) {
		t.Fatalf("second current: %v, want ErrKeyRingChanged", err)
	}
	next := signingkey.NewNext("kid-c", testKey("kid-c"), now.Add(time.Second), 10*time.Minute)
	must(t, s.Repos.SigningKeys.Add(ctx, next))
	if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewNext("kid-d", testKey("kid-d"), now, time.Minute)); !errors.Is(err, signingkey.ErrRotationPending) {
		t.Fatalf("second next: %v, want ErrRotationPending", err)
	}
	if err := s.Repos.SigningKeys.Add(ctx, signingkey.NewNext("kid-a", testKey("x"), now, time.Minute)); err == nil {
		t.Fatal("a kid stored twice")
	}
	ring, err := s.Repos.SigningKeys.Keys(ctx)
	must(t, err)
	if len(ring) != 2 {
		t.Fatalf("ring has %d keys, want 2: %+v", len(ring), ring)
	}
	got := ring[0]
	if got.KID != "kid-a" || got.State != signingkey.Current || !bytes.Equal(got.Sealed, cur.Sealed) ||
		!got.CreatedAt.Equal(now) || !got.ActivateAt.Equal(now) || got.ActivatedAt == nil || !got.ActivatedAt.Equal(now) ||
		got.RetiredAt != nil || got.PublishUntil != nil {
		t.Fatalf("current key read back as %+v", got)
	}
	if n := ring[1]; n.KID != "kid-c" || n.State != signingkey.Next || !n.ActivateAt.Equal(next.ActivateAt) || n.ActivatedAt != nil {
		t.Fatalf("next key read back as %+v", n)
	}
}

// Ten instances see the next key due at once and each tries, in one
// transaction, to retire the current key and promote the next one: one
// succeeds, the others change nothing.
func testKeyRingRacingPromotion(t *testing.T, s Store) {
	ctx := testCtx(t)
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	cur := signingkey.NewCurrent("old", testKey("old"), now.Add(-time.Hour))
	next := signingkey.NewNext("new", testKey("new"), now.Add(-2*time.Minute), time.Minute) // due since a minute
	for _, k := range []signingkey.Key{cur, next} {
		must(t, s.Repos.SigningKeys.Add(ctx, k))
	}
	errLost := errors.New("lost")
	const n = 10
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
				promoted, retired := signingkey.Promote(next, cur, now, 15*time.Minute, 30*time.Second)
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
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch {
		case err == nil:
			won++
		case errors.Is(err, errLost):
		default:
			t.Errorf("promotion failed: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d promotions won, want exactly 1", won)
	}
	ring, err := s.Repos.SigningKeys.Keys(ctx)
	must(t, err)
	c, ok := ring.Current()
	if !ok || c.KID != "new" {
		t.Fatalf("current is %+v", c)
	}
	old, _ := ring.ByID("old")
	if old.State != signingkey.Retired || old.PublishUntil == nil || !old.PublishUntil.Equal(now.Add(-time.Minute).Add(30*time.Second+15*time.Minute)) {
		t.Fatalf("old key is %+v", old)
	}
	if _, pending := ring.Next(); pending {
		t.Fatal("a next key is left")
	}
}

func testKeyRingDeleteGone(t *testing.T, s Store) {
	ctx := testCtx(t)
	emptyRing(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for kid, until := range map[string]time.Duration{"gone": -time.Second, "edge": 0, "kept": time.Minute} {
		k := signingkey.NewCurrent(kid, testKey(kid), now.Add(-time.Hour)).RetireNow(now.Add(-time.Hour))
		u := now.Add(until)
		k.PublishUntil = &u
		must(t, s.Repos.SigningKeys.Add(ctx, k))
	}
	must(t, s.Repos.SigningKeys.Add(ctx, signingkey.NewCurrent("live", testKey("live"), now.Add(-time.Hour))))
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

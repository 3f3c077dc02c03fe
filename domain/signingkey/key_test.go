package signingkey_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// The lifecycle is the same for every algorithm.
func TestLifecycle(t *testing.T) {
	for _, alg := range signingkey.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			next := signingkey.NewNext(alg, "n", nil, t0, 10*time.Minute)
			if next.Alg != alg || !next.Published(t0) || next.Due(t0.Add(10*time.Minute-time.Nanosecond)) || !next.Due(t0.Add(10*time.Minute)) {
				t.Fatalf("next key: %+v, published %v, due early %v", next, next.Published(t0), next.Due(t0))
			}
			cur := signingkey.NewCurrent(alg, "c", nil, t0.Add(-time.Hour))
			if cur.Alg != alg || cur.Due(t0) || !cur.Published(t0) || cur.Gone(t0) {
				t.Fatal("a current key is of another algorithm, due, unpublished or gone")
			}

			// Promoted late (the first refresh after activation, 5 s on): the old
			// key stays published from the activation time on for lag + token life.
			now := t0.Add(10*time.Minute + 5*time.Second)
			promoted, retired := signingkey.Promote(next, cur, now, 15*time.Minute, 10*time.Second)
			if promoted.State != signingkey.Current || promoted.Alg != alg || promoted.ActivatedAt == nil || !promoted.ActivatedAt.Equal(now) || !promoted.ActivateAt.Equal(next.ActivateAt) {
				t.Fatalf("promoted %+v", promoted)
			}
			until := t0.Add(10*time.Minute + 10*time.Second + 15*time.Minute)
			if retired.State != signingkey.Retired || retired.Alg != alg || !retired.PublishUntil.Equal(until) || !retired.RetiredAt.Equal(now) {
				t.Fatalf("retired %+v, want published until %v", retired, until)
			}
			if !retired.Published(until.Add(-time.Nanosecond)) || retired.Published(until) || !retired.Gone(until) {
				t.Fatal("the retired key's publication does not end exactly at its end")
			}

			// Promoted early (retiring the current key by hand): counted from now.
			early := t0.Add(time.Minute)
			_, r2 := signingkey.Promote(next, cur, early, 15*time.Minute, 10*time.Second)
			if want := early.Add(10*time.Second + 15*time.Minute); !r2.PublishUntil.Equal(want) {
				t.Fatalf("early promotion: published until %v, want %v", r2.PublishUntil, want)
			}

			gone := cur.RetireNow(t0)
			if gone.Published(t0) || !gone.Gone(t0) || gone.Alg != alg {
				t.Fatal("a key retired by hand is still published")
			}
			now2 := next.ActivateNow(early)
			if now2.State != signingkey.Current || !now2.ActivateAt.Equal(early) || now2.Alg != alg {
				t.Fatalf("ActivateNow %+v", now2)
			}
		})
	}
}

// The ring holds one current and at most one next key per algorithm: the
// lookups of one algorithm never answer a key of another.
func TestRingLookups(t *testing.T) {
	ed, rs := signingkey.EdDSA, signingkey.RS256
	r := signingkey.Ring{
		signingkey.NewCurrent(ed, "c", nil, t0).RetireNow(t0),
		signingkey.NewCurrent(ed, "d", nil, t0),
		signingkey.NewCurrent(rs, "r1", nil, t0),
		signingkey.NewNext(ed, "n", nil, t0, time.Minute),
		signingkey.NewNext(rs, "r2", nil, t0, time.Minute),
	}
	for _, tc := range []struct {
		alg           signingkey.Algorithm
		current, next string
	}{
		{ed, "d", "n"},
		{rs, "r1", "r2"},
	} {
		if c, ok := r.Current(tc.alg); !ok || c.KID != tc.current || c.Alg != tc.alg {
			t.Errorf("%s: current %v %v, want %s", tc.alg, c.KID, ok, tc.current)
		}
		if n, ok := r.Next(tc.alg); !ok || n.KID != tc.next || n.Alg != tc.alg {
			t.Errorf("%s: next %v %v, want %s", tc.alg, n.KID, ok, tc.next)
		}
	}
	only := signingkey.Ring{signingkey.NewCurrent(ed, "d", nil, t0)}
	if _, ok := only.Current(rs); ok {
		t.Fatal("a current RS256 key found in a ring of EdDSA keys")
	}
	if _, ok := only.Next(ed); ok {
		t.Fatal("a next key found in a ring without one")
	}
	if _, ok := r.ByID("x"); ok {
		t.Fatal("found a key that is not there")
	}
	if k, ok := r.ByID("r2"); !ok || k.Alg != rs {
		t.Fatalf("ByID r2: %+v %v", k, ok)
	}
	if p := r.Published(t0); len(p) != 4 || p[0].KID != "d" {
		t.Fatalf("published %+v", p)
	}
}

func TestAlgorithms(t *testing.T) {
	algs := signingkey.Algorithms()
	if len(algs) != 2 || algs[0] != signingkey.EdDSA || algs[1] != signingkey.RS256 {
		t.Fatalf("algorithms %v", algs)
	}
	for _, tc := range []struct {
		alg  signingkey.Algorithm
		want bool
	}{{"EdDSA", true}, {"RS256", true}, {"eddsa", false}, {"HS256", false}, {"none", false}, {"", false}} {
		if got := tc.alg.Valid(); got != tc.want {
			t.Errorf("%q valid %v, want %v", tc.alg, got, tc.want)
		}
	}
}

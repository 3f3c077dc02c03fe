package signingkey_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLifecycle(t *testing.T) {
	next := signingkey.NewNext("n", nil, t0, 10*time.Minute)
	if !next.Published(t0) || next.Due(t0.Add(10*time.Minute-time.Nanosecond)) || !next.Due(t0.Add(10*time.Minute)) {
		t.Fatalf("next key: published %v, due early %v", next.Published(t0), next.Due(t0))
	}
	cur := signingkey.NewCurrent("c", nil, t0.Add(-time.Hour))
	if cur.Due(t0) || !cur.Published(t0) || cur.Gone(t0) {
		t.Fatal("a current key is due, unpublished or gone")
	}

	// Promoted late (the first refresh after activation, 5 s on): the old
	// key stays published from the activation time on for lag + token life.
	now := t0.Add(10*time.Minute + 5*time.Second)
	promoted, retired := signingkey.Promote(next, cur, now, 15*time.Minute, 10*time.Second)
	if promoted.State != signingkey.Current || promoted.ActivatedAt == nil || !promoted.ActivatedAt.Equal(now) || !promoted.ActivateAt.Equal(next.ActivateAt) {
		t.Fatalf("promoted %+v", promoted)
	}
	until := t0.Add(10*time.Minute + 10*time.Second + 15*time.Minute)
	if retired.State != signingkey.Retired || !retired.PublishUntil.Equal(until) || !retired.RetiredAt.Equal(now) {
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
	if gone.Published(t0) || !gone.Gone(t0) {
		t.Fatal("a key retired by hand is still published")
	}
	now2 := next.ActivateNow(early)
	if now2.State != signingkey.Current || !now2.ActivateAt.Equal(early) {
		t.Fatalf("ActivateNow %+v", now2)
	}
}

func TestRingLookups(t *testing.T) {
	r := signingkey.Ring{
		signingkey.NewCurrent("c", nil, t0).RetireNow(t0),
		signingkey.NewCurrent("d", nil, t0),
		signingkey.NewNext("n", nil, t0, time.Minute),
	}
	if c, ok := r.Current(); !ok || c.KID != "d" {
		t.Fatalf("current %v %v", c.KID, ok)
	}
	if n, ok := r.Next(); !ok || n.KID != "n" {
		t.Fatalf("next %v %v", n.KID, ok)
	}
	if _, ok := r.ByID("x"); ok {
		t.Fatal("found a key that is not there")
	}
	if p := r.Published(t0); len(p) != 2 || p[0].KID != "d" {
		t.Fatalf("published %+v", p)
	}
}

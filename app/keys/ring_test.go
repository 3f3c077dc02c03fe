package keys_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"go.uber.org/mock/gomock"
)

const (
	delay     = 10 * time.Minute
	tokenLife = 15*time.Minute + 30*time.Second
	lag       = 10 * time.Second

	ed = signingkey.EdDSA
	rs = signingkey.RS256
)

type fixture struct {
	*apptest.Ports
	ring   *keys.Ring
	store  *mock.MockSigningKeyRing
	tokens *mock.MockKeyInstaller
	clock  *apptest.Clock
}

func newRing(t *testing.T, files *keys.FileKeys) *fixture {
	p := apptest.NewPorts(t)
	f := &fixture{Ports: p, store: mock.NewMockSigningKeyRing(p.Ctrl), tokens: mock.NewMockKeyInstaller(p.Ctrl), clock: apptest.NewClock(apptest.T0)}
	f.ring = keys.NewRing(keys.RingDeps{
		Tx:       f.Tx,
		Store:    f.store,
		Sealer:   apptest.Sealer{},
		Tokens:   f.tokens,
		Clock:    f.clock,
		Reporter: mock.NewMockErrorReporter(p.Ctrl),
		Config:   keys.Config{PublishDelay: delay, TokenLife: tokenLife, Lag: lag, Files: files},
	})
	return f
}

// expectAudit expects one audit event, and fails the test unless want
// holds for it.
func (f *fixture) expectAudit(t *testing.T, want func(audit.Event) bool) {
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if !want(e) {
			t.Errorf("audit event %+v", e)
		}
		return nil
	})
}

func seed(kid string) []byte { return []byte("private-of-" + kid) }

func sealed(kid string) []byte { return append([]byte("signing-key:"+kid+"|"), seed(kid)...) }

func key(alg signingkey.Algorithm, kid string) app.SigningKey {
	return app.SigningKey{KID: kid, Alg: alg, Private: seed(kid)}
}

func current(alg signingkey.Algorithm, kid string, at time.Time) signingkey.Key {
	return signingkey.NewCurrent(alg, kid, sealed(kid), at)
}

func next(alg signingkey.Algorithm, kid string, at time.Time) signingkey.Key {
	return signingkey.NewNext(alg, kid, sealed(kid), at, delay)
}

// set is the key set of one current key per algorithm.
func set(edKID, rsKID string) app.KeySet {
	return app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{
		ed: {Current: key(ed, edKID)},
		rs: {Current: key(rs, rsKID)},
	}}
}

// other is the algorithm that is not alg.
func other(alg signingkey.Algorithm) signingkey.Algorithm {
	if alg == ed {
		return rs
	}
	return ed
}

// The first instance on an empty database makes the first key of each
// algorithm, sealed, each in its own transaction, and signs with them.
func TestRefreshMakesTheFirstKeys(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	gomock.InOrder(
		f.store.EXPECT().Keys(ctx).Return(nil, nil),
		f.Repos.SigningKeys.EXPECT().TakeUnsealed(gomock.Any()).Return(nil, nil),
		f.tokens.EXPECT().GenerateKey(ed).Return(key(ed, "e1"), nil),
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(ed, "e1", apptest.T0)).Return(nil),
		f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r1"), nil),
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(rs, "r1", apptest.T0)).Return(nil),
		f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current(ed, "e1", apptest.T0), current(rs, "r1", apptest.T0)}, nil),
		f.tokens.EXPECT().UseKeys(set("e1", "r1")).Return(nil),
	)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// The plain key an earlier version kept becomes the first EdDSA key,
// sealed, so tokens it signed keep verifying; the RS256 key is new.
func TestRefreshSealsTheKeyOfAnEarlierVersion(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	f.store.EXPECT().Keys(ctx).Return(nil, nil)
	f.Repos.SigningKeys.EXPECT().TakeUnsealed(gomock.Any()).Return(seed("old"), nil)
	f.tokens.EXPECT().KeyOf(seed("old")).Return(key(ed, "old"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(ed, "old", apptest.T0)).Return(nil)
	f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r1"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(rs, "r1", apptest.T0)).Return(nil)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current(ed, "old", apptest.T0), current(rs, "r1", apptest.T0)}, nil)
	f.tokens.EXPECT().UseKeys(set("old", "r1")).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// A ring of a version without RS256 keys (its keys are EdDSA) gains a
// current RS256 key; its EdDSA key keeps signing.
func TestRefreshAddsTheFirstRS256KeyToAnEarlierRing(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	old := current(ed, "e1", apptest.T0.Add(-time.Hour))
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{old}, nil)
	f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r1"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(rs, "r1", apptest.T0)).Return(nil)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{old, current(rs, "r1", apptest.T0)}, nil)
	f.tokens.EXPECT().UseKeys(set("e1", "r1")).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// Another instance made the first keys meanwhile: this one uses those.
func TestRefreshLosingTheFirstKeysUsesTheWinners(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	f.store.EXPECT().Keys(ctx).Return(nil, nil)
	f.Repos.SigningKeys.EXPECT().TakeUnsealed(gomock.Any()).Return(nil, nil)
	f.tokens.EXPECT().GenerateKey(ed).Return(key(ed, "mine"), nil)
	f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "mine-rs"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), gomock.Any()).Return(app.ErrKeyRingChanged).Times(2)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current(ed, "theirs", apptest.T0), current(rs, "theirs-rs", apptest.T0)}, nil)
	f.tokens.EXPECT().UseKeys(set("theirs", "theirs-rs")).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// Published next keys are handed over with their activation times (so
// every instance switches at that moment), and an unchanged ring is not
// handed over again.
func TestRefreshPublishesTheNextKeysOnce(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	ring := signingkey.Ring{
		current(ed, "e1", apptest.T0.Add(-time.Hour)), current(rs, "r1", apptest.T0.Add(-time.Hour)),
		next(ed, "e2", apptest.T0), next(rs, "r2", apptest.T0),
	}
	f.store.EXPECT().Keys(ctx).Return(ring, nil).Times(2)
	e2, r2 := key(ed, "e2"), key(rs, "r2")
	at := apptest.T0.Add(delay)
	f.tokens.EXPECT().UseKeys(app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{
		ed: {Current: key(ed, "e1"), Next: &e2, NextAt: at},
		rs: {Current: key(rs, "r1"), Next: &r2, NextAt: at},
	}}).Return(nil).Times(1)
	for range 2 {
		if err := f.ring.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A due next key is promoted in one transaction with its audit event; the
// old key of its algorithm stays published until every token it signed
// has expired, and the other algorithm's keys are left alone.
func TestRefreshPromotesADueKeyOfItsAlgorithmOnly(t *testing.T) {
	for _, alg := range signingkey.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			f := newRing(t, nil)
			ctx := context.Background()
			old := current(alg, "k1", apptest.T0.Add(-time.Hour))
			due := signingkey.NewNext(alg, "k2", sealed("k2"), apptest.T0.Add(-delay-time.Second), delay)
			mate := current(other(alg), "o1", apptest.T0.Add(-time.Hour))
			pending := next(other(alg), "o2", apptest.T0) // not due
			promoted, retired := signingkey.Promote(due, old, apptest.T0, tokenLife, lag)
			if want := apptest.T0.Add(-time.Second + lag + tokenLife); !retired.PublishUntil.Equal(want) {
				t.Fatalf("retired key published until %v, want %v", retired.PublishUntil, want)
			}
			f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{old, mate, due, pending}, nil)
			gomock.InOrder(
				f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), retired, signingkey.Current).Return(true, nil),
				f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), promoted, signingkey.Next).Return(true, nil),
			)
			f.expectAudit(t, func(e audit.Event) bool {
				return e.Type == audit.KeyPromoted && e.Detail["kid"] == "k2" && e.Detail["alg"] == string(alg) && e.Detail["retired_kid"] == "k1" && e.Detail["actor"] == "gatehouse"
			})
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{retired, mate, promoted, pending}, nil)
			o2 := key(other(alg), "o2")
			f.tokens.EXPECT().UseKeys(app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{
				alg:        {Current: key(alg, "k2"), Retired: []app.SigningKey{key(alg, "k1")}},
				other(alg): {Current: key(other(alg), "o1"), Next: &o2, NextAt: apptest.T0.Add(delay)},
			}}).Return(nil)
			if err := f.ring.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Both algorithms due at once: each is promoted in its own transaction.
func TestRefreshPromotesEachDueAlgorithm(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	due := apptest.T0.Add(-delay)
	ring := signingkey.Ring{
		current(ed, "e1", apptest.T0.Add(-time.Hour)), current(rs, "r1", apptest.T0.Add(-time.Hour)),
		next(ed, "e2", due), next(rs, "r2", due),
	}
	f.store.EXPECT().Keys(ctx).Return(ring, nil)
	for _, kid := range []string{"e1", "r1"} {
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), gomock.Cond(func(k signingkey.Key) bool { return k.KID == kid }), signingkey.Current).Return(true, nil)
	}
	for _, kid := range []string{"e2", "r2"} {
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), gomock.Cond(func(k signingkey.Key) bool { return k.KID == kid }), signingkey.Next).Return(true, nil)
	}
	var promoted []string
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, e audit.Event) error {
		promoted = append(promoted, e.Detail["alg"]+":"+e.Detail["kid"])
		return nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	f.store.EXPECT().Keys(ctx).Return(ring, nil) // what was reread is not this test's business
	f.tokens.EXPECT().UseKeys(gomock.Any()).Return(nil)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Join(promoted, " ") != "EdDSA:e2 RS256:r2" {
		t.Fatalf("promotions recorded: %v", promoted)
	}
}

// Of instances racing to promote, the losers find the state changed:
// nothing is written or audited by them, and they use the winner's ring.
func TestRefreshLosingAPromotionChangesNothing(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	old := current(ed, "k1", apptest.T0.Add(-time.Hour))
	nk := next(ed, "k2", apptest.T0.Add(-delay))
	rsa := current(rs, "r1", apptest.T0.Add(-time.Hour))
	promoted, retired := signingkey.Promote(nk, old, apptest.T0, tokenLife, lag)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{old, nk, rsa}, nil)
	f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), gomock.Any(), signingkey.Current).Return(false, nil)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{retired, promoted, rsa}, nil)
	f.tokens.EXPECT().UseKeys(gomock.Any()).Return(nil)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] == nil {
		t.Fatalf("the losing transaction committed: %v", errs)
	}
}

// Keys no longer published are deleted and not handed over.
func TestRefreshDropsGoneKeys(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	gone := current(rs, "r0", apptest.T0.Add(-2*time.Hour)).RetireNow(apptest.T0.Add(-time.Minute))
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{gone, current(ed, "e1", apptest.T0.Add(-time.Hour)), current(rs, "r1", apptest.T0.Add(-time.Hour))}, nil)
	f.store.EXPECT().DeleteGone(ctx, apptest.T0).Return(1, nil)
	f.tokens.EXPECT().UseKeys(set("e1", "r1")).Return(nil)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// A key that does not open under the secret key stops the refresh: the
// signer keeps what it has rather than use garbage.
func TestRefreshRefusesKeysSealedUnderAnotherSecret(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	bad := current(rs, "r1", apptest.T0)
	bad.Sealed = []byte("signing-key:other|x")
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current(ed, "e1", apptest.T0), bad}, nil)
	if err := f.ring.Refresh(ctx); !errors.Is(err, app.ErrSealBroken) {
		t.Fatalf("err = %v, want ErrSealBroken", err)
	}
}

// A rotation publishes a next key of each algorithm in one transaction,
// each with its audit event.
func TestRotatePublishesANextKeyOfEachAlgorithm(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	meta := app.RequestMeta{IP: "192.0.2.1"}
	f.tokens.EXPECT().GenerateKey(ed).Return(key(ed, "e2"), nil)
	f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r2"), nil)
	gomock.InOrder(
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), next(ed, "e2", apptest.T0)).Return(nil),
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), next(rs, "r2", apptest.T0)).Return(nil),
	)
	var events []audit.Event
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, e audit.Event) error {
		events = append(events, e)
		return nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	views, err := f.ring.Rotate(ctx, "cli", meta)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		alg signingkey.Algorithm
		kid string
	}{{ed, "e2"}, {rs, "r2"}} {
		v := views[i]
		if v.KID != want.kid || v.Alg != want.alg || v.State != signingkey.Next || !v.ActivateAt.Equal(apptest.T0.Add(delay)) || !v.Published || v.Source != keys.SourceDatabase {
			t.Fatalf("rotate returned %+v", v)
		}
		e := events[i]
		if e.Type != audit.KeyRotated || e.Detail["kid"] != want.kid || e.Detail["alg"] != string(want.alg) || e.Detail["actor"] != "cli" || e.IP != meta.IP {
			t.Errorf("audit event %+v", e)
		}
	}
	if len(views) != 2 {
		t.Fatalf("rotate returned %d keys", len(views))
	}
}

// A rotation pending for either algorithm refuses the rotation as a
// whole: the transaction, with the other algorithm's key, rolls back.
func TestRotateWhileOneIsPendingIsRefused(t *testing.T) {
	f := newRing(t, nil)
	f.tokens.EXPECT().GenerateKey(ed).Return(key(ed, "e3"), nil)
	f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r3"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), gomock.Any()).Return(signingkey.ErrRotationPending)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if _, err := f.ring.Rotate(context.Background(), "cli", app.RequestMeta{}); !errors.Is(err, signingkey.ErrRotationPending) {
		t.Fatalf("err = %v", err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] == nil {
		t.Fatalf("the refused rotation committed: %v", errs)
	}
}

// Retiring the current key of an algorithm with no next one makes a new
// key of that algorithm current in the same transaction, so there is
// always a key to sign with; the other algorithm is left alone.
func TestRetireTheCurrentKeyReplacesItAtOnce(t *testing.T) {
	for _, alg := range signingkey.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			f := newRing(t, nil)
			cur := current(alg, "k1", apptest.T0.Add(-time.Hour))
			f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(signingkey.Ring{cur, current(other(alg), "o1", apptest.T0), next(other(alg), "o2", apptest.T0)}, nil)
			gomock.InOrder(
				f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), cur.RetireNow(apptest.T0), signingkey.Current).Return(true, nil),
				f.tokens.EXPECT().GenerateKey(alg).Return(key(alg, "k2"), nil),
				f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(alg, "k2", apptest.T0)).Return(nil),
			)
			f.expectAudit(t, func(e audit.Event) bool {
				return e.Type == audit.KeyRetired && e.Detail["kid"] == "k1" && e.Detail["alg"] == string(alg) && e.Detail["was"] == "current" && e.Detail["replaced_by"] == "k2"
			})
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			if err := f.ring.Retire(context.Background(), "cli", app.RequestMeta{}, "k1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// With next keys published, retiring the current key of an algorithm
// promotes the next key of that algorithm at once.
func TestRetireTheCurrentKeyPromotesThePublishedNextOneOfItsAlgorithm(t *testing.T) {
	for _, alg := range signingkey.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			f := newRing(t, nil)
			cur := current(alg, "k1", apptest.T0.Add(-time.Hour))
			nk := next(alg, "k2", apptest.T0.Add(-time.Minute))
			ring := signingkey.Ring{current(other(alg), "o1", apptest.T0), next(other(alg), "o2", apptest.T0), cur, nk}
			f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(ring, nil)
			gomock.InOrder(
				f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), cur.RetireNow(apptest.T0), signingkey.Current).Return(true, nil),
				f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), nk.ActivateNow(apptest.T0), signingkey.Next).Return(true, nil),
			)
			f.expectAudit(t, func(e audit.Event) bool {
				return e.Detail["replaced_by"] == "k2" && e.Detail["alg"] == string(alg)
			})
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			if err := f.ring.Retire(context.Background(), "cli", app.RequestMeta{}, "k1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRetireRefusesUnknownAndUnpublishedKeys(t *testing.T) {
	f := newRing(t, nil)
	gone := current(rs, "r0", apptest.T0.Add(-2*time.Hour)).RetireNow(apptest.T0.Add(-time.Hour))
	f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(signingkey.Ring{gone, current(ed, "e1", apptest.T0), current(rs, "r1", apptest.T0)}, nil).Times(2)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	for _, kid := range []string{"nope", "r0"} {
		if err := f.ring.Retire(context.Background(), "cli", app.RequestMeta{}, kid); !errors.Is(err, signingkey.ErrNotFound) {
			t.Fatalf("retire %s: %v, want ErrNotFound", kid, err)
		}
	}
}

func TestListShowsTheAlgorithms(t *testing.T) {
	f := newRing(t, nil)
	ring := signingkey.Ring{current(ed, "e1", apptest.T0), current(rs, "r1", apptest.T0), next(rs, "r2", apptest.T0)}
	f.store.EXPECT().Keys(gomock.Any()).Return(ring, nil)
	list, err := f.ring.List(context.Background())
	if err != nil || len(list) != 3 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	for i, k := range ring {
		if v := list[i]; v.KID != k.KID || v.Alg != k.Alg || v.State != k.State || v.Source != keys.SourceDatabase || !v.Published {
			t.Errorf("list[%d] = %+v", i, v)
		}
	}
}

// With key files, the files' keys are the EdDSA keys, used as they are:
// retiring one says how to rotate them, and stored EdDSA keys are left
// out. The RS256 keys stay in the stored ring: made, listed, rotated and
// retired as without files.
func TestKeyFilesAreTheOperatorsAndRS256KeysTheRings(t *testing.T) {
	prev := keys.PublicKey{KID: "old", Key: make([]byte, 32)}
	f := newRing(t, &keys.FileKeys{Current: key(ed, "file"), Previous: []keys.PublicKey{prev}})
	ctx := context.Background()
	stale := current(ed, "stored-ed", apptest.T0.Add(-time.Hour)) // from before the files
	gomock.InOrder(
		f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{stale}, nil),
		f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r1"), nil),
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current(rs, "r1", apptest.T0)).Return(nil),
		f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{stale, current(rs, "r1", apptest.T0)}, nil),
	)
	f.tokens.EXPECT().UseKeys(gomock.Any()).DoAndReturn(func(ks app.KeySet) error {
		e, r := ks.Keys[ed], ks.Keys[rs]
		if e.Current.KID != "file" || e.Next != nil || len(e.Retired) != 0 || len(ks.Public) != 1 || !bytes.Equal(ks.Public[0], prev.Key) || r.Current.KID != "r1" {
			t.Errorf("key set %+v", ks)
		}
		return nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	for _, kid := range []string{"file", "old"} {
		if err := f.ring.Retire(ctx, "cli", app.RequestMeta{}, kid); !errors.Is(err, keys.ErrKeysFromFiles) {
			t.Fatalf("retire %s: %v", kid, err)
		}
	}
	f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(signingkey.Ring{stale, current(rs, "r1", apptest.T0)}, nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Retire(ctx, "cli", app.RequestMeta{}, "stored-ed"); !errors.Is(err, keys.ErrKeysFromFiles) {
		t.Fatalf("retire a stored EdDSA key: %v", err)
	}
	if !strings.Contains(keys.ErrKeysFromFiles.Message, "GATEHOUSE_JWT_PREVIOUS_KEY_FILES") {
		t.Fatal("the refusal does not say how to rotate")
	}

	f.tokens.EXPECT().GenerateKey(rs).Return(key(rs, "r2"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), next(rs, "r2", apptest.T0)).Return(nil)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	views, err := f.ring.Rotate(ctx, "cli", app.RequestMeta{})
	if err != nil || len(views) != 1 || views[0].Alg != rs {
		t.Fatalf("rotate with files: %+v, %v", views, err)
	}

	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{stale, current(rs, "r1", apptest.T0), next(rs, "r2", apptest.T0)}, nil)
	list, err := f.ring.List(ctx)
	if err != nil || len(list) != 4 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	for i, want := range []struct {
		kid, source string
		alg         signingkey.Algorithm
		state       signingkey.State
	}{
		{"file", keys.SourceFile, ed, signingkey.Current},
		{"old", keys.SourceFile, ed, signingkey.Retired},
		{"r1", keys.SourceDatabase, rs, signingkey.Current},
		{"r2", keys.SourceDatabase, rs, signingkey.Next},
	} {
		if v := list[i]; v.KID != want.kid || v.Source != want.source || v.Alg != want.alg || v.State != want.state {
			t.Errorf("list[%d] = %+v, want %+v", i, v, want)
		}
	}
}

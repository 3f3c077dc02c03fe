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

func seed(kid string) []byte { return []byte("seed-of-" + kid) }

func sealed(kid string) []byte { return append([]byte("signing-key:"+kid+"|"), seed(kid)...) }

func key(kid string) app.SigningKey { return app.SigningKey{KID: kid, Seed: seed(kid)} }

func current(kid string, at time.Time) signingkey.Key {
	return signingkey.NewCurrent(kid, sealed(kid), at)
}

// The first instance on an empty database makes the first key, sealed,
// and signs with it.
func TestRefreshMakesTheFirstKey(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	gomock.InOrder(
		f.store.EXPECT().Keys(ctx).Return(nil, nil),
		f.Repos.SigningKeys.EXPECT().TakeUnsealed(gomock.Any()).Return(nil, nil),
		f.tokens.EXPECT().GenerateKey().Return(key("k1"), nil),
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current("k1", apptest.T0)).Return(nil),
		f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current("k1", apptest.T0)}, nil),
		f.tokens.EXPECT().UseKeys(app.KeySet{Current: key("k1")}).Return(nil),
	)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// The plain key an earlier version kept becomes the first ring key,
// sealed, so tokens it signed keep verifying.
func TestRefreshSealsTheKeyOfAnEarlierVersion(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	f.store.EXPECT().Keys(ctx).Return(nil, nil)
	f.Repos.SigningKeys.EXPECT().TakeUnsealed(gomock.Any()).Return(seed("old"), nil)
	f.tokens.EXPECT().KeyOf(seed("old")).Return(key("old"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current("old", apptest.T0)).Return(nil)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current("old", apptest.T0)}, nil)
	f.tokens.EXPECT().UseKeys(app.KeySet{Current: key("old")}).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// Another instance made the first key meanwhile: this one uses that key.
func TestRefreshLosingTheFirstKeyUsesTheWinners(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	f.store.EXPECT().Keys(ctx).Return(nil, nil)
	f.Repos.SigningKeys.EXPECT().TakeUnsealed(gomock.Any()).Return(nil, nil)
	f.tokens.EXPECT().GenerateKey().Return(key("mine"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), gomock.Any()).Return(app.ErrKeyRingChanged)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{current("theirs", apptest.T0)}, nil)
	f.tokens.EXPECT().UseKeys(app.KeySet{Current: key("theirs")}).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// A published next key is handed over with its activation time (so every
// instance switches at that moment), and an unchanged ring is not handed
// over again.
func TestRefreshPublishesTheNextKeyOnce(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	next := signingkey.NewNext("k2", sealed("k2"), apptest.T0, delay)
	ring := signingkey.Ring{current("k1", apptest.T0.Add(-time.Hour)), next}
	f.store.EXPECT().Keys(ctx).Return(ring, nil).Times(2)
	k2 := key("k2")
	f.tokens.EXPECT().UseKeys(app.KeySet{Current: key("k1"), Next: &k2, NextAt: apptest.T0.Add(delay)}).Return(nil).Times(1)
	for range 2 {
		if err := f.ring.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A due next key is promoted in one transaction with its audit event; the
// old key stays published until every token it signed has expired.
func TestRefreshPromotesADueKey(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	old := current("k1", apptest.T0.Add(-time.Hour))
	next := signingkey.NewNext("k2", sealed("k2"), apptest.T0.Add(-delay-time.Second), delay)
	promoted, retired := signingkey.Promote(next, old, apptest.T0, tokenLife, lag)
	if want := apptest.T0.Add(-time.Second + lag + tokenLife); !retired.PublishUntil.Equal(want) {
		t.Fatalf("retired key published until %v, want %v", retired.PublishUntil, want)
	}
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{old, next}, nil)
	gomock.InOrder(
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), retired, signingkey.Current).Return(true, nil),
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), promoted, signingkey.Next).Return(true, nil),
	)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.KeyPromoted || e.Detail["kid"] != "k2" || e.Detail["retired_kid"] != "k1" || e.Detail["actor"] != "gatehouse" {
			t.Errorf("audit event %+v", e)
		}
		return nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{retired, promoted}, nil)
	f.tokens.EXPECT().UseKeys(app.KeySet{Current: key("k2"), Retired: []app.SigningKey{key("k1")}}).Return(nil)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// Of instances racing to promote, the losers find the state changed:
// nothing is written or audited by them, and they use the winner's ring.
func TestRefreshLosingAPromotionChangesNothing(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	old := current("k1", apptest.T0.Add(-time.Hour))
	next := signingkey.NewNext("k2", sealed("k2"), apptest.T0.Add(-delay), delay)
	promoted, retired := signingkey.Promote(next, old, apptest.T0, tokenLife, lag)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{old, next}, nil)
	f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), gomock.Any(), signingkey.Current).Return(false, nil)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{retired, promoted}, nil)
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
	gone := current("k0", apptest.T0.Add(-2*time.Hour)).RetireNow(apptest.T0.Add(-time.Minute))
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{gone, current("k1", apptest.T0.Add(-time.Hour))}, nil)
	f.store.EXPECT().DeleteGone(ctx, apptest.T0).Return(1, nil)
	f.tokens.EXPECT().UseKeys(app.KeySet{Current: key("k1")}).Return(nil)
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// A key that does not open under the secret key stops the refresh: the
// signer keeps what it has rather than use garbage.
func TestRefreshRefusesKeysSealedUnderAnotherSecret(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	bad := current("k1", apptest.T0)
	bad.Sealed = []byte("signing-key:other|x")
	f.store.EXPECT().Keys(ctx).Return(signingkey.Ring{bad}, nil)
	if err := f.ring.Refresh(ctx); !errors.Is(err, app.ErrSealBroken) {
		t.Fatalf("err = %v, want ErrSealBroken", err)
	}
}

func TestRotatePublishesANextKey(t *testing.T) {
	f := newRing(t, nil)
	ctx := context.Background()
	meta := app.RequestMeta{IP: "192.0.2.1"}
	f.tokens.EXPECT().GenerateKey().Return(key("k2"), nil)
	want := signingkey.NewNext("k2", sealed("k2"), apptest.T0, delay)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), want).Return(nil)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.KeyRotated || e.Detail["kid"] != "k2" || e.Detail["actor"] != "cli" || e.IP != meta.IP {
			t.Errorf("audit event %+v", e)
		}
		return nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	v, err := f.ring.Rotate(ctx, "cli", meta)
	if err != nil {
		t.Fatal(err)
	}
	if v.KID != "k2" || v.State != signingkey.Next || !v.ActivateAt.Equal(apptest.T0.Add(delay)) {
		t.Fatalf("rotate returned %+v", v)
	}
}

func TestRotateWhileOneIsPendingIsRefused(t *testing.T) {
	f := newRing(t, nil)
	f.tokens.EXPECT().GenerateKey().Return(key("k3"), nil)
	f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), gomock.Any()).Return(signingkey.ErrRotationPending)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if _, err := f.ring.Rotate(context.Background(), "cli", app.RequestMeta{}); !errors.Is(err, signingkey.ErrRotationPending) {
		t.Fatalf("err = %v", err)
	}
}

// Retiring the current key with no next one makes a new key current in
// the same transaction, so there is always a key to sign with.
func TestRetireTheCurrentKeyReplacesItAtOnce(t *testing.T) {
	f := newRing(t, nil)
	cur := current("k1", apptest.T0.Add(-time.Hour))
	f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(signingkey.Ring{cur}, nil)
	gomock.InOrder(
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), cur.RetireNow(apptest.T0), signingkey.Current).Return(true, nil),
		f.tokens.EXPECT().GenerateKey().Return(key("k2"), nil),
		f.Repos.SigningKeys.EXPECT().Add(gomock.Any(), current("k2", apptest.T0)).Return(nil),
	)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.KeyRetired || e.Detail["kid"] != "k1" || e.Detail["was"] != "current" || e.Detail["replaced_by"] != "k2" {
			t.Errorf("audit event %+v", e)
		}
		return nil
	})
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Retire(context.Background(), "cli", app.RequestMeta{}, "k1"); err != nil {
		t.Fatal(err)
	}
}

// With a next key published, retiring the current one promotes it at once.
func TestRetireTheCurrentKeyPromotesThePublishedNextOne(t *testing.T) {
	f := newRing(t, nil)
	cur := current("k1", apptest.T0.Add(-time.Hour))
	next := signingkey.NewNext("k2", sealed("k2"), apptest.T0.Add(-time.Minute), delay)
	f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(signingkey.Ring{cur, next}, nil)
	gomock.InOrder(
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), cur.RetireNow(apptest.T0), signingkey.Current).Return(true, nil),
		f.Repos.SigningKeys.EXPECT().Save(gomock.Any(), next.ActivateNow(apptest.T0), signingkey.Next).Return(true, nil),
	)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	if err := f.ring.Retire(context.Background(), "cli", app.RequestMeta{}, "k1"); err != nil {
		t.Fatal(err)
	}
}

func TestRetireRefusesUnknownAndUnpublishedKeys(t *testing.T) {
	f := newRing(t, nil)
	gone := current("k0", apptest.T0.Add(-2*time.Hour)).RetireNow(apptest.T0.Add(-time.Hour))
	f.Repos.SigningKeys.EXPECT().Keys(gomock.Any()).Return(signingkey.Ring{gone, current("k1", apptest.T0)}, nil).Times(2)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 2)
	for _, kid := range []string{"nope", "k0"} {
		if err := f.ring.Retire(context.Background(), "cli", app.RequestMeta{}, kid); !errors.Is(err, signingkey.ErrNotFound) {
			t.Fatalf("retire %s: %v, want ErrNotFound", kid, err)
		}
	}
}

// With key files, the files' keys are used as they are and the ring is
// the operator's: rotate and retire say so, and the store is not read.
func TestKeyFilesAreTheOperators(t *testing.T) {
	prev := keys.PublicKey{KID: "old", Key: make([]byte, 32)}
	f := newRing(t, &keys.FileKeys{Current: key("file"), Previous: []keys.PublicKey{prev}})
	ctx := context.Background()
	f.tokens.EXPECT().UseKeys(gomock.Any()).DoAndReturn(func(ks app.KeySet) error {
		if ks.Current.KID != "file" || ks.Next != nil || len(ks.Retired) != 0 || len(ks.Public) != 1 || !bytes.Equal(ks.Public[0], prev.Key) {
			t.Errorf("key set %+v", ks)
		}
		return nil
	})
	if err := f.ring.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ring.Rotate(ctx, "cli", app.RequestMeta{}); !errors.Is(err, keys.ErrKeysFromFiles) {
		t.Fatalf("rotate: %v", err)
	}
	if err := f.ring.Retire(ctx, "cli", app.RequestMeta{}, "file"); !errors.Is(err, keys.ErrKeysFromFiles) {
		t.Fatalf("retire: %v", err)
	}
	list, err := f.ring.List(ctx)
	if err != nil || len(list) != 2 || list[0].KID != "file" || list[0].Source != keys.SourceFile || list[1].State != signingkey.Retired {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if !strings.Contains(keys.ErrKeysFromFiles.Message, "GATEHOUSE_JWT_PREVIOUS_KEY_FILES") {
		t.Fatal("the refusal does not say how to rotate")
	}
}

package limits_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"go.uber.org/mock/gomock"
)

// A verified address forgets the login failures counted under it: the
// prefix cleared covers the pair key BeginLogin counts from any IP, and
// the account key is reset; nothing else (the per-IP endpoint counters,
// another address's keys) is touched.
func TestAddressVerifiedForgetsEveryLoginFailure(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("owner@example.com")
	g, rl := newGuard(t, limits.DefaultPolicy())
	hit, windows := map[int]string{}, map[int]time.Duration{}
	rl.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(recordHit(hit, windows, true, 0))
	if err := g.BeginLogin(ctx, e, "198.51.100.4"); err != nil {
		t.Fatal(err)
	}
	var prefix, reset string
	gomock.InOrder(
		rl.EXPECT().ResetPrefix(ctx, gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, p string) error {
			prefix = p
			return nil
		}),
		rl.EXPECT().Reset(ctx, gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, k string) error {
			reset = k
			return nil
		}),
	)
	if err := g.AddressVerified(ctx, e); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hit[10], prefix) || reset != hit[100] {
		t.Fatalf("cleared prefix %q and key %q; counted pair %q and account %q", prefix, reset, hit[10], hit[100])
	}
	if prefix == "" || prefix == hit[10] {
		t.Fatalf("prefix %q: every counter, or only one IP's", prefix)
	}
	assertNoEmail(t, []string{prefix, reset}, e.String())

	// Another address's pair keys are outside the prefix.
	g2, rl2 := newGuard(t, limits.DefaultPolicy())
	third, thirdW := map[int]string{}, map[int]time.Duration{}
	rl2.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(recordHit(third, thirdW, true, 0))
	if err := g2.BeginLogin(ctx, apptest.Email("someone.else@example.com"), "198.51.100.4"); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(third[10], prefix) {
		t.Fatalf("prefix %q also clears another address's pair %q", prefix, third[10])
	}
}

func TestAddressVerifiedDisabledMakesNoCalls(t *testing.T) {
	g, _ := newGuard(t, limits.Policy{Disabled: true}) // strict mock: no call
	if err := g.AddressVerified(context.Background(), apptest.Email("owner@example.com")); err != nil {
		t.Fatal(err)
	}
}

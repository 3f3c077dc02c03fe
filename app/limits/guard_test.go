package limits_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"go.uber.org/mock/gomock"
)

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want limits.Limit
		ok   bool
	}{
		{"30/5m", limits.Limit{Count: 30, Window: 5 * time.Minute}, true},
		{" 3/1h ", limits.Limit{Count: 3, Window: time.Hour}, true},
		{"1/1ns", limits.Limit{Count: 1, Window: time.Nanosecond}, true},
		{"150/1h30m", limits.Limit{Count: 150, Window: 90 * time.Minute}, true},
		{"", limits.Limit{}, false},
		{"30", limits.Limit{}, false},
		{"30/", limits.Limit{}, false},
		{"/5m", limits.Limit{}, false},
		{"0/5m", limits.Limit{}, false},
		{"-1/5m", limits.Limit{}, false},
		{"x/5m", limits.Limit{}, false},
		{"30/5", limits.Limit{}, false},
		{"30/0s", limits.Limit{}, false},
		{"30/-5m", limits.Limit{}, false},
		{"30/5m/1", limits.Limit{}, false},
	} {
		got, err := limits.ParseLimit(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
		if c.ok {
			if back, err := limits.ParseLimit(got.String()); err != nil || back != got {
				t.Errorf("round trip of %v: %v %v", got, back, err)
			}
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := limits.DefaultPolicy()
	if p.Disabled || p.MailPerAddress != (limits.Limit{Count: 3, Window: time.Hour}) ||
		p.LoginFailures != (limits.Limit{Count: 10, Window: 15 * time.Minute}) || p.LockoutThreshold != 100 {
		t.Fatalf("DefaultPolicy = %+v", p)
	}
}

func newGuard(t *testing.T, p limits.Policy) (*limits.Guard, *mock.MockRateLimiter) {
	ctrl := gomock.NewController(t)
	rl := mock.NewMockRateLimiter(ctrl)
	return limits.NewGuard(rl, p), rl
}

func TestCheckIPUsesEndpointLimit(t *testing.T) {
	p := limits.DefaultPolicy()
	p.Auth = limits.Limit{Count: 30, Window: 5 * time.Minute}
	p.Refresh = limits.Limit{Count: 150, Window: 7 * time.Minute}
	g, rl := newGuard(t, p)
	ctx := context.Background()
	var keys []string
	rec := func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
		keys = append(keys, k)
		return true, 0, nil
	}
	rl.EXPECT().Hit(ctx, gomock.Any(), 150, 7*time.Minute).DoAndReturn(rec)
	rl.EXPECT().Hit(ctx, gomock.Any(), 30, 5*time.Minute).DoAndReturn(rec).Times(2)
	for _, e := range []limits.Endpoint{limits.Refresh, limits.Login, limits.Register} {
		if err := g.CheckIP(ctx, e, "203.0.113.9"); err != nil {
			t.Fatal(err)
		}
	}
	// Each endpoint is counted on its own, and the IP is not in clear.
	if keys[0] == keys[1] || keys[1] == keys[2] {
		t.Fatalf("endpoints share a counter: %v", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "203.0.113.9") {
			t.Fatalf("key %q holds the IP", k)
		}
	}
}

func TestCheckIPOverLimit(t *testing.T) {
	g, rl := newGuard(t, limits.DefaultPolicy())
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 30, 5*time.Minute).Return(false, 42*time.Second, nil)
	err := g.CheckIP(context.Background(), limits.Login, "203.0.113.9")
	var de *domain.Error
	if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter != 42*time.Second {
		t.Fatalf("err = %#v", err)
	}
}

func TestCheckIPStoreFailurePropagates(t *testing.T) {
	g, rl := newGuard(t, limits.DefaultPolicy())
	boom := domain.Unavailable(errors.New("db down"))
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), boom)
	if err := g.CheckIP(context.Background(), limits.Login, "ip"); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("err = %v", err)
	}
}

func TestDisabledMakesNoCalls(t *testing.T) {
	p := limits.DefaultPolicy()
	p.Disabled = true
	g, _ := newGuard(t, p) // strict mock: any call fails the test
	ctx := context.Background()
	e := apptest.Email("a@x.io")
	if err := g.CheckIP(ctx, limits.Login, "ip"); err != nil {
		t.Fatal(err)
	}
	if ok, err := g.AllowMail(ctx, app.MailVerifyEmail, e); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := g.CheckLogin(ctx, e, "ip"); err != nil {
		t.Fatal(err)
	}
	if locked, err := g.LoginFailed(ctx, e, "ip"); locked || err != nil {
		t.Fatal(locked, err)
	}
	if err := g.LoginSucceeded(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := g.ClearLockout(ctx, e); err != nil {
		t.Fatal(err)
	}
	if !g.Policy().Disabled {
		t.Fatal("Policy")
	}
}

func TestAllowMail(t *testing.T) {
	g, rl := newGuard(t, limits.DefaultPolicy())
	ctx := context.Background()
	e := apptest.Email("Owner@Example.com")
	var keys []string
	gomock.InOrder(
		rl.EXPECT().Hit(ctx, gomock.Any(), 3, time.Hour).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
			keys = append(keys, k)
			return true, 0, nil
		}),
		rl.EXPECT().Hit(ctx, gomock.Any(), 3, time.Hour).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
			keys = append(keys, k)
			return false, time.Minute, nil
		}),
		rl.EXPECT().Hit(ctx, gomock.Any(), 3, time.Hour).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
			keys = append(keys, k)
			return true, 0, nil
		}),
		rl.EXPECT().Hit(ctx, gomock.Any(), 3, time.Hour).Return(false, time.Duration(0), errors.New("db down")),
	)
	if ok, err := g.AllowMail(ctx, app.MailVerifyEmail, e); !ok || err != nil {
		t.Fatal("first", ok, err)
	}
	if ok, err := g.AllowMail(ctx, app.MailVerifyEmail, e); ok || err != nil {
		t.Fatal("over the limit must be (false, nil):", ok, err)
	}
	if ok, err := g.AllowMail(ctx, app.MailResetPassword, e); !ok || err != nil {
		t.Fatal("other kind", ok, err)
	}
	if ok, err := g.AllowMail(ctx, app.MailVerifyEmail, e); ok || err == nil {
		t.Fatal("store failure must be an error", ok, err)
	}
	if keys[0] != keys[1] || keys[0] == keys[2] {
		t.Fatalf("keys %v: same kind must share, other kind must not", keys)
	}
	assertNoEmail(t, keys, e.String())
}

func assertNoEmail(t *testing.T, keys []string, email string) {
	t.Helper()
	local := email[:strings.IndexByte(email, '@')]
	for _, k := range keys {
		lk := strings.ToLower(k)
		if strings.Contains(lk, email) || strings.Contains(lk, local) || strings.Contains(lk, "@") {
			t.Errorf("key %q contains the address", k)
		}
		if len(k) > 80 {
			t.Errorf("key %q is not short", k)
		}
	}
}

func TestCheckLogin(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	t.Run("account locked", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		rl.EXPECT().Blocked(ctx, gomock.Any(), 100).Return(true, time.Duration(0), nil)
		err := g.CheckLogin(ctx, e, "ip")
		var de *domain.Error
		if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter <= 0 {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("pair blocked", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		gomock.InOrder(
			rl.EXPECT().Blocked(ctx, gomock.Any(), 100).Return(false, time.Duration(0), nil),
			rl.EXPECT().Blocked(ctx, gomock.Any(), 10).Return(true, 7*time.Minute, nil),
		)
		err := g.CheckLogin(ctx, e, "ip")
		var de *domain.Error
		if !errors.As(err, &de) || !errors.Is(err, domain.ErrRateLimited) || de.RetryAfter != 7*time.Minute {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("free", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		var keys []string
		rl.EXPECT().Blocked(ctx, gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string, _ int) (bool, time.Duration, error) {
			keys = append(keys, k)
			return false, 0, nil
		})
		if err := g.CheckLogin(ctx, e, "198.51.100.4"); err != nil {
			t.Fatal(err)
		}
		if keys[0] == keys[1] {
			t.Fatal("account and pair share a key")
		}
		assertNoEmail(t, keys, e.String())
	})
	t.Run("store failure", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		rl.EXPECT().Blocked(ctx, gomock.Any(), gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
		if err := g.CheckLogin(ctx, e, "ip"); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
}

// The keys CheckLogin reads are the keys LoginFailed counts and
// LoginSucceeded / ClearLockout reset; the pair key depends on the IP, the
// account key does not.
func TestLoginKeysAgree(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	g, rl := newGuard(t, limits.DefaultPolicy())
	blocked := map[int]string{}
	rl.EXPECT().Blocked(ctx, gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string, limit int) (bool, time.Duration, error) {
		blocked[limit] = k
		return false, 0, nil
	})
	hit := map[int]string{}
	windows := map[int]time.Duration{}
	rl.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string, limit int, w time.Duration) (bool, time.Duration, error) {
		hit[limit] = k
		windows[limit] = w
		return true, 0, nil
	})
	var reset []string
	rl.EXPECT().Reset(ctx, gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string) error {
		reset = append(reset, k)
		return nil
	})
	if err := g.CheckLogin(ctx, e, "198.51.100.4"); err != nil {
		t.Fatal(err)
	}
	locked, err := g.LoginFailed(ctx, e, "198.51.100.4")
	if err != nil || locked {
		t.Fatal(locked, err)
	}
	if err := g.LoginSucceeded(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := g.ClearLockout(ctx, e); err != nil {
		t.Fatal(err)
	}
	pair, account := blocked[10], blocked[100]
	if pair == "" || account == "" || hit[10] != pair || hit[99] != account {
		t.Fatalf("Blocked keys %v, Hit keys %v", blocked, hit)
	}
	if windows[10] != 15*time.Minute || windows[99] < 365*24*time.Hour {
		t.Fatalf("windows %v", windows)
	}
	if reset[0] != account || reset[1] != account {
		t.Fatalf("Reset keys %v, want the account key %s", reset, account)
	}
	assertNoEmail(t, append([]string{pair, account}, reset...), e.String())

	// Another IP: other pair key, same account key.
	g2, rl2 := newGuard(t, limits.DefaultPolicy())
	other := map[int]string{}
	rl2.EXPECT().Blocked(ctx, gomock.Any(), gomock.Any()).Times(2).DoAndReturn(func(_ context.Context, k string, limit int) (bool, time.Duration, error) {
		other[limit] = k
		return false, 0, nil
	})
	if err := g2.CheckLogin(ctx, e, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if other[10] == pair || other[100] != account {
		t.Fatalf("other IP keys %v vs pair %s account %s", other, pair, account)
	}
}

func TestLoginFailedReportsLock(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	g, rl := newGuard(t, limits.DefaultPolicy())
	gomock.InOrder(
		rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(false, time.Minute, nil), // pair over: not a lock
		rl.EXPECT().Hit(ctx, gomock.Any(), 99, gomock.Any()).Return(false, time.Hour, nil),     // account over: lock
	)
	locked, err := g.LoginFailed(ctx, e, "ip")
	if err != nil || !locked {
		t.Fatalf("locked %v err %v", locked, err)
	}

	g, rl = newGuard(t, limits.DefaultPolicy())
	gomock.InOrder(
		rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(false, time.Minute, nil),
		rl.EXPECT().Hit(ctx, gomock.Any(), 99, gomock.Any()).Return(true, time.Duration(0), nil),
	)
	if locked, err := g.LoginFailed(ctx, e, "ip"); err != nil || locked {
		t.Fatalf("pair over the limit alone reported locked=%v err=%v", locked, err)
	}

	g, rl = newGuard(t, limits.DefaultPolicy())
	rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(false, time.Duration(0), errors.New("db"))
	if _, err := g.LoginFailed(ctx, e, "ip"); err == nil {
		t.Fatal("store failure swallowed")
	}
}

func TestNewGuardRequiresLimiter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("nil RateLimiter accepted")
		}
	}()
	limits.NewGuard(nil, limits.DefaultPolicy())
}

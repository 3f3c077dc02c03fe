package limits_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
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
	// A passkey begin only stores a challenge: it is counted under the
	// Refresh limit, on a counter of its own, never the login one.
	rl.EXPECT().Hit(ctx, gomock.Any(), 150, 7*time.Minute).DoAndReturn(rec).Times(2)
	rl.EXPECT().Hit(ctx, gomock.Any(), 30, 5*time.Minute).DoAndReturn(rec).Times(2)
	for _, e := range []limits.Endpoint{limits.Refresh, limits.Login, limits.Register, limits.PasskeyBegin} {
		if err := g.CheckIP(ctx, e, "203.0.113.9"); err != nil {
			t.Fatal(err)
		}
	}
	// Each endpoint is counted on its own, and the IP is not in clear.
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Fatalf("endpoints share a counter: %v", keys)
		}
		seen[k] = true
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
	if err := g.BeginLogin(ctx, e, "ip"); err != nil {
		t.Fatal(err)
	}
	if locked, err := g.LoginFailed(ctx, e); locked || err != nil {
		t.Fatal(locked, err)
	}
	if err := g.LoginSucceeded(ctx, e, "ip"); err != nil {
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
		rl.EXPECT().Hit(ctx, gomock.Any(), 3, 30*time.Minute).DoAndReturn(func(_ context.Context, k string, _ int, _ time.Duration) (bool, time.Duration, error) {
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

// The window of reset mails to one address is never longer than a reset
// link lives: an attacker who spends the budget leaves a link that works
// until the window ends, and then the owner's next request counts in a
// fresh one. Other kinds keep the configured window.
func TestAllowMailResetWindowCappedAtResetLinkTTL(t *testing.T) {
	for _, c := range []struct {
		name         string
		resetLinkTTL time.Duration
		kind         app.MailKind
		window       time.Duration
	}{
		{"reset, link shorter than the window", 30 * time.Minute, app.MailResetPassword, 30 * time.Minute},
		{"verify, link TTL does not apply", 30 * time.Minute, app.MailVerifyEmail, time.Hour},
		{"reset, link longer than the window", 2 * time.Hour, app.MailResetPassword, time.Hour},
		{"reset, link TTL unset", 0, app.MailResetPassword, time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := limits.DefaultPolicy()
			p.MailPerAddress = limits.Limit{Count: 3, Window: time.Hour}
			p.ResetLinkTTL = c.resetLinkTTL
			g, rl := newGuard(t, p)
			rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, c.window).Times(1).Return(true, time.Duration(0), nil)
			if ok, err := g.AllowMail(context.Background(), c.kind, apptest.Email("owner@example.com")); !ok || err != nil {
				t.Fatal(ok, err)
			}
		})
	}
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

// recordHit returns a Hit stub that records the key and window it was
// given under its limit and answers allowed / retry.
func recordHit(keys map[int]string, windows map[int]time.Duration, allowed bool, retry time.Duration) func(context.Context, string, int, time.Duration) (bool, time.Duration, error) {
	return func(_ context.Context, k string, limit int, w time.Duration) (bool, time.Duration, error) {
		keys[limit] = k
		windows[limit] = w
		return allowed, retry, nil
	}
}

// recordReset returns a Reset stub that appends the key it was given to
// reset.
func recordReset(reset *[]string) func(context.Context, string) error {
	return func(_ context.Context, k string) error {
		*reset = append(*reset, k)
		return nil
	}
}

// testWindow and testLockAt are a policy's failure window and lockout
// threshold in the tests of a counter pair, apart from the defaults.
var (
	testWindow = limits.Limit{Count: 7, Window: 11 * time.Minute}
	testLockAt = 42
)

// expectWindowThenLock expects a Hit of the window counter (testWindow),
// then one of the lock counter (testLockAt), both allowed, and records
// their keys and windows by limit.
func expectWindowThenLock(ctx context.Context, rl *mock.MockRateLimiter) (map[int]string, map[int]time.Duration) {
	keys, windows := map[int]string{}, map[int]time.Duration{}
	gomock.InOrder(
		rl.EXPECT().Hit(ctx, gomock.Any(), testWindow.Count, testWindow.Window).DoAndReturn(recordHit(keys, windows, true, 0)),
		rl.EXPECT().Hit(ctx, gomock.Any(), testLockAt, gomock.Any()).DoAndReturn(recordHit(keys, windows, true, 0)),
	)
	return keys, windows
}

func TestBeginLogin(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	t.Run("free: counts the pair, then the account", func(t *testing.T) {
		p := limits.DefaultPolicy()
		p.LoginFailures, p.LockoutThreshold = testWindow, testLockAt
		g, rl := newGuard(t, p)
		keys, windows := expectWindowThenLock(ctx, rl)
		if err := g.BeginLogin(ctx, e, "198.51.100.4"); err != nil {
			t.Fatal(err)
		}
		if keys[testWindow.Count] == "" || keys[testLockAt] == "" || keys[testWindow.Count] == keys[testLockAt] {
			t.Fatalf("pair and account keys %v", keys)
		}
		// The account counter lasts until reset, not for a short window.
		if windows[testLockAt] < 10*365*24*time.Hour {
			t.Fatalf("account window %v", windows[testLockAt])
		}
		assertNoEmail(t, []string{keys[testWindow.Count], keys[testLockAt]}, e.String())
		for _, k := range keys {
			if strings.Contains(k, "198.51.100.4") {
				t.Fatalf("key %q holds the IP", k)
			}
		}
	})
	t.Run("pair refused: its retry, account not counted", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		// Strict mock: a second Hit (the account) fails the test.
		rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(false, 7*time.Minute, nil)
		err := g.BeginLogin(ctx, e, "ip")
		var de *domain.Error
		if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter != 7*time.Minute || errors.Is(err, limits.ErrLocked) {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("account refused: locked, retry one hour", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		gomock.InOrder(
			rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(true, time.Duration(0), nil),
			rl.EXPECT().Hit(ctx, gomock.Any(), 100, gomock.Any()).Return(false, 3*time.Second, nil),
		)
		err := g.BeginLogin(ctx, e, "ip")
		var de *domain.Error
		if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter != time.Hour || !errors.Is(err, limits.ErrLocked) {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("pair store failure", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		rl.EXPECT().Hit(ctx, gomock.Any(), 10, gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
		if err := g.BeginLogin(ctx, e, "ip"); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("account store failure", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		gomock.InOrder(
			rl.EXPECT().Hit(ctx, gomock.Any(), 10, gomock.Any()).Return(true, time.Duration(0), nil),
			rl.EXPECT().Hit(ctx, gomock.Any(), 100, gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x"))),
		)
		if err := g.BeginLogin(ctx, e, "ip"); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLoginFailedReportsLock(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	for _, c := range []struct {
		name    string
		blocked bool
		err     error
	}{{"locked", true, nil}, {"not locked", false, nil}, {"store failure", false, domain.Unavailable(errors.New("db"))}} {
		t.Run(c.name, func(t *testing.T) {
			p := limits.DefaultPolicy()
			p.LockoutThreshold = 42
			g, rl := newGuard(t, p)
			// Only a read: the failure was counted by BeginLogin.
			rl.EXPECT().Blocked(ctx, gomock.Any(), 42).Return(c.blocked, time.Duration(0), c.err)
			locked, err := g.LoginFailed(ctx, e)
			if locked != c.blocked || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("LoginFailed = %v, %v", locked, err)
			}
		})
	}
}

func TestLoginSucceededResetsPairThenAccount(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	g, rl := newGuard(t, limits.DefaultPolicy())
	var reset []string
	rl.EXPECT().Reset(ctx, gomock.Any()).Times(2).DoAndReturn(recordReset(&reset))
	if err := g.LoginSucceeded(ctx, e, "ip"); err != nil {
		t.Fatal(err)
	}
	if len(reset) != 2 || reset[0] == reset[1] {
		t.Fatalf("Reset keys %v", reset)
	}
	assertNoEmail(t, reset, e.String())

	g, rl = newGuard(t, limits.DefaultPolicy())
	rl.EXPECT().Reset(ctx, gomock.Any()).Return(domain.Unavailable(errors.New("x"))) // strict: no second Reset
	if err := g.LoginSucceeded(ctx, e, "ip"); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// The keys BeginLogin counts are the keys LoginFailed reads and
// LoginSucceeded / ClearLockout reset; the pair key depends on the IP, the
// account key does not.
func TestLoginKeysAgree(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	g, rl := newGuard(t, limits.DefaultPolicy())
	hit, windows := map[int]string{}, map[int]time.Duration{}
	rl.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(recordHit(hit, windows, true, 0))
	var blocked string
	rl.EXPECT().Blocked(ctx, gomock.Any(), 100).DoAndReturn(func(_ context.Context, k string, _ int) (bool, time.Duration, error) {
		blocked = k
		return false, 0, nil
	})
	var reset []string
	rl.EXPECT().Reset(ctx, gomock.Any()).Times(3).DoAndReturn(recordReset(&reset))
	if err := g.BeginLogin(ctx, e, "198.51.100.4"); err != nil {
		t.Fatal(err)
	}
	if locked, err := g.LoginFailed(ctx, e); err != nil || locked {
		t.Fatal(locked, err)
	}
	if err := g.LoginSucceeded(ctx, e, "198.51.100.4"); err != nil {
		t.Fatal(err)
	}
	if err := g.ClearLockout(ctx, e); err != nil {
		t.Fatal(err)
	}
	pair, account := hit[10], hit[100]
	if pair == "" || account == "" || pair == account || blocked != account {
		t.Fatalf("Hit keys %v, Blocked key %q", hit, blocked)
	}
	if windows[10] != 15*time.Minute || windows[100] < 10*365*24*time.Hour {
		t.Fatalf("windows %v", windows)
	}
	if len(reset) != 3 || reset[0] != pair || reset[1] != account || reset[2] != account {
		t.Fatalf("Reset keys %v, want pair %s, account %s, account", reset, pair, account)
	}
	assertNoEmail(t, append([]string{pair, account, blocked}, reset...), e.String())

	// Another IP: other pair key, same account key.
	g2, rl2 := newGuard(t, limits.DefaultPolicy())
	other, otherW := map[int]string{}, map[int]time.Duration{}
	rl2.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(recordHit(other, otherW, true, 0))
	if err := g2.BeginLogin(ctx, e, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if other[10] == pair || other[100] != account {
		t.Fatalf("other IP keys %v vs pair %s account %s", other, pair, account)
	}

	// Another address: other keys.
	g3, rl3 := newGuard(t, limits.DefaultPolicy())
	third, thirdW := map[int]string{}, map[int]time.Duration{}
	rl3.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Times(2).DoAndReturn(recordHit(third, thirdW, true, 0))
	if err := g3.BeginLogin(ctx, apptest.Email("someone.else@example.com"), "198.51.100.4"); err != nil {
		t.Fatal(err)
	}
	if third[10] == pair || third[100] == account {
		t.Fatalf("other address keys %v vs pair %s account %s", third, pair, account)
	}
}

func TestDroppedMailIsObservedWithoutTheAddress(t *testing.T) {
	ctrl := gomock.NewController(t)
	rl := mock.NewMockRateLimiter(ctrl)
	obs := mock.NewMockObserver(ctrl)
	g := limits.NewObservedGuard(rl, limits.DefaultPolicy(), obs)
	addr := apptest.Email("someone@example.org")
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, time.Hour).Return(true, time.Duration(0), nil)
	if ok, err := g.AllowMail(context.Background(), app.MailVerifyEmail, addr); !ok || err != nil {
		t.Fatalf("first mail: %t, %v", ok, err) // and nothing observed (strict mock)
	}
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, time.Hour).Return(false, time.Minute, nil)
	obs.EXPECT().RateLimited(gomock.Any(), limits.RuleMailAddress)
	obs.EXPECT().MailSkipped(gomock.Any(), app.MailVerifyEmail, "example.org", limits.RuleMailAddress)
	if ok, err := g.AllowMail(context.Background(), app.MailVerifyEmail, addr); ok || err != nil {
		t.Fatalf("over the limit: %t, %v", ok, err)
	}
}

// Every refusal tells the observer its rule, a fixed name; what is allowed
// and what fails in the store tells it nothing (strict mock).
func TestRefusalsAreObservedByRule(t *testing.T) {
	ctx := context.Background()
	e := apptest.Email("victim@example.com")
	uid := uuid.MustParse("00000000-0000-4000-8000-000000000064")
	for _, c := range []struct {
		name, rule string
		hits       []bool // what the limiter answers, in order
		call       func(g *limits.Guard) error
	}{
		{"login per IP", "login_ip", []bool{false}, func(g *limits.Guard) error { return g.CheckIP(ctx, limits.Login, "203.0.113.9") }},
		{"register per IP", "register_ip", []bool{false}, func(g *limits.Guard) error { return g.CheckIP(ctx, limits.Register, "203.0.113.9") }},
		{"refresh per IP", "refresh_ip", []bool{false}, func(g *limits.Guard) error { return g.CheckIP(ctx, limits.Refresh, "203.0.113.9") }},
		{"account and IP", limits.RuleLoginAccountIP, []bool{false}, func(g *limits.Guard) error { return g.BeginLogin(ctx, e, "203.0.113.9") }},
		{"account locked", limits.RuleLoginAccount, []bool{true, false}, func(g *limits.Guard) error { return g.BeginLogin(ctx, e, "203.0.113.9") }},
		{"allowed", "", []bool{true, true}, func(g *limits.Guard) error { return g.BeginLogin(ctx, e, "203.0.113.9") }},
		{"codes of the account", limits.RuleCodeAccount, []bool{false}, func(g *limits.Guard) error { return g.BeginCode(ctx, uid, false) }},
		{"TOTP codes locked", limits.RuleCodeLocked, []bool{true, false}, func(g *limits.Guard) error { return g.BeginCode(ctx, uid, false) }},
		{"recovery code while locked", "", []bool{true, false}, func(g *limits.Guard) error { return g.BeginCode(ctx, uid, true) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			rl := mock.NewMockRateLimiter(ctrl)
			obs := mock.NewMockObserver(ctrl)
			g := limits.NewObservedGuard(rl, limits.DefaultPolicy(), obs)
			var calls []any
			for _, ok := range c.hits {
				calls = append(calls, rl.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Return(ok, time.Minute, nil))
			}
			gomock.InOrder(calls...)
			if c.rule != "" {
				obs.EXPECT().RateLimited(ctx, c.rule)
			}
			if err := c.call(g); (err != nil) != (c.rule != "") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	ctrl := gomock.NewController(t)
	rl := mock.NewMockRateLimiter(ctrl)
	g := limits.NewObservedGuard(rl, limits.DefaultPolicy(), mock.NewMockObserver(ctrl))
	rl.EXPECT().Hit(ctx, gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("db down")))
	if err := g.CheckIP(ctx, limits.Login, "ip"); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// Second-factor counters: window per account, then the consecutive lock;
// keyed by the user id and sharing no key with the password counters, so
// that a right password never resets them.
func TestBeginCode(t *testing.T) {
	ctx := context.Background()
	id := uuid.MustParse("00000000-0000-4000-8000-000000000064")
	t.Run("free: the window, then the lock, never a password key", func(t *testing.T) {
		p := limits.DefaultPolicy()
		p.CodeFailures, p.CodeLockoutThreshold = testWindow, testLockAt
		g, rl := newGuard(t, p)
		keys, windows := expectWindowThenLock(ctx, rl)
		if err := g.BeginCode(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		if keys[testWindow.Count] == "" || keys[testLockAt] == "" || keys[testWindow.Count] == keys[testLockAt] || windows[testLockAt] < 10*365*24*time.Hour {
			t.Fatalf("keys %v windows %v", keys, windows)
		}
		for _, k := range keys {
			if strings.Contains(k, id.String()) {
				t.Fatalf("key %q holds the user id", k)
			}
		}
		// A right password resets only the password counters.
		var reset []string
		rl.EXPECT().Reset(ctx, gomock.Any()).DoAndReturn(recordReset(&reset)).Times(2)
		if err := g.LoginSucceeded(ctx, apptest.Email("owner@example.com"), "198.51.100.4"); err != nil {
			t.Fatal(err)
		}
		for _, k := range reset {
			if k == keys[testWindow.Count] || k == keys[testLockAt] {
				t.Fatalf("a right password reset the code counter %q", k)
			}
		}
		// A right code resets exactly the code counters.
		reset = nil
		rl.EXPECT().Reset(ctx, gomock.Any()).DoAndReturn(recordReset(&reset)).Times(2)
		if err := g.CodeSucceeded(ctx, id); err != nil {
			t.Fatal(err)
		}
		if len(reset) != 2 || reset[0] != keys[testWindow.Count] || reset[1] != keys[testLockAt] {
			t.Fatalf("CodeSucceeded reset %v, want %v", reset, keys)
		}
	})
	t.Run("window used up: every code refused with its retry, lock not counted", func(t *testing.T) {
		for _, recovery := range []bool{false, true} {
			g, rl := newGuard(t, limits.DefaultPolicy())
			rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(false, 4*time.Minute, nil)
			err := g.BeginCode(ctx, id, recovery)
			var de *domain.Error
			if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter != 4*time.Minute || errors.Is(err, limits.ErrLocked) {
				t.Fatalf("recovery=%v: err = %#v", recovery, err)
			}
		}
	})
	t.Run("locked: TOTP codes refused, a recovery code still checked", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		rl.EXPECT().Hit(ctx, gomock.Any(), 10, 15*time.Minute).Return(true, time.Duration(0), nil).Times(2)
		rl.EXPECT().Hit(ctx, gomock.Any(), 100, gomock.Any()).Return(false, time.Duration(0), nil).Times(2)
		err := g.BeginCode(ctx, id, false)
		if !errors.Is(err, domain.ErrRateLimited) || !errors.Is(err, limits.ErrLocked) {
			t.Fatalf("TOTP code: err = %v", err)
		}
		if err := g.BeginCode(ctx, id, true); err != nil {
			t.Fatalf("recovery code: err = %v", err)
		}
	})
	t.Run("CodeFailed reads the lock", func(t *testing.T) {
		g, rl := newGuard(t, limits.DefaultPolicy())
		rl.EXPECT().Blocked(ctx, gomock.Any(), 100).Return(true, time.Duration(0), nil)
		if locked, err := g.CodeFailed(ctx, id); !locked || err != nil {
			t.Fatal(locked, err)
		}
	})
	t.Run("disabled: no calls", func(t *testing.T) {
		p := limits.DefaultPolicy()
		p.Disabled = true
		g, _ := newGuard(t, p)
		if err := g.BeginCode(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		if locked, err := g.CodeFailed(ctx, id); locked || err != nil {
			t.Fatal(locked, err)
		}
		if err := g.CodeSucceeded(ctx, id); err != nil {
			t.Fatal(err)
		}
	})
}

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

// The two mail requests, as their use cases build them: the kind recorded
// and the per-address limit's window (a reset link's is its lifetime).
var mailRequests = []struct {
	name    string
	build   func(app.Outbox, *limits.Guard, app.IDGenerator, app.Clock) apptest.MailRequester
	request app.MailKind
	window  time.Duration
}{
	{"resend verification", func(o app.Outbox, g *limits.Guard, ids app.IDGenerator, c app.Clock) apptest.MailRequester {
		return account.NewResendVerification(o, g, ids, c)
	}, app.VerifyRequest, time.Hour},
	{"forgot password", func(o app.Outbox, g *limits.Guard, ids app.IDGenerator, c app.Clock) apptest.MailRequester {
		return password.NewForgot(o, g, ids, c)
	}, app.ResetRequest, 30 * time.Minute},
}

func TestMailRequests(t *testing.T) {
	for _, c := range mailRequests {
		build := func(t *testing.T) (apptest.MailRequester, *mock.MockOutbox, *mock.MockRateLimiter) {
			ctrl := gomock.NewController(t)
			ob, rl := mock.NewMockOutbox(ctrl), mock.NewMockRateLimiter(ctrl)
			return c.build(ob, limits.NewGuard(rl, limits.DefaultPolicy()), &apptest.IDs{}, apptest.NewClock(apptest.T0)), ob, rl
		}
		t.Run(c.name+": recorded", func(t *testing.T) {
			h, ob, rl := build(t)
			// Counted before it is recorded: over the limit nothing is.
			gomock.InOrder(
				rl.EXPECT().Hit(gomock.Any(), gomock.Any(), 3, c.window).Return(true, time.Duration(0), nil),
				// Created and due at the app clock's now.
				ob.EXPECT().Enqueue(gomock.Any(), app.OutboundMail{ID: apptest.ID(1), Kind: c.request, To: "who@example.com"}, apptest.T0).Return(nil),
			)
			if err := h.Handle(context.Background(), "\t Who@Example.com "); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(c.name+": over the limit, answered as usual", func(t *testing.T) {
			h, _, rl := build(t)
			rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Minute, nil)
			if err := h.Handle(context.Background(), "who@example.com"); err != nil {
				t.Fatalf("over the limit: %v", err)
			}
		})
		t.Run(c.name+": invalid address", func(t *testing.T) {
			h, _, _ := build(t)
			for _, addr := range []string{"who@@example.com", "who@example.com\r\nBcc: evil@x.io"} {
				err := h.Handle(context.Background(), addr)
				var de *domain.Error
				if !errors.Is(err, user.ErrInvalidEmail) || !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Code != "invalid_email" {
					t.Fatalf("%q: err = %v", addr, err)
				}
			}
		})
		t.Run(c.name+": limiter failure", func(t *testing.T) {
			h, _, rl := build(t)
			rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), domain.Unavailable(errors.New("x")))
			if err := h.Handle(context.Background(), "who@example.com"); !errors.Is(err, domain.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
		})
		// The request path does the same port work for a registered and an
		// unknown address: it has no way to look the address up, and the
		// request carries the address only.
		t.Run(c.name+": same work for any address", func(t *testing.T) {
			run := func(addr string) map[string]int {
				n, queued := apptest.MailRequestWork(t, addr, c.build)
				for _, m := range queued {
					if m.Kind != c.request || m.UserID != uuid.Nil || m.Data != nil {
						t.Errorf("request message %+v carries more than the address", m)
					}
				}
				return n
			}
			known, unknown := run("registered@example.com"), run("nobody@example.com")
			want := map[string]int{"RateLimiter.Hit": 1, "Outbox.Enqueue": 1, "IDGenerator.NewID": 1}
			if !maps.Equal(known, want) || !maps.Equal(unknown, want) {
				t.Fatalf("known %v, unknown %v, want both %v (no hashing, no lookup)", known, unknown, want)
			}
		})
	}
}

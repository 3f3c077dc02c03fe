package session_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/google/uuid"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestNew(t *testing.T) {
	id, uid := uuid.New(), uuid.New()
	if _, err := session.New(uuid.Nil, uid, t0, time.Hour, "", ""); err == nil {
		t.Error("nil id accepted")
	}
	if _, err := session.New(id, uuid.Nil, t0, time.Hour, "", ""); err == nil {
		t.Error("nil user accepted")
	}
	if _, err := session.New(id, uid, t0, 0, "", ""); err == nil {
		t.Error("zero ttl accepted")
	}
	s, err := session.New(id, uid, t0, 720*time.Hour, "curl/8", "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != id || s.UserID() != uid || !s.CreatedAt().Equal(t0) || !s.LastUsedAt().Equal(t0) ||
		!s.ExpiresAt().Equal(t0.Add(720*time.Hour)) || s.RevokedAt() != nil || s.UserAgent() != "curl/8" || s.IP() != "203.0.113.9" {
		t.Fatal("New lost a field")
	}
}

func TestLive(t *testing.T) {
	const idle = 24 * time.Hour
	exp := t0.Add(72 * time.Hour)
	revoked := t0.Add(time.Hour)
	mk := func(lastUsed time.Time, rev *time.Time) *session.Session {
		return session.Rehydrate(uuid.New(), uuid.New(), t0, lastUsed, exp, rev, "", "")
	}
	for _, c := range []struct {
		name string
		s    *session.Session
		now  time.Time
		live bool
	}{
		{"fresh", mk(t0, nil), t0, true},
		{"just before idle timeout", mk(t0, nil), t0.Add(idle - time.Nanosecond), true},
		{"exactly at idle timeout", mk(t0, nil), t0.Add(idle), false},
		{"past idle timeout", mk(t0, nil), t0.Add(idle + time.Second), false},
		{"touched recently, near expiry", mk(exp.Add(-time.Hour), nil), exp.Add(-time.Nanosecond), true},
		{"exactly at absolute expiry though recently used", mk(exp.Add(-time.Hour), nil), exp, false},
		{"past absolute expiry", mk(exp.Add(-time.Hour), nil), exp.Add(time.Minute), false},
		{"revoked", mk(t0, &revoked), t0.Add(2 * time.Hour), false},
		{"revoked in the future still dead", mk(t0, &revoked), t0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.Live(c.now, idle); got != c.live {
				t.Fatalf("Live = %v, want %v", got, c.live)
			}
		})
	}
}

func TestTouchExtendsIdle(t *testing.T) {
	s, _ := session.New(uuid.New(), uuid.New(), t0, 72*time.Hour, "", "")
	const idle = 24 * time.Hour
	s.Touch(t0.Add(20 * time.Hour))
	if !s.LastUsedAt().Equal(t0.Add(20 * time.Hour)) {
		t.Fatal("Touch")
	}
	if !s.Live(t0.Add(30*time.Hour), idle) {
		t.Fatal("touched session died at the old idle deadline")
	}
	if s.Live(t0.Add(44*time.Hour), idle) {
		t.Fatal("touched session alive at the new idle deadline")
	}
}

func TestRevokeIdempotent(t *testing.T) {
	s, _ := session.New(uuid.New(), uuid.New(), t0, time.Hour, "", "")
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	s.Revoke(t1)
	if s.RevokedAt() == nil || !s.RevokedAt().Equal(t1) {
		t.Fatalf("RevokedAt = %v", s.RevokedAt())
	}
	s.Revoke(t2)
	if !s.RevokedAt().Equal(t1) {
		t.Fatalf("second Revoke moved RevokedAt to %v", s.RevokedAt())
	}
	if s.Live(t1, time.Hour) {
		t.Fatal("revoked session is live")
	}
}

// A session starts authenticated by password at its creation; a proved
// second factor joins its methods and moves auth_time; it steps up for
// maxAge after that, and only with a second factor (otp, or a passkey's
// hwk with user verification).
func TestAuthenticationAndStepUp(t *testing.T) {
	s, _ := session.New(uuid.New(), uuid.New(), t0, time.Hour, "", "")
	if got := s.AMR(); len(got) != 1 || got[0] != "pwd" || !s.AuthTime().Equal(t0) || s.SecondFactor() {
		t.Fatalf("new session: amr %v auth_time %v", got, s.AuthTime())
	}
	const maxAge = 15 * time.Minute
	if s.SteppedUp(t0, maxAge) {
		t.Fatal("a password-only session stepped up")
	}
	t1 := t0.Add(20 * time.Minute)
	s.Proved(session.MethodOTP, t1)
	s.Proved(session.MethodOTP, t1) // once in the list
	if got := s.AMR(); len(got) != 2 || got[0] != "pwd" || got[1] != "otp" || !s.AuthTime().Equal(t1) || !s.SecondFactor() {
		t.Fatalf("after a code: amr %v auth_time %v", got, s.AuthTime())
	}
	s.AMR()[0] = "changed"
	if s.AMR()[0] != "pwd" {
		t.Fatal("AMR hands out its own slice")
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{t1, true}, {t1.Add(maxAge), true}, {t1.Add(maxAge + time.Nanosecond), false}} {
		if got := s.SteppedUp(c.at, maxAge); got != c.want {
			t.Errorf("SteppedUp at %v = %v, want %v", c.at.Sub(t1), got, c.want)
		}
	}
	passkey := session.Rehydrate(uuid.New(), uuid.New(), t0, t0, t1, nil, "", "")
	passkey.RehydrateAuthentication([]string{"hwk", "user"}, t0)
	if !passkey.SteppedUp(t0.Add(time.Minute), maxAge) || !passkey.SecondFactor() {
		t.Fatal("a passkey session with user verification did not step up")
	}
	// A passkey without user verification is one factor, like a password.
	presence := session.Rehydrate(uuid.New(), uuid.New(), t0, t0, t1, nil, "", "")
	presence.RehydrateAuthentication([]string{"hwk"}, t0)
	if presence.SecondFactor() || presence.SteppedUp(t0.Add(time.Minute), maxAge) {
		t.Fatal("a passkey session without user verification stepped up")
	}
	presence.Proved(session.MethodOTP, t0)
	if !presence.SteppedUp(t0.Add(time.Minute), maxAge) {
		t.Fatal("a passkey session without user verification, then a code, did not step up")
	}
	stored := session.Rehydrate(uuid.New(), uuid.New(), t0, t0, t1, nil, "", "")
	stored.RehydrateAuthentication(nil, t0)
	if got := stored.AMR(); len(got) != 1 || got[0] != "pwd" {
		t.Fatalf("empty stored methods: amr %v", got)
	}
}

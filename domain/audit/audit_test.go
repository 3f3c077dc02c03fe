package audit_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

func base() audit.Event {
	return audit.Event{
		Type:      audit.LoginSucceeded,
		UserID:    uuid.MustParse("11111111-1111-4111-8111-111111111111"),
		IP:        "203.0.113.7",
		UserAgent: "curl/8.0",
		At:        time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC),
		Detail:    map[string]string{"session_id": "abc", "email": "a@x.io"},
	}
}

var prev = bytes.Repeat([]byte{0xab}, 32)

func TestChainDeterministic(t *testing.T) {
	a := audit.Chain(prev, 7, base())
	b := audit.Chain(append([]byte(nil), prev...), 7, base())
	if len(a) != 32 || !bytes.Equal(a, b) {
		t.Fatalf("not deterministic: %x %x", a, b)
	}
}

func TestChainChangesWithEveryInput(t *testing.T) {
	ref := audit.Chain(prev, 7, base())
	mut := map[string]func(e *audit.Event) ([]byte, int64){
		"prev":       func(e *audit.Event) ([]byte, int64) { p := append([]byte(nil), prev...); p[31] ^= 1; return p, 7 },
		"empty prev": func(e *audit.Event) ([]byte, int64) { return nil, 7 },
		"seq":        func(e *audit.Event) ([]byte, int64) { return prev, 8 },
		"type":       func(e *audit.Event) ([]byte, int64) { e.Type = audit.LoginFailed; return prev, 7 },
		"user":       func(e *audit.Event) ([]byte, int64) { e.UserID = uuid.Nil; return prev, 7 },
		"ip":         func(e *audit.Event) ([]byte, int64) { e.IP = "203.0.113.8"; return prev, 7 },
		"user agent": func(e *audit.Event) ([]byte, int64) { e.UserAgent = "curl/8.1"; return prev, 7 },
		"time (1µs)": func(e *audit.Event) ([]byte, int64) { e.At = e.At.Add(time.Microsecond); return prev, 7 },
		"detail val": func(e *audit.Event) ([]byte, int64) { e.Detail["email"] = "b@x.io"; return prev, 7 },
		"detail key": func(e *audit.Event) ([]byte, int64) {
			e.Detail = map[string]string{"session_i": "dabc", "email": "a@x.io"}
			return prev, 7
		},
		"detail more": func(e *audit.Event) ([]byte, int64) { e.Detail["x"] = ""; return prev, 7 },
		"no detail":   func(e *audit.Event) ([]byte, int64) { e.Detail = nil; return prev, 7 },
		// Field boundaries are length-prefixed: moving a byte from one
		// field to the next changes the hash.
		"ip/ua boundary": func(e *audit.Event) ([]byte, int64) { e.IP, e.UserAgent = "203.0.113.7c", "url/8.0"; return prev, 7 },
	}
	seen := map[string]string{"ref": string(ref)}
	for name, m := range mut {
		e := base()
		p, seq := m(&e)
		got := audit.Chain(p, seq, e)
		if bytes.Equal(got, ref) {
			t.Errorf("changing %s kept the hash", name)
		}
		for other, h := range seen {
			if h == string(got) {
				t.Errorf("%s and %s collide", name, other)
			}
		}
		seen[name] = string(got)
	}
}

func TestChainDetailOrderIrrelevant(t *testing.T) {
	e1 := base()
	e1.Detail = map[string]string{}
	e2 := base()
	e2.Detail = map[string]string{}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, k := range keys {
		e1.Detail[k] = k + "v"
	}
	for i := len(keys) - 1; i >= 0; i-- {
		e2.Detail[keys[i]] = keys[i] + "v"
	}
	want := audit.Chain(prev, 1, e1)
	for i := 0; i < 20; i++ { // map iteration order varies between runs
		if got := audit.Chain(prev, 1, e2); !bytes.Equal(got, want) {
			t.Fatal("detail insertion order changed the hash")
		}
	}
}

func TestChainTimePrecision(t *testing.T) {
	e := base()
	want := audit.Chain(prev, 1, e)

	sub := base()
	sub.At = sub.At.Add(999 * time.Nanosecond) // below a microsecond
	if got := audit.Chain(prev, 1, sub); !bytes.Equal(got, want) {
		t.Error("sub-microsecond part changed the hash")
	}
	zoned := base()
	zoned.At = zoned.At.In(time.FixedZone("X", 5*3600+1800))
	if got := audit.Chain(prev, 1, zoned); !bytes.Equal(got, want) {
		t.Error("time zone changed the hash")
	}
	mono := base()
	mono.At = time.Now()
	stripped := mono
	stripped.At = mono.At.Round(0)
	if !bytes.Equal(audit.Chain(prev, 1, mono), audit.Chain(prev, 1, stripped)) {
		t.Error("monotonic clock reading changed the hash")
	}
}

func TestChainLinks(t *testing.T) {
	// Each row covers the previous row's hash: changing row 1 changes row 2.
	e1, e2 := base(), base()
	e2.Type = audit.Logout
	h1 := audit.Chain(nil, 1, e1)
	h2 := audit.Chain(h1, 2, e2)
	e1.IP = "198.51.100.1"
	h1x := audit.Chain(nil, 1, e1)
	if bytes.Equal(audit.Chain(h1x, 2, e2), h2) {
		t.Fatal("editing row 1 did not change row 2's link")
	}
}

package main

import (
	"math"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestDeriveMemoryFromTheHashBound(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	bound := int64(2 * 19456 * 1024) // 2 slots at the default cost
	m := deriveMemory(map[string]string{"PATH": "/bin"}, bound)
	if !m.Derived || m.Limit != 64*mib+2*bound || m.Limit>>20 != 140 || m.GCPercent != 152 {
		t.Fatalf("deriveMemory = %+v; want derived, limit 64 MiB + 2 × 38 MiB = 140 MiB, GC percent 152", m)
	}
	// the heap goal with every slot busy stays under the limit, so the
	// limit only catches spikes
	for _, b := range []int64{0, bound, 4 * bound, 50 * bound} {
		m := deriveMemory(nil, b)
		goal := float64(busyBase+b) * (1 + float64(m.GCPercent)/100)
		if m.GCPercent < 100 || m.GCPercent > 400 || (m.GCPercent > 100 && goal > limitShare*float64(m.Limit)+1) {
			t.Errorf("bound %d MiB: %+v, busy heap goal %.0f MiB", b>>20, m, goal/mib)
		}
	}
	if huge := deriveMemory(nil, math.MaxInt64/2); huge.Limit != math.MaxInt64 || huge.GCPercent != 100 {
		t.Fatalf("settings for a bound beyond int64 = %+v; want no limit, Go's default percent", huge)
	}
	for _, env := range []map[string]string{{"GOGC": "200"}, {"GOMEMLIMIT": "300MiB"}, {"GOGC": "off", "GOMEMLIMIT": "1GiB"}, {"GOGC": ""}} {
		if m := deriveMemory(env, bound); m.Derived {
			t.Errorf("deriveMemory(%v) = %+v; the operator's settings should stand", env, m)
		}
	}
}

func TestSetMemoryAppliesAndLogsOnlyDerivedSettings(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	var applied []memorySettings
	apply := func(m memorySettings) { applied = append(applied, m) }
	bound := int64(2 * 19456 * 1024)
	setMemory(zap.New(core), deriveMemory(nil, bound), bound, apply)
	setMemory(zap.New(core), deriveMemory(map[string]string{"GOMEMLIMIT": "1GiB"}, bound), bound, apply)
	setMemory(zap.New(core), deriveMemory(nil, bound), bound, nil)
	if len(applied) != 1 || applied[0].Limit>>20 != 140 || applied[0].GCPercent != 152 {
		t.Fatalf("applied %+v; want the derived settings once", applied)
	}
	entries := logs.All()
	if len(entries) != 3 {
		t.Fatalf("%d log lines; want 3", len(entries))
	}
	if f := entries[0].ContextMap(); f["memory_limit_mib"] != int64(140) || f["gc_percent"] != int64(152) || f["hash_bound_mib"] != int64(38) {
		t.Fatalf("derived settings logged as %v", f)
	}
	if _, ok := entries[1].ContextMap()["memory_limit_mib"]; ok {
		t.Fatalf("the operator's settings logged as derived: %v", entries[1].ContextMap())
	}
}

package main

import (
	"math"
	"runtime/debug"

	"go.uber.org/zap"
)

// serve's garbage-collector settings, derived from the hashing bound.
//
// Every argon2id hash allocates its memory (ARGON2_MEMORY_KIB, 19 MiB by
// default) afresh, and at most HASH_CONCURRENCY hashes run at once: the
// hash bound. The hashes are nearly all that a login allocates, so they set
// the collector's pace, and each cycle marks the whole live heap (the
// password-strength dictionaries alone are about 10 MB of small objects).
//
// serve sets a memory limit of memoryBase (everything beside the hashes)
// plus twice the bound (the hashes in flight and as much garbage again):
// 64 + 2 × 2 × 19 = 140 MiB by default. The limit only catches spikes: when
// the collector paces itself against the limit, the runtime returns freed
// hash memory to the kernel just before the next hash faults it in again.
// The GC percent is the most that keeps the heap goal with every slot busy
// (busyBase plus the bound live) at limitShare of the limit, within
// [100, 400]: 152 by default, a quarter fewer collections than Go's 100.
//
// An operator who sets GOGC or GOMEMLIMIT decides alone: serve then
// changes neither.
const (
	memoryBase = 64 << 20
	busyBase   = 12 << 20
	limitShare = 0.9
)

// memorySettings are what serve asks of the runtime.
type memorySettings struct {
	// Derived is false when the operator set GOGC or GOMEMLIMIT; the
	// runtime then keeps what they set and Limit and GCPercent are unused.
	Derived   bool
	Limit     int64 // bytes
	GCPercent int
}

// deriveMemory chooses the settings for a hash bound of hashBound bytes,
// unless env sets GOGC or GOMEMLIMIT.
func deriveMemory(env map[string]string, hashBound int64) memorySettings {
	if _, ok := env["GOGC"]; ok {
		return memorySettings{}
	}
	if _, ok := env["GOMEMLIMIT"]; ok {
		return memorySettings{}
	}
	if hashBound > (math.MaxInt64-memoryBase)/2 {
		return memorySettings{Derived: true, Limit: math.MaxInt64, GCPercent: 100}
	}
	limit := memoryBase + 2*hashBound
	pct := 100 * (limitShare*float64(limit)/float64(busyBase+hashBound) - 1)
	return memorySettings{Derived: true, Limit: limit, GCPercent: int(min(max(pct, 100), 400))}
}

// applyMemory sets the runtime's memory limit and GC percent; main passes it
// to serve (tests running serve in their own process leave theirs alone).
func applyMemory(s memorySettings) {
	debug.SetMemoryLimit(s.Limit)
	debug.SetGCPercent(s.GCPercent)
}

// setMemory applies m with apply (when both are set) and logs what the
// runtime's memory settings are.
func setMemory(log *zap.Logger, m memorySettings, hashBound int64, apply func(memorySettings)) {
	bound := zap.Int64("hash_bound_mib", hashBound>>20)
	switch {
	case !m.Derived:
		log.Info("memory: GOGC or GOMEMLIMIT set, the runtime keeps them", bound)
	case apply == nil:
		log.Info("memory: the process's own settings kept", bound)
	default:
		apply(m)
		log.Info("memory: limit and GC percent derived from the hash bound", bound,
			zap.Int64("memory_limit_mib", m.Limit>>20), zap.Int("gc_percent", m.GCPercent))
	}
}

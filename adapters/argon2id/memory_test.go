package argon2id

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

const mib = 1 << 20

// defaultHashMiB is the memory one hash at DefaultParams needs.
const defaultHashMiB = float64(19456) / 1024

// heapPeak samples HeapInuse every few milliseconds until stopped and
// reports the peak growth over the heap in use when it started (after a
// GC).
type heapPeak struct {
	base, peak uint64
	stop       chan struct{}
	done       chan struct{}
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p := &heapPeak{base: ms.HeapInuse, peak: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			p.peak = max(p.peak, ms.HeapInuse)
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// Stop ends sampling and returns the peak growth in bytes.
func (p *heapPeak) Stop() uint64 {
	close(p.stop)
	<-p.done
	return p.peak - p.base
}

// verifyFlood runs n concurrent Verify calls of a wrong password against
// enc, as a flood of failed logins would, and returns the peak heap growth.
func verifyFlood(tb testing.TB, h *Hasher, enc string, n int) (peak uint64, elapsed time.Duration) {
	tb.Helper()
	ctx := context.Background()
	p := startHeapPeak()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			ok, _, err := h.Verify(ctx, pw("not the password at all"), enc)
			if err == nil && ok {
				err = fmt.Errorf("wrong password verified")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(start)
	peak = p.Stop()
	close(errs)
	for err := range errs {
		tb.Fatalf("Verify: %v", err)
	}
	return peak, elapsed
}

// TestConcurrentVerifyMemoryIsBounded shows that a flood of logins at the
// default cost keeps the heap near MaxConcurrent × 19 MiB instead of growing
// with the number of requests. It asserts memory, not time.
func TestConcurrentVerifyMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes at the real default cost")
	}
	const limit = 2
	n := 100
	if raceEnabled {
		n = 40 // the race detector makes argon2 several times slower
	}
	// The bound below assumes the default GC pacing; pin it against a
	// GOGC or GOMEMLIMIT in the environment.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	h := newHasher(t, Options{Params: DefaultParams, MaxConcurrent: limit, MaxWait: 5 * time.Minute})
	enc := h.DummyHash()
	peak, elapsed := verifyFlood(t, h, enc, n)
	// Between collections the garbage of finished hashes lingers (GOGC=100
	// lets the heap reach about twice the live MaxConcurrent × 19 MiB, and
	// allocation continues while the GC marks), so measured peaks land at 4
	// to 7 hashes' worth with 2 slots; the slack of 3 more hashes keeps the
	// test from flaking on a loaded machine while staying far below the
	// n × 19 MiB an unbounded hasher reaches.
	bound := float64(limit+4+3) * defaultHashMiB
	t.Logf("%d concurrent verifies, limit %d: peak heap growth %.1f MiB (bound %.1f MiB, unbounded would be ~%.0f MiB), %v",
		n, limit, float64(peak)/mib, bound, float64(n)*defaultHashMiB, elapsed.Round(time.Millisecond))
	if got := float64(peak) / mib; got > bound {
		t.Fatalf("peak heap growth %.1f MiB exceeds %.1f MiB", got, bound)
	}
}

// BenchmarkConcurrentLogins runs 200 concurrent Verify calls at the default
// cost per iteration with MaxConcurrent = NumCPU and reports the peak heap
// growth (peak-MiB) next to the bound's nominal size (limit-MiB = limit ×
// 19 MiB). Set GATEHOUSE_BENCH_UNBOUNDED=1 to also run it with 200 slots
// for comparison (needs about 4 GiB).
func BenchmarkConcurrentLogins(b *testing.B) {
	const n = 200
	limits := []int{runtime.NumCPU()}
	if os.Getenv("GATEHOUSE_BENCH_UNBOUNDED") == "1" {
		limits = append(limits, n)
	}
	for _, limit := range limits {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			h := newHasher(b, Options{Params: DefaultParams, MaxConcurrent: limit, MaxWait: 10 * time.Minute})
			enc := h.DummyHash()
			var worst uint64
			for b.Loop() {
				peak, _ := verifyFlood(b, h, enc, n)
				worst = max(worst, peak)
			}
			b.ReportMetric(float64(worst)/mib, "peak-MiB")
			b.ReportMetric(float64(limit)*defaultHashMiB, "limit-MiB")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/verify")
		})
	}
}

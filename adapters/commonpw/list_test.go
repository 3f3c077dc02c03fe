package commonpw_test

import (
	"crypto/rand"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/commonpw"
)

func TestContains(t *testing.T) {
	t.Parallel()
	l := commonpw.New()
	if n := l.Len(); n < 10000 {
		t.Fatalf("Len = %d; want at least 10000", n)
	}
	for _, pw := range []string{"password", "123456", "qwerty", "letmein", "trustno1", "PASSWORD", "QwErTy"} {
		if !l.Contains(pw) {
			t.Errorf("Contains(%q) = false; want true", pw)
		}
	}
	for _, pw := range []string{"", rand.Text()[:20], "correct horse battery staple mauve"} {
		if l.Contains(pw) {
			t.Errorf("Contains(%q) = true; want false", pw)
		}
	}
}

func TestSharedAndConcurrent(t *testing.T) {
	t.Parallel()
	done := make(chan int)
	for range 8 {
		go func() { done <- commonpw.New().Len() }()
	}
	first := <-done
	for range 7 {
		if n := <-done; n != first {
			t.Fatalf("Len differs between lists: %d vs %d", n, first)
		}
	}
}

func BenchmarkContains(b *testing.B) {
	l := commonpw.New()
	for b.Loop() {
		l.Contains("not-on-the-list-probably")
	}
}

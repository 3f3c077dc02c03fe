// Package commonpw is the blocklist of the password policy: the password
// frequency list that ships with zxcvbn (about 30,000 of the most common
// passwords from leaked corpora).
package commonpw

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
)

// List is the blocklist of common passwords. The zero value is not usable;
// call New. It is safe for concurrent use.
//
// It keeps a 64-bit hash of each lower-cased entry, not the entry: a set
// without pointers, which the garbage collector does not have to walk on
// each of its cycles (every login's hash sets their pace). Under a seed
// chosen per process, a password that is not on the list collides with
// one that is with a chance below one in 10^14, and would only be
// refused as common.
type List struct {
	set map[uint64]struct{}
}

var (
	once sync.Once
	seed = maphash.MakeSeed()
	set  map[uint64]struct{}
)

// load builds the set once per process; every List shares it.
func load() map[uint64]struct{} {
	once.Do(func() {
		words := frequency.FrequencyLists["passwords"]
		set = make(map[uint64]struct{}, len(words))
		for _, w := range words {
			set[maphash.String(seed, strings.ToLower(w))] = struct{}{}
		}
	})
	return set
}

// New returns the list, building it on first use.
func New() *List { return &List{set: load()} }

// Contains reports whether the password is on the list. The caller passes
// it lower-cased; Contains lowers it again for safety.
func (l *List) Contains(lower string) bool {
	_, ok := l.set[maphash.String(seed, strings.ToLower(lower))]
	return ok
}

// Len is the number of distinct entries.
func (l *List) Len() int { return len(l.set) }

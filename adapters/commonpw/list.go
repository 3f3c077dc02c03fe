// Package commonpw is the blocklist of the password policy: the password
// frequency list that ships with zxcvbn (about 30,000 of the most common
// passwords from leaked corpora).
package commonpw

import (
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
)

// List is the blocklist of common passwords. The zero value is not usable;
// call New. It is safe for concurrent use.
type List struct {
	set map[string]struct{}
}

var (
	once sync.Once
	set  map[string]struct{}
)

// load builds the lower-cased set once per process; every List shares it.
func load() map[string]struct{} {
	once.Do(func() {
		words := frequency.FrequencyLists["passwords"]
		set = make(map[string]struct{}, len(words))
		for _, w := range words {
			set[strings.ToLower(w)] = struct{}{}
		}
	})
	return set
}

// New returns the list, building it on first use.
func New() *List { return &List{set: load()} }

// Contains reports whether the password is on the list. The caller passes
// it lower-cased; Contains lowers it again for safety.
func (l *List) Contains(lower string) bool {
	if _, ok := l.set[lower]; ok {
		return true
	}
	_, ok := l.set[strings.ToLower(lower)]
	return ok
}

// Len is the number of distinct entries.
func (l *List) Len() int { return len(l.set) }

// Package storable makes client-supplied text and audit events storable
// the same way in every store adapter: valid UTF-8, no NUL, bounded length,
// times cut to what every store keeps. An event is hashed in the form it
// will read back in, so the audit chain verifies on any store.
package storable

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain/audit"
)

const (
	// MaxText bounds free-form client-supplied text (user agent, audit
	// detail values), in bytes.
	MaxText = 1024
	// MaxLastError bounds a stored delivery error, in bytes.
	MaxLastError = 1000
)

// Text makes s storable as text (valid UTF-8, no NUL) and cuts it to at
// most max bytes on a rune boundary.
func Text(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Map returns m with every key and value made storable (see Text); an
// empty map gives nil.
func Map(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[Text(k, MaxText)] = Text(v, MaxText)
	}
	return out
}

// Event returns e as it will read back from storage: text made storable,
// time in UTC cut to microseconds.
func Event(e audit.Event) audit.Event {
	e.Type = audit.Type(Text(string(e.Type), MaxText))
	e.IP = Text(e.IP, MaxText)
	e.UserAgent = Text(e.UserAgent, MaxText)
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Detail = Map(e.Detail)
	return e
}

// MapJSON encodes m, made storable (see Map), as the text of a JSON
// object; an empty map gives {}.
func MapJSON(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(Map(m))
	if err != nil {
		return "", fmt.Errorf("encode map: %w", err)
	}
	return string(b), nil
}

// ParseMapJSON decodes the text of a JSON object of strings; an empty
// object gives nil.
func ParseMapJSON(b []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode map: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// RetryAfter rounds what is left of a rate-limit window up to whole
// seconds, at least one, as both stores report it.
func RetryAfter(d time.Duration) time.Duration {
	d = (d + time.Second - 1).Truncate(time.Second)
	return max(d, time.Second)
}

// Methods is a session's authentication methods (amr) as stored: the RFC
// 8176 names, which hold no space, joined by single spaces.
func Methods(amr []string) string { return strings.Join(amr, " ") }

// ParseMethods reads Methods back.
func ParseMethods(s string) []string { return strings.Fields(s) }

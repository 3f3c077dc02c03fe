package webhook

import (
	"cmp"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

// MaxURL bounds an endpoint's URL.
const MaxURL = 2000

// Endpoint is where an application hears of the events it subscribed to.
// Its signing secrets are kept apart, sealed (see Secrets).
type Endpoint struct {
	ID        uuid.UUID
	URL       string
	Events    []Type
	CreatedAt time.Time
}

// Secrets are an endpoint's signing keys as stored: sealed. After a
// rotation Previous signs beside Current until PreviousUntil; otherwise
// Previous is nil.
type Secrets struct {
	Current       []byte
	Previous      []byte
	PreviousUntil time.Time
}

// Failure is a delivery whose last attempt failed: still retried, or
// given up.
type Failure struct {
	MessageID string
	Event     Type
	At        time.Time
	Error     string
}

// ErrNotFound: no endpoint has this id.
var ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "No webhook has this id."}

// NewEndpoint checks rawURL and events and returns the endpoint, or a
// validation error naming each field at fault. The URL is absolute http
// or https, without user information or fragment; events are known
// types, at least one, each once, kept in the order Types lists them.
func NewEndpoint(id uuid.UUID, rawURL string, events []Type, now time.Time) (Endpoint, error) {
	var fields []domain.FieldError
	u, fault := parseURL(rawURL)
	if fault != "" {
		fields = append(fields, domain.FieldError{Field: "url", Code: "invalid_url", Message: fault})
	}
	fields = append(fields, checkEvents(events)...)
	if len(fields) > 0 {
		return Endpoint{}, domain.Validation(fields...)
	}
	return Endpoint{ID: id, URL: u.String(), Events: SortTypes(slices.Clone(events)), CreatedAt: now}, nil
}

// SortTypes sorts ts in the order Types lists them, in place, and returns
// it.
func SortTypes(ts []Type) []Type {
	slices.SortFunc(ts, func(a, b Type) int { return cmp.Compare(slices.Index(Types, a), slices.Index(Types, b)) })
	return ts
}

func parseURL(raw string) (*url.URL, string) {
	if raw == "" || len(raw) > MaxURL {
		return nil, "url is an absolute http or https URL of at most 2000 characters."
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, "url is an absolute http or https URL."
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "url uses http or https."
	case u.User != nil:
		return nil, "url carries no user name or password."
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, "url has no fragment."
	case u.Hostname() == "":
		return nil, "url names a host."
	}
	return u, ""
}

func checkEvents(events []Type) []domain.FieldError {
	if len(events) == 0 {
		return []domain.FieldError{{Field: "events", Code: "required", Message: "Subscribe to at least one event."}}
	}
	for i, t := range events {
		if !t.Known() {
			return []domain.FieldError{{Field: "events", Code: "unknown_event", Message: "Unknown event " + strings.ToValidUTF8(string(t), "") + "; the events are " + typeList() + "."}}
		}
		if slices.Contains(events[:i], t) {
			return []domain.FieldError{{Field: "events", Code: "duplicate_event", Message: "Each event is named once: " + string(t) + " comes twice."}}
		}
	}
	return nil
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Host is the host name or address of a URL that NewEndpoint accepted.
func Host(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Public reports whether a is an address a webhook may reach without
// GATEHOUSE_WEBHOOK_ALLOW_PRIVATE: not loopback, private, link-local,
// unspecified or multicast (IPv4-mapped IPv6 addresses are judged as the
// IPv4 address they carry).
func Public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() &&
		!a.IsLinkLocalMulticast() && !a.IsInterfaceLocalMulticast() && !a.IsMulticast() && !a.IsUnspecified() &&
		!sharedOrReserved(a)
}

// sharedOrReserved is what netip does not classify but no webhook should
// reach: the carrier-grade NAT range, "this network", IPv4's reserved and
// broadcast range, the IETF protocol and benchmarking ranges, and the
// IPv6 prefixes that lead to an IPv4 address or a site (NAT64, 6to4,
// IPv4-compatible and translated addresses, site-local, discard): an
// address there may reach a private IPv4 network through a translator.
func sharedOrReserved(a netip.Addr) bool {
	for _, p := range nonPublic {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("100::/64"),
}

package mailer

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// TLSMode says how the SMTP connection is protected.
type TLSMode string

const (
	// TLSNone sends in plain text. Credentials are only accepted with it
	// when the host is localhost, 127.0.0.1 or ::1 (see SMTPConfig.Validate).
	TLSNone TLSMode = "none"
	// TLSStartTLS connects in plain text and requires the STARTTLS upgrade
	// before anything else is sent; a server without STARTTLS is an error.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, RFC 8314).
	TLSImplicit TLSMode = "implicit"
)

// Default ports per TLS mode.
const (
	DefaultPortNone     = 25
	DefaultPortStartTLS = 587
	DefaultPortImplicit = 465
)

// redacted replaces the password wherever a URL or config is shown.
const redacted = "xxxxx"

// SMTPConfig is a parsed SMTP URL. Its String and GoString methods redact
// the password, so printing or logging it with %v, %+v or %#v is safe.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      TLSMode
	Username string // empty: no SMTP AUTH
	Password string
}

// Addr is host:port.
func (c SMTPConfig) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// String shows the config as a URL with the password redacted.
func (c SMTPConfig) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Addr(), RawQuery: "tls=" + url.QueryEscape(string(c.TLS))}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, redacted)
	}
	return u.String()
}

// GoString is String, so that %#v cannot leak the password either.
func (c SMTPConfig) GoString() string { return c.String() }

// Validate checks the fields. It refuses credentials over an unencrypted
// connection to anything but a loopback host: they would cross the network
// in clear text (and go-mail's PLAIN mechanism refuses it anyway).
func (c SMTPConfig) Validate() error {
	if c.Host == "" {
		return errors.New("mailer: smtp host is empty")
	}
	if c.Port < 1 || c.Port > 65535 {
		return errors.New("mailer: smtp port must be between 1 and 65535")
	}
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return errors.New("mailer: smtp tls must be one of none, starttls, implicit")
	}
	if c.Username == "" && c.Password != "" {
		return errors.New("mailer: smtp password given without a username")
	}
	if c.TLS == TLSNone && c.Username != "" && !isLoopbackName(c.Host) {
		return errors.New("mailer: smtp credentials with tls=none are only allowed to localhost, 127.0.0.1 or ::1; use tls=starttls or tls=implicit")
	}
	return nil
}

// isLoopbackName matches the names go-mail's PLAIN/LOGIN mechanisms accept
// without TLS.
func isLoopbackName(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// ParseSMTPURL parses smtp://user:pass@host:port?tls=none|starttls|implicit.
// The scheme smtps means tls=implicit. Without a tls parameter the mode is
// starttls (implicit for smtps). Without a port it is 587 for starttls, 465
// for implicit and 25 for none. User and password are percent-decoded;
// special characters in them (such as / ? # @ :) must be percent-encoded.
//
// Errors never repeat any part of raw, so they cannot contain the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL: drop it.
		return SMTPConfig{}, errors.New("mailer: smtp url is malformed (percent-encode special characters in user and password)")
	}
	var cfg SMTPConfig
	switch u.Scheme {
	case "smtp":
		cfg.TLS = TLSStartTLS
	case "smtps":
		cfg.TLS = TLSImplicit
	default:
		return SMTPConfig{}, errors.New("mailer: smtp url scheme must be smtp or smtps")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.RawFragment != "" {
		// An unescaped / or # in the password moves the rest into path or
		// fragment: refuse rather than guess.
		return SMTPConfig{}, errors.New("mailer: smtp url must be smtp://[user[:password]@]host[:port][?tls=...] (percent-encode special characters in user and password)")
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return SMTPConfig{}, errors.New("mailer: smtp url query is malformed")
	}
	for key, vals := range q {
		if key != "tls" {
			return SMTPConfig{}, errors.New("mailer: smtp url has an unknown parameter; only tls is supported")
		}
		if len(vals) != 1 {
			return SMTPConfig{}, errors.New("mailer: smtp url has more than one tls parameter")
		}
		mode := TLSMode(strings.ToLower(vals[0]))
		switch mode {
		case TLSNone, TLSStartTLS, TLSImplicit:
		default:
			return SMTPConfig{}, errors.New("mailer: smtp url tls must be one of none, starttls, implicit")
		}
		if u.Scheme == "smtps" && mode != TLSImplicit {
			return SMTPConfig{}, errors.New("mailer: smtps url cannot have tls other than implicit")
		}
		cfg.TLS = mode
	}

	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return SMTPConfig{}, errors.New("mailer: smtp url has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, errors.New("mailer: smtp url port must be a number between 1 and 65535")
		}
		cfg.Port = n
	} else {
		switch cfg.TLS {
		case TLSNone:
			cfg.Port = DefaultPortNone
		case TLSImplicit:
			cfg.Port = DefaultPortImplicit
		default:
			cfg.Port = DefaultPortStartTLS
		}
	}

	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	if err := cfg.Validate(); err != nil {
		return SMTPConfig{}, err
	}
	return cfg, nil
}

// RedactURL returns raw with the password of its user info replaced by
// "xxxxx", for logging configuration. It does not need raw to be a valid
// URL: everything between the first ':' of the user info and the last '@'
// is replaced, so that a password with unescaped special characters is
// still hidden. A URL without a password is returned unchanged.
func RedactURL(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			// Not a URL we understand, but it may hold credentials: hide
			// everything before the host.
			return redacted + raw[at:]
		}
		return raw
	}
	rest := raw[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	userinfo := rest[:at]
	colon := strings.Index(userinfo, ":")
	if colon < 0 {
		return raw
	}
	return raw[:i+3] + userinfo[:colon] + ":" + redacted + rest[at:]
}

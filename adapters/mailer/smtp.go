package mailer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/google/uuid"
	"github.com/wneessen/go-mail"
)

// DefaultTimeout bounds one delivery (dial, TLS, AUTH and each command)
// unless the context's deadline is earlier.
const DefaultTimeout = 10 * time.Second

// SMTP delivers mail through an SMTP server with go-mail. Each Send opens
// one connection, delivers one multipart/alternative message (text and
// HTML) and closes it. It is safe for concurrent use.
//
// Authentication uses SASL PLAIN when the config has a username. With
// tls=starttls and tls=implicit the credentials only travel encrypted
// (STARTTLS is mandatory: a server that does not offer it is an error).
// With tls=none go-mail, like net/smtp, refuses PLAIN unless the server
// name is localhost, 127.0.0.1 or ::1; SMTPConfig.Validate refuses such a
// config up front so the mistake shows at startup rather than on every
// delivery.
type SMTP struct {
	cfg       SMTPConfig
	composer  composer
	renderer  *Renderer
	tlsConfig *tls.Config
	timeout   time.Duration
}

var _ outbox.Mailer = (*SMTP)(nil)

// Option configures an SMTP mailer.
type Option func(*SMTP)

// WithTLSConfig sets the TLS configuration used for STARTTLS and implicit
// TLS, e.g. one trusting a test server's self-signed certificate. It is
// cloned; ServerName defaults to the config's host and MinVersion to TLS 1.2.
func WithTLSConfig(c *tls.Config) Option {
	return func(s *SMTP) {
		if c != nil {
			s.tlsConfig = c.Clone()
		}
	}
}

// WithTimeout replaces DefaultTimeout. Non-positive values are ignored.
func WithTimeout(d time.Duration) Option {
	return func(s *SMTP) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithRenderer uses r instead of a Renderer of the embedded templates.
func WithRenderer(r *Renderer) Option {
	return func(s *SMTP) {
		if r != nil {
			s.renderer = r
		}
	}
}

// NewSMTP returns an SMTP mailer sending as from (an RFC 5322 address such
// as "Gatehouse <no-reply@example.com>"). It validates cfg and from; it does
// not connect.
func NewSMTP(cfg SMTPConfig, from string, opts ...Option) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newComposer(from)
	if err != nil {
		return nil, err
	}
	s := &SMTP{cfg: cfg, composer: c, timeout: DefaultTimeout}
	for _, o := range opts {
		o(s)
	}
	if s.renderer, err = rendererOrDefault(s.renderer); err != nil {
		return nil, err
	}
	if s.tlsConfig == nil {
		s.tlsConfig = &tls.Config{}
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = cfg.Host
	}
	if s.tlsConfig.MinVersion == 0 {
		s.tlsConfig.MinVersion = tls.VersionTLS12
	}
	return s, nil
}

// Send renders m and delivers it. It gives up when ctx is done or after the
// timeout, whichever comes first. Errors name the kind and the server but
// never the password, the body or the links.
func (s *SMTP) Send(ctx context.Context, m app.OutboundMail) error {
	msg, err := s.composer.compose(s.renderer, m, time.Now())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mailer: send %s via %s: %w", m.Kind, s.cfg.Addr(), err)
	}
	timeout := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return fmt.Errorf("mailer: send %s via %s: %w", m.Kind, s.cfg.Addr(), context.DeadlineExceeded)
	}

	// go-mail sets per-command deadlines from its timeout but does not
	// watch ctx after dialing; close the connection when ctx is done so
	// that cancellation (e.g. shutdown) interrupts a slow server.
	var (
		mu   sync.Mutex
		conn net.Conn
		done bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		done = true
		if conn != nil {
			_ = conn.Close()
		}
	})
	defer stop()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		c, err := s.dial(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if done {
			_ = c.Close()
			return nil, ctx.Err()
		}
		conn = c
		return c, nil
	}

	client, err := mail.NewClient(s.cfg.Host, s.clientOptions(timeout, dial)...)
	if err != nil {
		return fmt.Errorf("mailer: smtp client for %s: %w", s.cfg.Addr(), err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = errors.Join(cerr, err)
		}
		return fmt.Errorf("mailer: send %s via %s: %w", m.Kind, s.cfg.Addr(), err)
	}
	return nil
}

// dial opens the TCP connection, wrapped in TLS for implicit TLS. go-mail
// only applies its own TLS dialer when no dial function is given; the
// returned *tls.Conn is what tells its SMTP client the link is encrypted.
func (s *SMTP) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	if s.cfg.TLS == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig}
		return td.DialContext(ctx, network, addr)
	}
	return d.DialContext(ctx, network, addr)
}

func (s *SMTP) clientOptions(timeout time.Duration, dial mail.DialContextFunc) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(s.tlsConfig),
		mail.WithDialContextFunc(dial),
	}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthPlain),
			mail.WithUsername(s.cfg.Username),
			mail.WithPassword(s.cfg.Password),
		)
	}
	return opts
}

// composer builds the messages of one sender. SMTP and File both use it,
// so a mail written to a file has the same headers and bodies as the one
// the SMTP mailer sends.
type composer struct {
	from      *netmail.Address
	msgDomain string        // right side of Message-ID
	encoding  mail.Encoding // of the bodies; empty is go-mail's quoted-printable
}

// newComposer parses from, an RFC 5322 address such as
// "Gatehouse <no-reply@example.com>". The domain of its address becomes the
// right side of every Message-ID.
func newComposer(from string) (composer, error) {
	if strings.ContainsAny(from, "\r\n") {
		return composer{}, errors.New("mailer: from address contains a line break")
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return composer{}, fmt.Errorf("mailer: invalid from address: %w", err)
	}
	c := composer{from: addr, msgDomain: "gatehouse.invalid"}
	if at := strings.LastIndex(addr.Address, "@"); at >= 0 && at < len(addr.Address)-1 {
		c.msgDomain = addr.Address[at+1:]
	}
	return c, nil
}

// rendererOrDefault is r, or when r is nil a Renderer of the embedded
// templates.
func rendererOrDefault(r *Renderer) (*Renderer, error) {
	if r != nil {
		return r, nil
	}
	return NewRenderer()
}

// compose renders m with r and builds the mail: From, To, Subject,
// Message-ID, Date (from date), Auto-Submitted, and a
// multipart/alternative body of the text and the HTML part. A mail r cannot
// render (an unknown kind or a missing link) is an error wrapping
// outbox.ErrPermanent; a missing or invalid recipient is an error. Errors
// never hold the body or the links.
func (c composer) compose(r *Renderer, m app.OutboundMail, date time.Time) (*mail.Msg, error) {
	subject, text, html, err := r.Render(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
	}
	if m.To == "" || strings.ContainsAny(m.To, "\r\n") {
		return nil, fmt.Errorf("mailer: %s has an invalid recipient", m.Kind)
	}
	if c.encoding == mail.NoEncoding {
		// Unencoded (8bit) bodies go out as they are, so their lines end
		// in CRLF here, as RFC 5322 wants.
		text, html = crlf(text), crlf(html)
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if c.encoding != "" {
		msg.SetEncoding(c.encoding)
	}
	msg.SetAddrHeaderFromMailAddress(mail.HeaderFrom, c.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mailer: %s has an invalid recipient: %w", m.Kind, err)
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(c.messageID(m))
	msg.SetDateWithValue(date)
	// RFC 3834: keeps vacation responders from answering.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, nil
}

// messageID is stable across retries of one outbox message, so that a
// receiving server can discard a duplicate after an ambiguous failure.
func (c composer) messageID(m app.OutboundMail) string {
	if m.ID != uuid.Nil {
		return m.ID.String() + "@" + c.msgDomain
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + c.msgDomain
}

// Package smtptest runs an in-process SMTP server on 127.0.0.1 for tests:
// it accepts every mail (optionally after PLAIN authentication, optionally
// over STARTTLS or implicit TLS with a self-signed certificate made at start)
// and keeps it in memory, parsed into its text and HTML parts.
//
//	srv := smtptest.Start(t, smtptest.WithAuth("user", "secret"))
//	// ... configure the code under test with srv.Addr() ...
//	msgs := srv.WaitForMessages(t, 1, 5*time.Second)
//	token, ok := smtptest.ExtractLink(msgs[0].Text, "/verify-email")
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	user, pass  string
	auth        bool
	startTLS    bool
	implicitTLS bool
}

// WithAuth requires SASL PLAIN authentication with user and pass before
// MAIL FROM. PLAIN is offered on unencrypted connections too (insecure
// auth is allowed: this is a test server on loopback).
func WithAuth(user, pass string) Option {
	return func(o *options) { o.auth, o.user, o.pass = true, user, pass }
}

// WithSTARTTLS offers STARTTLS with a self-signed certificate for
// 127.0.0.1, ::1 and localhost. Clients trust it with TLSConfigForClient.
func WithSTARTTLS() Option {
	return func(o *options) { o.startTLS = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte (SMTPS)
// with a self-signed certificate. Clients trust it with TLSConfigForClient.
func WithImplicitTLS() Option {
	return func(o *options) { o.implicitTLS = true }
}

// Message is one accepted mail.
type Message struct {
	From     string   // envelope sender (MAIL FROM)
	To       []string // envelope recipients (RCPT TO)
	Data     []byte   // the raw message as received
	Header   map[string][]string
	Subject  string // decoded (RFC 2047)
	Text     string // the text/plain part, transfer-decoded, CRLF turned into LF
	HTML     string // the text/html part, transfer-decoded, CRLF turned into LF
	TLS      bool   // the session was encrypted (STARTTLS or implicit)
	AuthUser string // the authenticated user, empty without AUTH
}

// Server is an SMTP server for tests. It is safe for concurrent use.
type Server struct {
	tb        testing.TB
	opts      options
	serverTLS *tls.Config
	clientTLS *tls.Config

	mu        sync.Mutex
	port      int
	srv       *smtp.Server
	ln        *trackingListener
	serveDone chan struct{}
	running   bool
	msgs      []Message
	dataCode  int    // when non-zero, DATA is answered with this code
	dataMsg   string // and this text
}

// Start starts a server on a random port of 127.0.0.1. It is stopped by
// tb.Cleanup.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{tb: tb}
	for _, o := range opts {
		o(&s.opts)
	}
	if s.opts.startTLS && s.opts.implicitTLS {
		tb.Fatal("smtptest: WithSTARTTLS and WithImplicitTLS exclude each other")
	}
	if s.opts.startTLS || s.opts.implicitTLS {
		var err error
		if s.serverTLS, s.clientTLS, err = selfSigned(); err != nil {
			tb.Fatalf("smtptest: certificate: %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s.mu.Lock()
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.serveLocked(ln)
	s.mu.Unlock()
	tb.Cleanup(s.Stop)
	return s
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
}

// Host is "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the port the server listens on; it stays the same across Restart.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// TLSConfigForClient trusts the server's self-signed certificate (for
// ServerName 127.0.0.1; it is also valid for localhost and ::1). It is nil
// when the server has no TLS.
func (s *Server) TLSConfigForClient() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Messages returns a copy of the mail accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// WaitForMessages polls until at least n mails were accepted and returns
// them all; it fails tb when timeout passes first.
func (s *Server) WaitForMessages(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("smtptest: got %d messages, want at least %d within %v", len(msgs), n, timeout)
			return msgs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RejectData makes the server answer DATA with code (e.g. 451 for a
// temporary, 554 for a permanent failure) and text, so that no mail is
// accepted; code 0 accepts mail again.
func (s *Server) RejectData(code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataCode, s.dataMsg = code, text
}

// Stop closes the listener and every open connection; connecting fails
// until Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.running = false
	srv, ln, done := s.srv, s.ln, s.serveDone
	s.mu.Unlock()
	// Close the listener and connections ourselves too: go-smtp's Close
	// misses a listener Serve has not registered yet and connections whose
	// handler has not started.
	ln.closeAll()
	_ = srv.Close()
	<-done
}

// Restart stops the server if it runs and listens again on the same port,
// with the same options, certificate and accepted mail. It fails tb when the
// port cannot be bound again within a few seconds.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	addr := s.Addr()
	var (
		ln  net.Listener
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("smtptest: listen again on %s: %v", addr, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serveLocked(ln)
}

// serveLocked starts a new smtp.Server on ln. s.mu must be held.
func (s *Server) serveLocked(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.AllowInsecureAuth = true
	srv.ErrorLog = &tbLogger{s: s}
	if s.opts.startTLS {
		srv.TLSConfig = s.serverTLS
	}
	tl := &trackingListener{Listener: ln, conns: make(map[*trackedConn]struct{})}
	var serveLn net.Listener = tl
	if s.opts.implicitTLS {
		serveLn = tls.NewListener(tl, s.serverTLS)
	}
	done := make(chan struct{})
	s.srv, s.ln, s.serveDone, s.running = srv, tl, done, true
	go func() {
		defer close(done)
		_ = srv.Serve(serveLn)
	}()
}

// trackingListener remembers open connections so that Stop can close them
// all, and refuses connections accepted after Stop.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	_ = l.Listener.Close()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	l *trackingListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

func (s *Server) accept(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dataCode != 0 {
		return &smtp.SMTPError{Code: s.dataCode, Message: s.dataMsg}
	}
	s.msgs = append(s.msgs, m)
	return nil
}

// tbLogger reports go-smtp's internal errors through tb while the server
// runs; it is silent afterwards, as tb must not be used after the test.
type tbLogger struct{ s *Server }

func (l *tbLogger) Printf(format string, v ...any) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.running {
		l.s.tb.Logf("smtptest: "+format, v...)
	}
}

func (l *tbLogger) Println(v ...any) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.running {
		l.s.tb.Log(append([]any{"smtptest:"}, v...)...)
	}
}

// session is one SMTP connection; go-smtp calls it from one goroutine.
type session struct {
	s      *Server
	conn   *smtp.Conn
	authed string
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

// AuthMechanisms offers PLAIN when the server requires auth, else nothing.
func (se *session) AuthMechanisms() []string {
	if !se.s.opts.auth {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials.
func (se *session) Auth(mech string) (sasl.Server, error) {
	if !se.s.opts.auth || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if (identity != "" && identity != user) || user != se.s.opts.user || pass != se.s.opts.pass {
			return smtp.ErrAuthFailed
		}
		se.authed = user
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.auth && se.authed == "" {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.s.opts.auth && se.authed == "" {
		return smtp.ErrAuthRequired
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parse(data)
	m.From = se.from
	m.To = append([]string(nil), se.to...)
	_, m.TLS = se.conn.TLSConnectionState()
	m.AuthUser = se.authed
	return se.s.accept(m)
}

func (se *session) Reset() {
	se.from, se.to = "", nil
}

func (se *session) Logout() error { return nil }

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1, ::1 and
// localhost, valid for a day, and the matching server and client configs.
func selfSigned() (server, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client, nil
}

// Package webhook delivers webhooks over HTTP, signed as the Standard
// Webhooks specification says, and resolves endpoint hosts. Unless
// private addresses are allowed, the connection itself is refused when
// the address it reaches is not public, whatever the name resolved to
// when the endpoint was made (DNS rebinding).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
)

// UserAgent names Gatehouse to the receivers.
const UserAgent = "Gatehouse-Webhooks/1"

// Timeout bounds one attempt, from connecting to the end of the answer.
const Timeout = 10 * time.Second

// readLimit bounds what is read of an answer: enough to reuse the
// connection after a short body, and no more.
const readLimit = 4 << 10

// Sender posts deliveries.
type Sender struct {
	client *http.Client
}

var _ appwebhook.Sender = (*Sender)(nil)

// errNotPublic refuses a connection to an address that is not public.
var errNotPublic = errors.New("the address is loopback, private or link-local")

// NewSender builds a sender whose connections reach only public
// addresses unless allowPrivate. It follows no redirect: a 3xx is a
// failed attempt.
func NewSender(allowPrivate appwebhook.AllowPrivate) *Sender {
	dialer := &net.Dialer{Timeout: Timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !webhook.Public(ap.Addr()) {
				return errNotPublic
			}
			return nil
		}
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   Timeout,
		ResponseHeaderTimeout: Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Sender{client: &http.Client{
		Transport:     transport,
		Timeout:       Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send posts m.Body to m.URL with the Standard Webhooks headers: one
// signature per key, separated by spaces. The error of a failed attempt
// is a short line: the status, or what stopped the request.
func (s *Sender) Send(ctx context.Context, m appwebhook.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	for name, value := range Headers(m) {
		req.Header.Set(name, value)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return errors.New(describe(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, readLimit))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New(resp.Status)
	}
	return nil
}

// Headers are the Standard Webhooks headers of m: webhook-id,
// webhook-timestamp (Unix seconds) and webhook-signature.
func Headers(m appwebhook.Message) map[string]string {
	ts := strconv.FormatInt(m.Timestamp.Unix(), 10)
	sigs := make([]string, len(m.Keys))
	for i, k := range m.Keys {
		sigs[i] = Sign(k, m.ID, ts, m.Body)
	}
	return map[string]string{"webhook-id": m.ID, "webhook-timestamp": ts, "webhook-signature": strings.Join(sigs, " ")}
}

// Sign is one signature: "v1," and base64 of HMAC-SHA256 under key of
// "id.timestamp.body".
func Sign(key []byte, id, timestamp string, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + timestamp + "."))
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// describe says in a few words why a request got no answer, without the
// URL (the error of http.Client quotes it).
func describe(err error) string {
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) {
		if inner := uerr.Unwrap(); inner != nil {
			err = inner
		}
	}
	switch {
	case errors.Is(err, errNotPublic):
		return "refused: " + errNotPublic.Error()
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Resolver looks host names up with the system's resolver.
type Resolver struct{}

var _ appwebhook.Resolver = Resolver{}

// LookupAddrs returns the addresses of host.
func (Resolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

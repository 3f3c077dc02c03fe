package webhook_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/webhook"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver answers status and keeps what it got.
func receiver(t *testing.T, status int) (*httptest.Server, func() []received) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []received
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), body})
		mu.Unlock()
		if status/100 == 3 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func key(b byte) []byte { return []byte(strings.Repeat(string(rune('a'+b)), 32)) }

func secretOf(k []byte) string { return "whsec_" + base64.StdEncoding.EncodeToString(k) }

// Each key's signature verifies with the reference library, so a
// receiver holding either secret during a rotation accepts the delivery.
func TestSendSignsForEachKey(t *testing.T) {
	srv, got := receiver(t, http.StatusNoContent)
	s := webhook.NewSender(true)
	m := appwebhook.Message{
		URL: srv.URL + "/hooks", ID: "msg_1", Timestamp: time.Now(),
		Body: []byte(`{"type":"user.created","timestamp":"2026-01-01T00:00:00Z","data":{"user":{"id":"x"}}}`),
		Keys: [][]byte{key(1), key(2)},
	}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	reqs := got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if string(r.body) != string(m.Body) || r.header.Get("Content-Type") != "application/json" ||
		!strings.Contains(r.header.Get("User-Agent"), "Gatehouse") || r.header.Get("webhook-id") != "msg_1" {
		t.Errorf("request: %v %s", r.header, r.body)
	}
	if sigs := strings.Fields(r.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("webhook-signature %q: want two signatures", r.header.Get("webhook-signature"))
	}
	for _, k := range m.Keys {
		wh, err := standardwebhooks.NewWebhook(secretOf(k))
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Errorf("verify with %s...: %v", secretOf(k)[:10], err)
		}
	}
	other, _ := standardwebhooks.NewWebhook(secretOf(key(3)))
	if err := other.Verify(r.body, r.header); err == nil {
		t.Error("a secret that signed nothing verifies")
	}
}

// The signature is the reference library's, byte for byte.
func TestSignMatchesReference(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	body := []byte(`{"a":1}`)
	wh, _ := standardwebhooks.NewWebhookRaw(key(4))
	want, _ := wh.Sign("msg_x", ts, body)
	if got := webhook.Sign(key(4), "msg_x", "1700000000", body); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// Anything but a 2xx is a failed attempt: redirects are not followed.
func TestSendFailures(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusBadRequest, http.StatusInternalServerError} {
		srv, got := receiver(t, status)
		err := webhook.NewSender(true).Send(t.Context(), appwebhook.Message{URL: srv.URL, ID: "msg_1", Timestamp: time.Now(), Body: []byte("{}"), Keys: [][]byte{key(1)}})
		if want := strconv.Itoa(status) + " " + http.StatusText(status); err == nil || err.Error() != want {
			t.Errorf("status %d: err = %v", status, err)
		}
		if n := len(got()); n != 1 {
			t.Errorf("status %d: %d requests, want 1 (no redirect followed)", status, n)
		}
	}
}

// Without allowPrivate, a connection to a loopback address is refused
// when it is made, whatever the name resolved to earlier.
func TestSendRefusesPrivateAddresses(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	err := webhook.NewSender(false).Send(t.Context(), appwebhook.Message{URL: srv.URL, ID: "msg_1", Timestamp: time.Now(), Body: []byte("{}"), Keys: [][]byte{key(1)}})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want a refusal", err)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Errorf("the error quotes the URL: %v", err)
	}
	if n := len(got()); n != 0 {
		t.Errorf("%d requests reached a loopback receiver", n)
	}
}

func TestSendTimesOutWithContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	t.Cleanup(func() { close(block); srv.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := webhook.NewSender(true).Send(ctx, appwebhook.Message{URL: srv.URL, ID: "msg_1", Timestamp: time.Now(), Body: []byte("{}"), Keys: [][]byte{key(1)}})
	if err == nil || err.Error() != "timed out" {
		t.Errorf("err = %v, want timed out", err)
	}
}

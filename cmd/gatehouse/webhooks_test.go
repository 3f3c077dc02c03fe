package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookReceiver is an application's webhook endpoint on a fixed address,
// which can go down and come back. It verifies every delivery with the
// Standard Webhooks reference library as it arrives, and keeps them.
type hookReceiver struct {
	t      *testing.T
	addr   string
	secret string

	mu       sync.Mutex
	srv      *http.Server
	got      []delivered
	verified []error // the verification of each of got
}

// delivered is one request the receiver answered 204.
type delivered struct {
	id   string
	body []byte
	msg  hookBody
}

type hookBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		User struct {
			ID       string `json:"id"`
			Email    string `json:"email"`
			Disabled bool   `json:"disabled"`
		} `json:"user"`
	} `json:"data"`
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, addr: freeAddr(t)}
	t.Cleanup(r.down)
	return r
}

func (r *hookReceiver) url() string { return "http://" + r.addr + "/hooks/gatehouse" }

// up starts serving on the receiver's address.
func (r *hookReceiver) up() {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("receiver listen on %s: %v", r.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener and every connection: Gatehouse's attempts
// then fail to connect.
func (r *hookReceiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil || req.Method != http.MethodPost || req.URL.Path != "/hooks/gatehouse" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var msg hookBody
	err = json.Unmarshal(body, &msg)
	if err == nil {
		var wh *standardwebhooks.Webhook
		if wh, err = standardwebhooks.NewWebhook(r.secret); err == nil {
			err = wh.Verify(body, req.Header)
		}
	}
	if req.Header.Get("Content-Type") != "application/json" {
		err = errors.Join(err, errors.New("Content-Type "+req.Header.Get("Content-Type")))
	}
	r.mu.Lock()
	r.got = append(r.got, delivered{id: req.Header.Get("webhook-id"), body: body, msg: msg})
	r.verified = append(r.verified, err)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// unique is what arrived, each message id once (the first copy), in
// order of arrival.
func (r *hookReceiver) unique() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []delivered
	for _, d := range r.got {
		if !seen[d.id] {
			seen[d.id] = true
			out = append(out, d)
		}
	}
	return out
}

// waitFor polls the received deliveries until n unique ones arrived.
func (r *hookReceiver) waitFor(n int, within time.Duration) []delivered {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		u := r.unique()
		if len(u) >= n {
			return u
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d unique deliveries within %v, want %d: %v", len(u), within, n, u)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Every event reaches the endpoint exactly once per message id (a
// redelivery is the same message), in order per user, signed so that the
// reference library verifies it, although the receiver is down for a
// while and Gatehouse restarts in between.
func TestWebhooksSurviveOutagesAndRestarts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		env["GATEHOUSE_WEBHOOK_ALLOW_PRIVATE"] = "true"
		inst := start(t, env)
		a := newAdminClient(t, inst, adminKey(t, env, "e2e"))
		rcv := newHookReceiver(t)
		rcv.up()

		r := a.call(http.MethodPost, "/admin/v1/webhooks", map[string]any{"url": rcv.url(), "events": []string{"user.created", "user.disabled", "user.deleted"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", r.Status, r.Body)
		}
		created := r.JSON(t)
		rcv.secret = created["secret"].(string)
		hook := created["webhook"].(map[string]any)
		if hook["url"] != rcv.url() {
			t.Fatalf("webhook %v", hook)
		}

		// users are made, disabled and deleted by the operator: each
		// change is an event.
		var users []map[string]any // by index: id and email
		createUser := func(a adminClient) int {
			t.Helper()
			r := a.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": randomEmail(), "password": strongPassword, "email_verified": true})
			if r.Status != http.StatusCreated {
				t.Fatalf("create user: %d %s", r.Status, r.Body)
			}
			users = append(users, object(t, r, "user"))
			return len(users) - 1
		}
		disable := func(a adminClient, i int) {
			t.Helper()
			if r := a.call(http.MethodPatch, "/admin/v1/users/"+users[i]["id"].(string), map[string]any{"disabled": true}); r.Status != http.StatusOK {
				t.Fatalf("disable: %d %s", r.Status, r.Body)
			}
		}
		remove := func(a adminClient, i int) {
			t.Helper()
			if r := a.call(http.MethodDelete, "/admin/v1/users/"+users[i]["id"].(string), nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
		}
		want := map[string][]string{} // user id: the event types, in order
		did := func(i int, types ...string) {
			id := users[i]["id"].(string)
			want[id] = append(want[id], types...)
		}

		u0 := createUser(a)
		did(u0, "user.created")
		rcv.waitFor(1, time.Minute)

		rcv.down()
		disable(a, u0)
		u1, u2 := createUser(a), createUser(a)
		disable(a, u1)
		did(u0, "user.disabled")
		did(u1, "user.created", "user.disabled")
		did(u2, "user.created")
		// Gatehouse tried and failed while the receiver was down.
		deadline := time.Now().Add(time.Minute)
		for {
			r := a.call(http.MethodGet, "/admin/v1/webhooks", nil)
			list := r.JSON(t)["webhooks"].([]any)
			if len(list) == 1 && len(list[0].(map[string]any)["recent_failures"].([]any)) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed delivery listed while the receiver is down: %s", r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}

		// Gatehouse restarts on the same store while the receiver is down.
		if err := inst.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		inst = start(t, env)
		a = newAdminClient(t, inst, a.key)
		remove(a, u0)
		remove(a, u2)
		did(u0, "user.deleted")
		did(u2, "user.deleted")

		rcv.up()
		total := 0
		for _, ts := range want {
			total += len(ts)
		}
		// Retries back off from 5 s: the receiver, down for a few
		// seconds, hears of everything within about a minute.
		got := rcv.waitFor(total, 3*time.Minute)

		rcv.mu.Lock()
		for i, err := range rcv.verified {
			if err != nil {
				t.Errorf("delivery %s: %v", rcv.got[i].id, err)
			}
		}
		first := map[string][]byte{}
		for _, d := range rcv.got {
			if b, ok := first[d.id]; ok && string(b) != string(d.body) {
				t.Errorf("message %s delivered twice with different bodies:\n%s\n%s", d.id, b, d.body)
			}
			first[d.id] = d.body
		}
		rcv.mu.Unlock()

		heard := map[string][]string{}
		for _, d := range got {
			heard[d.msg.Data.User.ID] = append(heard[d.msg.Data.User.ID], d.msg.Type)
		}
		for id, ts := range want {
			if !slices.Equal(heard[id], ts) {
				t.Errorf("user %s: heard %v, want %v in this order", id, heard[id], ts)
			}
		}
		if len(got) != total {
			t.Errorf("%d unique deliveries, want %d", len(got), total)
		}
		for _, d := range got {
			if d.msg.Data.User.Email == "" || d.msg.Timestamp == "" {
				t.Errorf("body %s", d.body)
			}
		}
	})
}

// The command line drives the same use cases as the admin API: what one
// makes, the other lists; a private address is refused unless allowed.
func TestWebhooksCommand(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		mustCLI(t, env, "migrate", "up")
		if _, err := cli(t, env, "", "webhooks", "create", "--url", "http://127.0.0.1:9/hooks", "--event", "user.created"); err == nil {
			t.Fatal("a loopback URL was accepted without GATEHOUSE_WEBHOOK_ALLOW_PRIVATE")
		}
		env["GATEHOUSE_WEBHOOK_ALLOW_PRIVATE"] = "true"
		var made struct {
			Webhook struct {
				ID     string   `json:"id"`
				Events []string `json:"events"`
			} `json:"webhook"`
			Secret string `json:"secret"`
		}
		out := mustCLI(t, env, "webhooks", "create", "--json", "--url", "http://127.0.0.1:9/hooks", "--event", "user.deleted", "--event", "user.created")
		if err := json.Unmarshal([]byte(out), &made); err != nil || !slices.Equal(made.Webhook.Events, []string{"user.created", "user.deleted"}) || len(made.Secret) != len("whsec_")+44 {
			t.Fatalf("create printed %s (%v)", out, err)
		}

		inst := start(t, env)
		a := newAdminClient(t, inst, adminKey(t, env, "e2e"))
		r := a.call(http.MethodGet, "/admin/v1/webhooks", nil)
		list := r.JSON(t)["webhooks"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != made.Webhook.ID {
			t.Fatalf("the admin API lists %s", r.Body)
		}
		r = a.call(http.MethodPost, "/admin/v1/webhooks/"+made.Webhook.ID+"/secret", nil)
		if s, _ := r.JSON(t)["secret"].(string); r.Status != http.StatusOK || s == made.Secret {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
		if r := a.call(http.MethodPost, "/admin/v1/webhooks", map[string]any{"url": "ftp://x", "events": []string{"user.nope"}}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("bad webhook: %d %s", r.Status, r.Body)
		}
		if err := inst.stop(); err != nil {
			t.Fatal(err)
		}

		if out := mustCLI(t, env, "webhooks", "rotate-secret", made.Webhook.ID); !strings.HasPrefix(out, "whsec_") {
			t.Errorf("rotate-secret printed %q", out)
		}
		mustCLI(t, env, "webhooks", "delete", made.Webhook.ID)
		if _, err := cli(t, env, "", "webhooks", "delete", made.Webhook.ID); err == nil {
			t.Error("deleting twice succeeded")
		}
		if out := mustCLI(t, env, "webhooks", "list", "--json"); !strings.Contains(out, `"webhooks": []`) {
			t.Errorf("list after delete: %s", out)
		}
	})
}

// The README's receiver (examples/webhook-receiver, the standardwebhooks
// package) verifies a real delivery. It holds the secret from before a
// rotation: for a day both secrets sign, so it still verifies.
func TestWebhookReceiverExample(t *testing.T) {
	cmdline := nodeExample(t, "webhook-receiver", "receive.mjs", "standardwebhooks")
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		env["GATEHOUSE_WEBHOOK_ALLOW_PRIVATE"] = "true"
		inst := start(t, env)
		a := newAdminClient(t, inst, adminKey(t, env, "e2e"))
		host, port, err := net.SplitHostPort(freeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		r := a.call(http.MethodPost, "/admin/v1/webhooks", map[string]any{"url": "http://" + net.JoinHostPort(host, port) + "/", "events": []string{"user.created"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", r.Status, r.Body)
		}
		before := r.JSON(t)["secret"].(string)
		id := object(t, r, "webhook")["id"].(string)
		if r := a.call(http.MethodPost, "/admin/v1/webhooks/"+id+"/secret", nil); r.Status != http.StatusOK {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}

		cmd := exec.Command(cmdline[0], cmdline[1:]...)
		cmd.Env = append(cmd.Environ(), "WEBHOOK_SECRET="+before, "HOST="+host, "PORT="+port)
		var stderr syncBuffer
		cmd.Stderr = &stderr
		lines := startLines(t, cmd)
		// A delivery that never comes must not hang the test: the script
		// is stopped, and the line it did not print fails it.
		stop := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
		defer stop.Stop()
		line := func(what string) map[string]string {
			t.Helper()
			if !lines.Scan() {
				t.Fatalf("the receiver printed no %s: %v\n%s", what, lines.Err(), stderr.String())
			}
			var m map[string]string
			if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
				t.Fatalf("the receiver printed %q", lines.Text())
			}
			return m
		}
		line("listening address")

		r = a.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": randomEmail(), "password": strongPassword})
		if r.Status != http.StatusCreated {
			t.Fatalf("create user: %d %s", r.Status, r.Body)
		}
		userID := object(t, r, "user")["id"].(string)
		// The script prints a delivery once it verified it (it answers 400
		// to one that does not, and Gatehouse retries in vain).
		if got := line("event"); got["type"] != "user.created" || got["user_id"] != userID || !strings.HasPrefix(got["id"], "msg_") {
			t.Fatalf("the receiver heard %v", got)
		}
		if s := stderr.String(); s != "" {
			t.Errorf("the receiver complained: %s", s)
		}
	})
}

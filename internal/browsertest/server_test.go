package browsertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is one gatehouse serve process on the embedded store, driven from
// outside like a deployment: environment in, HTTP and mail files out.
type server struct {
	URL     string // http://127.0.0.1:<port> (or localhost:<port>), also GATEHOUSE_PUBLIC_URL
	DataDir string
	MailDir string

	env    []string // the environment of serve, for the commands run beside it
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{} // closed once the process has exited
	err    error         // the process's exit error, set before exited closes
	client *http.Client
}

// lockedBuffer collects the server's output; the process writes it while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startServer starts the built binary with a fresh data directory and no
// SMTP server, waits until GET /readyz answers 200, and stops it with
// SIGTERM when the test ends, checking that it exits 0. extra are more
// NAME=value settings of the environment (GATEHOUSE_APP_NAME, ...).
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	return startServerAt(t, "", extra...)
}

// startLocalhostServer is startServer with GATEHOUSE_PUBLIC_URL
// http://localhost:<port>: WebAuthn takes no IP address as relying party
// id, and a browser counts localhost as a secure context, so the passkey
// pages run there (the server still listens on 127.0.0.1).
func startLocalhostServer(t *testing.T, extra ...string) *server {
	t.Helper()
	return startServerAt(t, "localhost", extra...)
}

// startServerAt starts the server on a free 127.0.0.1 port; host, when
// not "", replaces 127.0.0.1 in its public URL.
func startServerAt(t *testing.T, host string, extra ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	dataDir := t.TempDir()
	public := "http://" + addr
	if host != "" {
		public = "http://" + host + addr[strings.LastIndex(addr, ":"):]
	}
	s := &server{
		URL:     public,
		DataDir: dataDir,
		MailDir: filepath.Join(dataDir, "mail"),
		log:     &lockedBuffer{},
		exited:  make(chan struct{}),
		client:  &http.Client{Timeout: 10 * time.Second},
	}

	// Nothing of the caller's GATEHOUSE_* environment (a DATABASE_URL, an
	// SMTP_URL) may leak in: this is the embedded store with mail files.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GATEHOUSE_DATA_DIR="+dataDir,
		"GATEHOUSE_HTTP_ADDR="+addr,
		// A port of its own, never the default 127.0.0.1:8081 that another
		// test or a developer's instance may hold.
		"GATEHOUSE_ADMIN_ADDR="+freeAddr(t),
		"GATEHOUSE_PUBLIC_URL="+s.URL,
		"GATEHOUSE_ARGON2_MEMORY_KIB=1024",
		"GATEHOUSE_ARGON2_ITERATIONS=1",
		"GATEHOUSE_SHUTDOWN_TIMEOUT=5s",
		"GATEHOUSE_LOG_LEVEL=debug",
	)
	env = append(env, extra...)
	s.env = env
	s.cmd = exec.Command(gatehouseBin, "serve")
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start gatehouse serve: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("gatehouse serve exited before it was ready: %v\n%s", s.err, s.log)
		default:
		}
		res, err := s.client.Get(s.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz did not answer 200 within 20s (last: %v)\n%s", describe(res, err), s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describe(res *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return res.Status
}

// stop sends SIGTERM and checks that the process exits 0 within the
// shutdown timeout. The server's log is printed when the test failed.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.client.CloseIdleConnections()
	select {
	case <-s.exited:
		t.Errorf("gatehouse serve exited before the test ended: %v", s.err)
	default:
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
		select {
		case <-s.exited:
			if s.err != nil {
				t.Errorf("gatehouse serve after SIGTERM: %v, want exit status 0", s.err)
			}
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("gatehouse serve did not exit within 10s of SIGTERM")
		}
	}
	if t.Failed() {
		t.Logf("gatehouse serve log:\n%s", s.log)
	}
}

// apiResponse is one JSON API answer.
type apiResponse struct {
	Status int
	Body   []byte
}

// call sends a JSON request to the API; bearer is an access token or "".
func (s *server) call(t *testing.T, method, path, bearer string, body any) apiResponse {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return apiResponse{Status: res.StatusCode, Body: b}
}

// mustCall is call that fails the test unless the answer has status want.
func (s *server) mustCall(t *testing.T, want int, method, path, bearer string, body any) apiResponse {
	t.Helper()
	res := s.call(t, method, path, bearer, body)
	if res.Status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	return res
}

// login answers the status of POST /v1/login and, on 200, the access token.
func (s *server) login(t *testing.T, email, password string) (int, string) {
	t.Helper()
	res := s.call(t, http.MethodPost, "/v1/login", "", map[string]string{"email": email, "password": password})
	if res.Status != http.StatusOK {
		return res.Status, ""
	}
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(res.Body, &pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("POST /v1/login = 200 without an access token (%v): %s", err, res.Body)
	}
	return res.Status, pair.AccessToken
}

// register registers email with password through the API and returns the
// link of the verification mail.
func (s *server) register(t *testing.T, email, password string) string {
	t.Helper()
	s.mustCall(t, http.StatusAccepted, http.MethodPost, "/v1/register", "", map[string]string{"email": email, "password": password})
	return s.awaitLink(t, email, "/verify-email")
}

// verifiedUser registers email and verifies it through the API (not the
// page), for the tests of the other pages.
func (s *server) verifiedUser(t *testing.T, email, password string) {
	t.Helper()
	token := tokenOf(t, s.register(t, email, password))
	s.mustCall(t, http.StatusOK, http.MethodPost, "/v1/verify-email", "", map[string]string{"token": token, "password": password})
}

// tokenOf is the token query parameter of a link from a mail.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	_, token, ok := strings.Cut(link, "?token=")
	if !ok || token == "" {
		t.Fatalf("link %q has no token", link)
	}
	return token
}

// awaitLink waits up to 20 s for a mail file addressed to rcpt that holds
// a link to path (with a token) and returns the link of the newest such
// mail. The link must start with GATEHOUSE_PUBLIC_URL.
func (s *server) awaitLink(t *testing.T, rcpt, path string) string {
	t.Helper()
	return s.awaitNewLink(t, rcpt, path, "")
}

// awaitNewLink is awaitLink for a link other than old: the one of a mail
// sent after the mail that held old.
func (s *server) awaitNewLink(t *testing.T, rcpt, path, old string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(s.URL+path) + `\?token=[A-Za-z0-9_-]+`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		link, err := s.findLink(rcpt, re)
		if err != nil {
			t.Fatal(err)
		}
		if link != "" && link != old {
			return link
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s with a link %s?token=… in %s within 20s; files: %v", rcpt, s.URL+path, s.MailDir, s.mailFiles())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findLink scans the mail files (named so that lexical order is time
// order) for the newest one to rcpt that matches re.
func (s *server) findLink(rcpt string, re *regexp.Regexp) (string, error) {
	entries, err := os.ReadDir(s.MailDir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	link := ""
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".eml") {
			continue // temporaries being written
		}
		raw, err := os.ReadFile(filepath.Join(s.MailDir, e.Name()))
		if err != nil {
			return "", err
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return "", fmt.Errorf("mail file %s: %w", e.Name(), err)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil {
			return "", fmt.Errorf("mail file %s: To: %w", e.Name(), err)
		}
		if len(to) != 1 || !strings.EqualFold(to[0].Address, rcpt) {
			continue
		}
		body, err := io.ReadAll(msg.Body)
		if err != nil {
			return "", err
		}
		if m := re.Find(body); m != nil {
			link = string(m)
		}
	}
	return link, nil
}

// subjects are the decoded subjects of the mails to rcpt so far, in the
// order they were written.
func (s *server) subjects(t *testing.T, rcpt string) []string {
	t.Helper()
	entries, err := os.ReadDir(s.MailDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(s.MailDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("mail file %s: %v", e.Name(), err)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != 1 || !strings.EqualFold(to[0].Address, rcpt) {
			continue
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("mail file %s: Subject: %v", e.Name(), err)
		}
		out = append(out, subj)
	}
	return out
}

func (s *server) mailFiles() []string {
	entries, _ := os.ReadDir(s.MailDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// prefetch GETs a link the way a mail scanner does, before the user opens
// it: the page must answer 200 and consume nothing.
func (s *server) prefetch(t *testing.T, link string) {
	t.Helper()
	res, err := s.client.Get(link)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("prefetch GET %s = %d, want 200", strings.SplitN(link, "?", 2)[0], res.StatusCode)
	}
}

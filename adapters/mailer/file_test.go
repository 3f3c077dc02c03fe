package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fileTime is the fixed time of the file mailer's clock in these tests.
var fileTime = time.Date(2026, 12, 2, 15, 53, 1, 123456789, time.UTC)

// fixedClock returns a clock that gives out times in order, then repeats
// the last one.
func fixedClock(times ...time.Time) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := times[0]
		if len(times) > 1 {
			times = times[1:]
		}
		return t
	}
}

func newFile(t *testing.T, dir string, logger *zap.Logger, opts ...mailer.FileOption) *mailer.File {
	t.Helper()
	m, err := mailer.NewFile(dir, from, logger, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mailFiles lists the names of the entries of dir, in lexical order.
func mailFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// onlyMailFile is the content of the one mail file in dir; any other
// number of files fails the test.
func onlyMailFile(t *testing.T, dir string) []byte {
	t.Helper()
	names := mailFiles(t, dir)
	if len(names) != 1 {
		t.Fatalf("files = %q", names)
	}
	raw, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// parsedMail is a mail file read with net/mail, its parts transfer-decoded.
type parsedMail struct {
	header mail.Header
	types  []string          // media type of each part, in order
	parts  map[string]string // media type -> decoded body, CRLF kept
}

func parseMailFile(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the file: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", mediaType)
	}
	p := parsedMail{header: msg.Header, parts: map[string]string{}}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		p.types = append(p.types, pt)
		p.parts[pt] = string(b)
	}
	return p
}

func TestFileMailerWritesMail(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "var", "mail")
	m := newFile(t, dir, nil, mailer.WithFileClock(fixedClock(fileTime)))
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a directory with 0700", d, fi.Mode())
		}
	}
	if m.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", m.Dir(), dir)
	}

	mail := verifyMail("alice@example.com")
	if err := m.Send(context.Background(), mail); err != nil {
		t.Fatal(err)
	}
	names := mailFiles(t, dir)
	want := "20261202T155301.123456789Z-verify_email-" + mail.ID.String() + ".eml"
	if len(names) != 1 || names[0] != want {
		t.Fatalf("files = %q, want [%q]", names, want)
	}
	path := filepath.Join(dir, want)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("line endings are not CRLF throughout")
	}

	p := parseMailFile(t, raw)
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != mail.To {
		t.Errorf("To = %v, %v", to, err)
	}
	fromAddr, err := p.header.AddressList("From")
	if err != nil || len(fromAddr) != 1 || fromAddr[0].Name != "Gatehouse" || fromAddr[0].Address != "no-reply@gatehouse.example" {
		t.Errorf("From = %v, %v", fromAddr, err)
	}
	if got := p.header.Get("Subject"); got != "Verify your email address for Gatehouse" {
		t.Errorf("Subject = %q", got)
	}
	if got := p.header.Get("Message-Id"); got != "<"+mail.ID.String()+"@gatehouse.example>" {
		t.Errorf("Message-ID = %q", got)
	}
	if date, err := p.header.Date(); err != nil || !date.Equal(fileTime.Truncate(time.Second)) {
		t.Errorf("Date = %v, %v, want %v", date, err, fileTime)
	}
	if got := p.header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if len(p.types) != 2 || p.types[0] != "text/plain" || p.types[1] != "text/html" {
		t.Fatalf("parts = %q, want text/plain then text/html", p.types)
	}
	link := mail.Data["link"]
	if !bytes.Contains(raw, []byte("\r\n"+link+"\r\n")) {
		t.Errorf("the file does not hold the link as it is, ready to copy")
	}
	if !strings.Contains(p.parts["text/plain"], "\r\n"+link+"\r\n") {
		t.Errorf("text part does not hold the link on its own line:\n%s", p.parts["text/plain"])
	}
	if !strings.Contains(p.parts["text/html"], `href="`+link+`"`) {
		t.Errorf("html part does not link to %q:\n%s", link, p.parts["text/html"])
	}
}

func TestFileMailerWritesWhatSMTPSends(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	s := newSMTP(t, mailer.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: mailer.TLSNone})
	dir := t.TempDir()
	f := newFile(t, dir, nil)

	mail := app.OutboundMail{ID: uuid.New(), Kind: app.MailAlreadyRegistered, To: "carol@example.com", Data: map[string]string{
		"login_link": "http://localhost:8080/login?token=" + testToken, "reset_link": "http://localhost:8080/forgot?token=" + testToken}}
	if err := send(t, s, mail); err != nil {
		t.Fatal(err)
	}
	if err := f.Send(context.Background(), mail); err != nil {
		t.Fatal(err)
	}
	sent := srv.WaitForMessages(t, 1, 5*time.Second)[0]
	p := parseMailFile(t, onlyMailFile(t, dir))
	if text := strings.ReplaceAll(p.parts["text/plain"], "\r\n", "\n"); text != sent.Text {
		t.Errorf("text part differs from the one sent:\nfile:\n%s\nsent:\n%s", text, sent.Text)
	}
	if html := strings.ReplaceAll(p.parts["text/html"], "\r\n", "\n"); html != sent.HTML {
		t.Errorf("html part differs from the one sent:\nfile:\n%s\nsent:\n%s", html, sent.HTML)
	}
	for _, h := range []string{"From", "To", "Subject", "Message-Id", "Auto-Submitted", "Mime-Version"} {
		if got, want := p.header.Get(h), strings.Join(sent.Header[h], ", "); got != want {
			t.Errorf("%s = %q, sent %q", h, got, want)
		}
	}
}

// TestFileMailerUsesTheGivenRenderer: WithFileRenderer's product name is
// the one in the subject of the file.
func TestFileMailerUsesTheGivenRenderer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, err := mailer.NewNamedRenderer("Acme")
	if err != nil {
		t.Fatal(err)
	}
	m := newFile(t, dir, nil, mailer.WithFileRenderer(r))
	if err := m.Send(context.Background(), verifyMail("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if got := parseMailFile(t, onlyMailFile(t, dir)).header.Get("Subject"); got != "Verify your email address for Acme" {
		t.Errorf("Subject = %q", got)
	}
}

func TestFileMailerNamesSortByTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The first mail gets the later time, in another zone; 0.12s after a
	// second would sort before 0.1s if trailing zeros were trimmed.
	zone := time.FixedZone("UTC+5", 5*3600)
	later := time.Date(2026, 12, 2, 20, 53, 1, 120000000, zone)
	earlier := time.Date(2026, 12, 2, 15, 53, 1, 100000000, time.UTC)
	m := newFile(t, dir, nil, mailer.WithFileClock(fixedClock(later, earlier)))

	reset := app.OutboundMail{ID: uuid.New(), Kind: app.MailResetPassword, To: "bob@example.com",
		Data: map[string]string{"link": "http://localhost:8080/reset-password?token=" + testToken}}
	verify := verifyMail("alice@example.com")
	for _, mail := range []app.OutboundMail{reset, verify} {
		if err := m.Send(context.Background(), mail); err != nil {
			t.Fatal(err)
		}
	}
	names := mailFiles(t, dir)
	want := []string{
		"20261202T155301.100000000Z-verify_email-" + verify.ID.String() + ".eml",
		"20261202T155301.120000000Z-reset_password-" + reset.ID.String() + ".eml",
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("files in lexical order = %q, want %q", names, want)
	}
}

func TestFileMailerLog(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	dir := t.TempDir()
	m := newFile(t, dir, zap.New(core), mailer.WithFileClock(fixedClock(fileTime)))
	mail := verifyMail("alice@example.com")
	if err := m.Send(context.Background(), mail); err != nil {
		t.Fatal(err)
	}

	entries := logs.AllUntimed()
	if len(entries) != 1 {
		t.Fatalf("got %d log lines, want 1", len(entries))
	}
	e := entries[0]
	if e.Level != zapcore.InfoLevel || e.Message != "mail written to file (not delivered; development only)" {
		t.Errorf("log line %v %q", e.Level, e.Message)
	}
	fields := e.ContextMap()
	path := filepath.Join(dir, "20261202T155301.123456789Z-verify_email-"+mail.ID.String()+".eml")
	if fields["mail_id"] != mail.ID.String() || fields["kind"] != "verify_email" || fields["to"] != mail.To || fields["path"] != path {
		t.Errorf("fields = %v, want path %s", fields, path)
	}
	all := e.LoggerName + e.Message + fmt.Sprint(fields)
	for _, bad := range []string{testToken, "http", "token="} {
		if strings.Contains(all, bad) {
			t.Errorf("log line contains %q: %s", bad, all)
		}
	}
}

func TestFileMailerRejectsWhatSMTPRejects(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	dir := t.TempDir()
	m := newFile(t, dir, zap.New(core))

	err := m.Send(context.Background(), app.OutboundMail{ID: uuid.New(), Kind: "no_such_kind", To: "a@example.com"})
	if !errors.Is(err, outbox.ErrPermanent) || !errors.Is(err, mailer.ErrUnknownKind) {
		t.Errorf("unknown kind: err = %v, want ErrPermanent and ErrUnknownKind", err)
	}
	err = m.Send(context.Background(), app.OutboundMail{ID: uuid.New(), Kind: app.MailVerifyEmail, To: "a@example.com"})
	if !errors.Is(err, outbox.ErrPermanent) || !errors.Is(err, mailer.ErrMissingLink) {
		t.Errorf("missing link: err = %v, want ErrPermanent and ErrMissingLink", err)
	}
	for _, to := range []string{"", "not an address", "a@example.com\r\nBcc: b@example.com"} {
		if err := m.Send(context.Background(), verifyMail(to)); err == nil {
			t.Errorf("no error for recipient %q", to)
		} else if strings.Contains(err.Error(), testToken) {
			t.Errorf("error contains the token: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Send(ctx, verifyMail("a@example.com")); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: err = %v", err)
	}

	if names := mailFiles(t, dir); len(names) != 0 {
		t.Errorf("files written: %q", names)
	}
	if logs.Len() != 0 {
		t.Errorf("logged %d lines", logs.Len())
	}
}

func TestFileMailerConcurrentSends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Every Send gets the same time: the mail id keeps the names apart.
	m := newFile(t, dir, nil, mailer.WithFileClock(fixedClock(fileTime)))
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- m.Send(context.Background(), verifyMail(fmt.Sprintf("user%d@example.com", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	names := mailFiles(t, dir)
	if len(names) != n {
		t.Fatalf("got %d files, want %d: %q", len(names), n, names)
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "20261202T155301.123456789Z-verify_email-") || !strings.HasSuffix(name, ".eml") {
			t.Errorf("file %q", name)
		}
	}
}

func TestNewFileErrors(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, from string
	}{
		{"dir under a regular file", filepath.Join(notDir, "mail"), from},
		{"dir is a regular file", notDir, from},
		{"empty dir", "", from},
		{"bad from", filepath.Join(base, "a"), "not an address"},
		{"from with line break", filepath.Join(base, "b"), "a@example.com\r\nBcc: b@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mailer.NewFile(tt.dir, tt.from, nil)
			if err == nil || m != nil {
				t.Fatalf("NewFile = %v, %v; want an error", m, err)
			}
		})
	}
}

func TestNewFileKeepsExistingDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.eml")
	if err := os.WriteFile(old, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newFile(t, dir, nil)
	if err := m.Send(context.Background(), verifyMail("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if names := mailFiles(t, dir); len(names) != 2 {
		t.Errorf("files = %q", names)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("dir mode changed: %v, %v", fi.Mode(), err)
	}
}

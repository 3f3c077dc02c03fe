package mailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/google/uuid"
	"github.com/wneessen/go-mail"
	"go.uber.org/zap"
)

// FileTimeLayout is the time at the start of a mail file's name, in UTC.
// Its width is fixed (nanoseconds are zero-padded), so the lexical order of
// the names is the order of the times.
const FileTimeLayout = "20060102T150405.000000000Z"

// FileExt is the extension of the mail files.
const FileExt = ".eml"

// File is a mailer for development only: mail is NOT delivered. Each Send
// renders the mail with the same Renderer and builds the same message as
// SMTP, and writes it as one RFC 5322 file (CRLF line endings, bodies in
// quoted-printable as go-mail encodes them) to a directory, where a mail
// client opens it. Files are named
//
//	<UTC time in FileTimeLayout>-<kind>-<mail id>.eml
//
// e.g. 20261202T155301.123456789Z-verify_email-<mail id>.eml, so that ls
// lists them in the order they were written. Each file is written to a
// temporary file in the same directory and renamed into place, so a reader
// never sees a partial mail.
//
// Mail files hold the links, and with them one-time tokens: the directory is
// created with mode 0700 and every file with mode 0600. The log line of each
// Send names the file but never holds the body or a link. File is safe for
// concurrent use.
type File struct {
	dir      string
	composer composer
	renderer *Renderer
	logger   *zap.Logger
	now      func() time.Time
}

var _ outbox.Mailer = (*File)(nil)

// FileOption configures a File mailer.
type FileOption func(*File)

// WithFileClock makes the mailer take the time for the file names and the
// Date header from now instead of time.Now. A nil now is ignored.
func WithFileClock(now func() time.Time) FileOption {
	return func(f *File) {
		if now != nil {
			f.now = now
		}
	}
}

// WithFileRenderer uses r instead of a Renderer of the embedded templates
// (NewNamedRenderer, for another product name). A nil r is ignored.
func WithFileRenderer(r *Renderer) FileOption {
	return func(f *File) {
		if r != nil {
			f.renderer = r
		}
	}
}

// NewFile returns a File mailer writing to dir as from (an RFC 5322 address
// such as "Gatehouse <no-reply@example.com>") and logging to logger (a
// no-op logger when nil). It creates dir and its missing parents with mode
// 0700; an existing directory is used as it is. It returns an error when
// from is invalid or dir cannot be created.
func NewFile(dir string, from string, logger *zap.Logger, opts ...FileOption) (*File, error) {
	if dir == "" {
		return nil, errors.New("mailer: mail directory is empty")
	}
	c, err := newComposer(from)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mailer: mail directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("mailer: create mail directory: %w", err)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	// 8bit bodies: the links in a mail file can be read and copied as
	// they are (quoted-printable would break them at "=" and line ends).
	c.encoding = mail.NoEncoding
	f := &File{dir: abs, composer: c, logger: logger.Named("mailer"), now: time.Now}
	for _, o := range opts {
		o(f)
	}
	if f.renderer, err = rendererOrDefault(f.renderer); err != nil {
		return nil, err
	}
	return f, nil
}

// Dir is the absolute path of the directory the mail files are written to.
func (f *File) Dir() string { return f.dir }

// Send renders m and writes it to a new file in the directory. A mail the
// SMTP mailer could not render (an unknown kind or a missing link) is an
// error wrapping outbox.ErrPermanent, and no file is written. Errors never hold
// the body or the links.
func (f *File) Send(ctx context.Context, m app.OutboundMail) error {
	now := f.now()
	msg, err := f.composer.compose(f.renderer, m, now)
	if err != nil {
		return err
	}
	path := filepath.Join(f.dir, fileName(now, m))
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mailer: write %s to file: %w", m.Kind, err)
	}
	if err := writeFile(path, msg); err != nil {
		return fmt.Errorf("mailer: write %s to file: %w", m.Kind, err)
	}
	f.logger.Info("mail written to file (not delivered; development only)",
		zap.Stringer("mail_id", m.ID),
		zap.String("kind", string(m.Kind)),
		zap.String("to", m.To),
		zap.String("path", path),
	)
	return nil
}

// writeFile writes msg to a temporary file (mode 0600) beside path, and
// renames it into place; on failure nothing is left behind.
func writeFile(path string, msg io.WriterTo) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod states it whatever the platform.
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := msg.WriteTo(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// fileName is <UTC time>-<kind>-<mail id>.eml. The kind is one Render
// accepted, so it is safe in a file name. A mail without an id gets a random
// one, so that two such mails never share a name.
func fileName(t time.Time, m app.OutboundMail) string {
	id := m.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	return t.UTC().Format(FileTimeLayout) + "-" + string(m.Kind) + "-" + id.String() + FileExt
}

// crlf ends every line of s in CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

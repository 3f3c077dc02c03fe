package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	gwire "github.com/gatehouse-auth/gatehouse/wire"
)

// transferRecord is one line of an import or export file (JSON lines).
type transferRecord struct {
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	PasswordHash  string     `json:"password_hash"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
}

// importBatch is how many lines one transaction of an import stores.
const importBatch = 1000

// maxImportLine bounds one line of an import file, in bytes.
const maxImportLine = 64 << 10

// importSummary is what an import did, as --json prints it.
type importSummary struct {
	Created  int             `json:"created"`
	Skipped  int             `json:"skipped"`
	Failed   int             `json:"failed"`
	Failures []importFailure `json:"failures"`
}

type importFailure struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// importUsers reads path's JSON lines and imports them importBatch at a
// time, each batch one transaction: a rerun after an interruption skips
// the addresses the earlier run stored. Progress goes to stderr (a bar on
// a terminal, a count per batch otherwise), the summary to stdout, and
// each failure by line; any failure makes the command fail after the
// whole file was read.
func importUsers(ctx context.Context, op *gwire.Operator, path string, asJSON bool, p procIO) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	total, err := countLines(f)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	prog := newProgress(p.stderr, total)
	var (
		res   admin.ImportResult
		batch []admin.ImportRecord
		line  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		r, err := op.Users.Import(ctx, admin.CLI(), batch)
		if err != nil {
			return fmt.Errorf("lines %d to %d: %w (the lines before were stored: run the import again to go on)", batch[0].Line, batch[len(batch)-1].Line, err)
		}
		res.Add(r)
		batch = batch[:0]
		prog.show(line)
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxImportLine)
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		rec, err := decodeTransferRecord(raw)
		if err != nil {
			res.Failures = append(res.Failures, admin.ImportFailure{Line: line, Err: err})
			continue
		}
		batch = append(batch, admin.ImportRecord{Line: line, Email: rec.Email, EmailVerified: rec.EmailVerified, PasswordHash: rec.PasswordHash, CreatedAt: derefTime(rec.CreatedAt)})
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	prog.done(line)
	return reportImport(res, asJSON, p)
}

// reportImport prints the summary and the failures, and fails when any
// line did.
func reportImport(res admin.ImportResult, asJSON bool, p procIO) error {
	slices.SortFunc(res.Failures, func(a, b admin.ImportFailure) int { return a.Line - b.Line })
	sum := importSummary{Created: res.Created, Skipped: res.Skipped, Failed: len(res.Failures), Failures: []importFailure{}}
	for _, f := range res.Failures {
		sum.Failures = append(sum.Failures, importFailure{Line: f.Line, Error: failureText(f.Err)})
	}
	if asJSON {
		if err := writeJSON(p.stdout, sum); err != nil {
			return err
		}
	} else {
		for _, f := range sum.Failures {
			fmt.Fprintf(p.stderr, "line %d: %s\n", f.Line, f.Error)
		}
		fmt.Fprintf(p.stdout, "created: %d\nskipped: %d (address already taken)\nfailed: %d\n", sum.Created, sum.Skipped, sum.Failed)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("users import: %d line(s) failed (listed above); fix them and run the import again: stored users are skipped", sum.Failed)
	}
	return nil
}

// failureText is why a line failed, in the words the admin API uses.
func failureText(err error) string {
	var de *domain.Error
	if errors.As(err, &de) && len(de.Fields) > 0 {
		parts := make([]string, 0, len(de.Fields))
		for _, f := range de.Fields {
			parts = append(parts, f.Field+": "+f.Message)
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

// decodeTransferRecord reads one line: a JSON object of transferRecord's
// fields (others are ignored, so that richer exports import as they are).
func decodeTransferRecord(raw []byte) (transferRecord, error) {
	var rec transferRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return rec, fmt.Errorf("%s: must be a JSON %s", te.Field, te.Type.Kind())
		}
		return rec, errors.New("not a JSON object: " + err.Error())
	}
	return rec, nil
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// countLines counts the lines of r (a last line without a newline too).
func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 64<<10)
	n, last := 0, byte('\n')
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if k > 0 {
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// progress shows how far an import is: a bar redrawn in place on a
// terminal, a line per batch otherwise.
type progress struct {
	w     io.Writer
	total int
	tty   bool
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, tty: isTerminal(w)}
}

// progressWidth is the bar's width in characters.
const progressWidth = 30

func (p *progress) show(line int) {
	if !p.tty {
		fmt.Fprintf(p.w, "%d/%d lines\n", line, p.total)
		return
	}
	filled := progressWidth
	if p.total > 0 {
		filled = min(progressWidth, line*progressWidth/p.total)
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d lines", strings.Repeat("#", filled), strings.Repeat(".", progressWidth-filled), line, p.total)
}

// done ends the bar's line.
func (p *progress) done(line int) {
	if p.tty {
		p.show(line)
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// exportUsers writes every user to path as JSON lines, the import's
// format, with the stored hashes; the file is made for its owner only,
// and must not exist yet.
func exportUsers(ctx context.Context, op *gwire.Operator, path string, p procIO) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	n, err := op.Users.Export(ctx, admin.CLI(), func(r admin.ExportRecord) error {
		created := r.CreatedAt.UTC()
		return enc.Encode(transferRecord{Email: r.Email, EmailVerified: r.EmailVerified, PasswordHash: r.PasswordHash, CreatedAt: &created})
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, os.Remove(path))
	}
	_, err = fmt.Fprintf(p.stdout, "exported: %d users to %s\n", n, path)
	return err
}

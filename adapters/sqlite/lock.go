package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ErrInUse is matched (errors.Is) by the error LockForServe returns when
// another process serves the same database file.
var ErrInUse = errors.New("embedded mode is one process; to run several instances use PostgreSQL (GATEHOUSE_DATABASE_URL=postgres://...)")

// errLockUnsupported is what tryLock returns where file locks are not
// implemented.
var errLockUnsupported = errors.New("file locks are not supported on this platform")

// ServeLock is the exclusive lock a serving process holds on a database
// file (see LockForServe).
type ServeLock struct {
	path string
	f    *os.File
	once sync.Once
	err  error
}

// LockForServe takes, without waiting, an exclusive lock (flock) on
// <path>.lock, next to the database file, and writes the process id into
// it. Only serve takes it: Open, the migrations and Backup do not, so that
// `migrate status` and `backup` work while a server runs. A second serve
// on the same file fails at once with an error that matches ErrInUse and
// names the holder's pid. The lock goes with the process (the kernel drops
// it when the process ends, however it ends) or with Release; the lock
// file itself stays.
//
// The lock file is found from the database path with symbolic links
// resolved, so two spellings of one file share one lock.
func LockForServe(path string) (*ServeLock, error) {
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create directory of %s: %w", abs, err)
	}
	lockPath := abs + ".lock"
	f, err := tryLock(lockPath)
	switch {
	case errors.Is(err, errLocked):
		holder := ""
		if b, err := os.ReadFile(lockPath); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		return nil, fmt.Errorf("sqlite: %s is already served by another gatehouse process%s: %w", abs, holder, ErrInUse)
	case err != nil:
		return nil, fmt.Errorf("sqlite: lock %s: %w", lockPath, err)
	}
	// The pid is for the message above and for operators; failing to
	// write it does not weaken the lock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &ServeLock{path: lockPath, f: f}, nil
}

// Path is the lock file's path.
func (l *ServeLock) Path() string { return l.path }

// Release gives the lock up. It is idempotent.
func (l *ServeLock) Release() error {
	l.once.Do(func() {
		_ = l.f.Truncate(0)
		// Closing the only descriptor of the open file drops the flock.
		if err := l.f.Close(); err != nil {
			l.err = fmt.Errorf("sqlite: release %s: %w", l.path, err)
		}
	})
	return l.err
}

// errLocked is what tryLock returns when another open file holds the lock.
var errLocked = errors.New("locked")

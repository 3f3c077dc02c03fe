//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "os"

// tryLock is not implemented here: LockForServe fails, and migrations run
// without the cross-process lock (each migration is still one SQLite
// transaction).
func tryLock(string) (*os.File, error) { return nil, errLockUnsupported }

package postgres

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// refusalError is PostgreSQL refusing a connection for good, with what to
// do about it. It wraps the driver's error.
type refusalError struct {
	msg string
	err error
}

func (e *refusalError) Error() string { return e.msg }
func (e *refusalError) Unwrap() error { return e.err }

// dbRefusal turns err into an error that says what to do when it is the
// server at dbURL refusing the connection in a way waiting will not cure:
// no such database (3D000), a wrong password (28P01), no such role or no
// pg_hba.conf entry (28000). Otherwise (nil, a server still starting, one
// that is down) it returns nil and the caller may retry.
func dbRefusal(dbURL string, err error) error {
	code, serverMsg, ok := ConnectRefusal(err)
	if !ok {
		return nil
	}
	// The driver's own reading of the URL (with its defaults and the PG*
	// variables), so the names are those of the attempt that failed.
	host, port, user, db := "localhost", uint16(5432), "", ""
	if cfg, perr := pgconn.ParseConfig(dbURL); perr == nil {
		host, port, user, db = cfg.Host, cfg.Port, cfg.User, cfg.Database
	}
	at := host + ":" + strconv.Itoa(int(port))
	conn := fmt.Sprintf("-h %s -p %d", shellWord(host), port)
	var msg string
	switch code {
	case "3D000":
		msg = fmt.Sprintf("PostgreSQL at %s has no database %q (SQLSTATE 3D000). Create it, for example with\n\tcreatedb %s -U %s %s\n"+
			"or point GATEHOUSE_DATABASE_URL at an existing database", at, db, conn, shellWord(user), shellWord(db))
	case "28P01":
		msg = fmt.Sprintf("PostgreSQL at %s refused the password of user %q (SQLSTATE 28P01: %s). "+
			"Check the user and password in GATEHOUSE_DATABASE_URL (percent-encode special characters in the password)", at, user, serverMsg)
	default: // 28000
		msg = fmt.Sprintf("PostgreSQL at %s refused user %q for database %q (SQLSTATE 28000: %s). "+
			"Create the role, for example with\n\tcreateuser %s -U postgres --login --pwprompt %s\n"+
			"or allow the connection in the server's pg_hba.conf, or fix the user in GATEHOUSE_DATABASE_URL",
			at, user, db, serverMsg, conn, shellWord(user))
	}
	return &refusalError{msg: msg, err: err}
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=-]+$`)

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// orRefusal is dbRefusal's error for err when err is a refusal, else err.
func orRefusal(dbURL string, err error) error {
	if refusal := dbRefusal(dbURL, err); refusal != nil {
		return refusal
	}
	return err
}

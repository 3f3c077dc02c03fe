package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestDBRefusalSaysWhatToDo(t *testing.T) {
	t.Parallel()
	const dbURL = "postgres://app:s3cret@db.internal:6432/gh_prod?sslmode=disable"
	wrap := func(code, msg string) error {
		return fmt.Errorf("postgres: migrate up: failed to initialize: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: msg})
	}
	for _, c := range []struct {
		err  error
		want []string // nil: not a refusal, retry
	}{
		{wrap("3D000", `database "gh_prod" does not exist`), []string{`no database "gh_prod"`, "3D000", "createdb -h db.internal -p 6432 -U app gh_prod"}},
		{wrap("28P01", `password authentication failed for user "app"`), []string{`refused the password of user "app"`, "28P01", "GATEHOUSE_DATABASE_URL"}},
		{wrap("28000", `role "app" does not exist`), []string{`refused user "app"`, "28000", `role "app" does not exist`, "createuser -h db.internal -p 6432 -U postgres --login --pwprompt app", "pg_hba.conf"}},
		{wrap("57P03", "the database system is starting up"), nil},
		{wrap("53300", "sorry, too many clients already"), nil},
		{errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), nil},
		{nil, nil},
	} {
		got := dbRefusal(dbURL, c.err)
		if c.want == nil {
			if got != nil {
				t.Errorf("%v: a refusal (%v), want a retry", c.err, got)
			}
			continue
		}
		if got == nil {
			t.Errorf("%v: not a refusal", c.err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("%v:\n%s\ndoes not say %q", c.err, got, w)
			}
		}
		if strings.Contains(got.Error(), "s3cret") {
			t.Errorf("the hint leaks the password: %s", got)
		}
		var pgErr *pgconn.PgError
		if !errors.As(got, &pgErr) {
			t.Errorf("the hint does not wrap the driver's error")
		}
	}
	if w := shellWord("it's"); w != `'it'\''s'` {
		t.Errorf("shellWord = %s", w)
	}
}

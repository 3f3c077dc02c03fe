package postgres

import (
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
)

// UserRepository stores users in the users table (sqlstore.Users): email
// in normalized form, ByIDForChange with a row lock (FOR UPDATE) held until
// the transaction ends, a list by email prefix as a range in byte order on
// users_email_prefix (email COLLATE "C"), literal (no wildcards) and indexed
// whatever the database's collation.
type UserRepository struct{ sqlstore.Users }

var _ app.UserRepository = (*UserRepository)(nil)

// NewUserRepository returns a UserRepository on db.
func NewUserRepository(db DBTX) *UserRepository {
	return &UserRepository{sqlstore.Users{DB: conn{db}, Dialect: dialect}}
}

// storableText reports whether PostgreSQL can hold s as text (valid UTF-8
// without NUL). A prefix it cannot hold starts no stored text.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// prefixEnd is the least string above every string that starts with p, in
// byte order (which for UTF-8 is code point order): p without its trailing
// U+10FFFF runes, with its last rune incremented. So under COLLATE "C",
// s >= p AND s < end holds exactly when s starts with p. ok is false when
// there is no such string (p is empty or all U+10FFFF): then s >= p alone
// is the prefix test. p must be valid UTF-8.
func prefixEnd(p string) (end string, ok bool) {
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] < utf8.MaxRune {
			next := rs[i] + 1
			if next >= 0xD800 && next <= 0xDFFF { // surrogates are not text
				next = 0xE000
			}
			return string(rs[:i]) + string(next), true
		}
	}
	return "", false
}

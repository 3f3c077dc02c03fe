package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func init() {
	register("Users/ListNewestFirstPaged", testUserListPaged)
	register("Users/ListPrefixIsLiteral", testUserListPrefixLiteral)
	register("Users/UpdateEmailAndLastLogin", testUserUpdateEmailAndLastLogin)
	register("Users/DeleteRemovesWhatIsStoredForTheUser", testUserDelete)
	register("Users/DeleteAndCreateInOneTransaction", testUserDeleteAndCreateInTx)
}

// listPrefix is an address prefix no other case's users have.
func listPrefix() string { return "l" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] }

// createUserAt stores a user with address email, created (and updated) at
// created.
func createUserAt(t *testing.T, s Store, email user.Email, created time.Time) *user.User {
	t.Helper()
	u := mustGet(user.New(uuid.New(), email, passwordHash, created))(t)
	must(t, s.Repos.Users.Create(testCtx(t), u))
	return u
}

func mustEmail(t *testing.T, raw string) user.Email {
	t.Helper()
	e, err := user.ParseEmail(raw)
	mustf(t, err, "ParseEmail(%q)", raw)
	return e
}

// newestFirst sorts users in list order: created_at, then id (as bytes,
// which is how both stores order uuids), both descending.
func newestFirst(us []*user.User) []*user.User {
	out := slices.Clone(us)
	slices.SortFunc(out, func(a, b *user.User) int {
		bid, aid := b.ID(), a.ID()
		return cmp.Or(b.CreatedAt().Compare(a.CreatedAt()), bytes.Compare(bid[:], aid[:]))
	})
	return out
}

func userIDs(us []*user.User) []uuid.UUID {
	ids := make([]uuid.UUID, len(us))
	for i, u := range us {
		ids[i] = u.ID()
	}
	return ids
}

func listUsers(t *testing.T, s Store, q app.UserQuery) []*user.User {
	t.Helper()
	got, err := s.Repos.Users.List(testCtx(t), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	if len(got) > q.Limit {
		t.Fatalf("List(limit %d) returned %d users", q.Limit, len(got))
	}
	return got
}

// pages lists every user matching q, page by page of limit users, each
// page after the last user of the one before, at most max users.
func pages(t *testing.T, s Store, q app.UserQuery, limit, max int) (all []*user.User, sizes []int) {
	t.Helper()
	q.Limit = limit
	for len(all) < max {
		page := listUsers(t, s, q)
		sizes = append(sizes, len(page))
		all = append(all, page...)
		if len(page) < limit {
			break
		}
		last := page[len(page)-1]
		q.Before = &app.UserCursor{CreatedAt: last.CreatedAt(), ID: last.ID()}
	}
	return all, sizes
}

// Users come newest first by (created_at, id); pages follow each other
// without gap or overlap, also where a page ends inside a run of users
// created at the same time (ordered by id).
func testUserListPaged(t *testing.T, s Store) {
	ctx := testCtx(t)
	prefix := listPrefix()
	// Far in the future, on a random day of a century, so that without a
	// prefix filter these users are the newest of the store below the
	// cursor (even in a database a run of the suite used before).
	base := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).
		Add(time.Duration(rand.IntN(36500)) * 24 * time.Hour).
		Add(time.Duration(rand.IntN(1e6)) * time.Microsecond)
	var made []*user.User
	for i, off := range []time.Duration{2, 1, 1, 1, 0, 0, -1} { // seconds
		e := mustEmail(t, fmt.Sprintf("%s-%d@example.com", prefix, i))
		made = append(made, createUserAt(t, s, e, base.Add(off*time.Second)))
	}
	want := newestFirst(made)

	// With the prefix: pages of 3, 3 and 1, the first page boundary inside
	// the three users created at base+1s.
	got, sizes := pages(t, s, app.UserQuery{EmailPrefix: prefix}, 3, 100)
	if !slices.Equal(userIDs(got), userIDs(want)) {
		t.Fatalf("paged list by prefix:\n got %v\nwant %v", userIDs(got), userIDs(want))
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("page sizes %v, want [3 3 1]", sizes)
	}
	for i := range got {
		must(t, diffUser(got[i], want[i]))
	}
	// Every limit gives the same order.
	for _, limit := range []int{1, 2, 7, 8} {
		if got, _ := pages(t, s, app.UserQuery{EmailPrefix: prefix}, limit, 100); !slices.Equal(userIDs(got), userIDs(want)) {
			t.Fatalf("paged by %d:\n got %v\nwant %v", limit, userIDs(got), userIDs(want))
		}
	}
	// After the last one: nothing.
	last := want[len(want)-1]
	if rest := listUsers(t, s, app.UserQuery{EmailPrefix: prefix, Limit: 10, Before: &app.UserCursor{CreatedAt: last.CreatedAt(), ID: last.ID()}}); len(rest) != 0 {
		t.Fatalf("after the last user: %v", userIDs(rest))
	}
	// The cursor is exclusive: strictly after (created_at, id).
	mid := want[2]
	if after := listUsers(t, s, app.UserQuery{EmailPrefix: prefix, Limit: 10, Before: &app.UserCursor{CreatedAt: mid.CreatedAt(), ID: mid.ID()}}); !slices.Equal(userIDs(after), userIDs(want[3:])) {
		t.Fatalf("after user 2:\n got %v\nwant %v", userIDs(after), userIDs(want[3:]))
	}

	// Without a filter, from a cursor just above them: these users first,
	// in the same order, then older users of other cases.
	top := &app.UserCursor{CreatedAt: base.Add(time.Hour), ID: uuid.Max}
	got, _ = pages(t, s, app.UserQuery{Before: top}, 3, len(want)+3)
	if len(got) < len(want) || !slices.Equal(userIDs(got[:len(want)]), userIDs(want)) {
		t.Fatalf("paged list without filter:\n got %v\nwant first %v", userIDs(got), userIDs(want))
	}
	for i := 1; i < len(got); i++ {
		if newestFirst([]*user.User{got[i-1], got[i]})[0] != got[i-1] {
			t.Fatalf("unfiltered list out of order at %d", i)
		}
	}
	// Limit is respected without a filter too, and a limit below 1 gives
	// nothing.
	if one := listUsers(t, s, app.UserQuery{Before: top, Limit: 1}); !slices.Equal(userIDs(one), userIDs(want[:1])) {
		t.Fatalf("limit 1 from the top: %v, want %v", userIDs(one), userIDs(want[:1]))
	}
	if none, err := s.Repos.Users.List(ctx, app.UserQuery{EmailPrefix: prefix}); err != nil || len(none) != 0 {
		t.Fatalf("limit 0: %d users, %v", len(none), err)
	}
	// Inside a transaction as well.
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Users.List(ctx, app.UserQuery{EmailPrefix: prefix, Limit: 10})
		if err == nil && !slices.Equal(userIDs(got), userIDs(want)) {
			err = fmt.Errorf("list in a transaction: %v, want %v", userIDs(got), userIDs(want))
		}
		return err
	})
}

// The prefix is literal: '%', '_' and '\' are characters, not wildcards
// or escapes, and an address that contains the prefix later does not
// start with it.
func testUserListPrefixLiteral(t *testing.T, s Store) {
	p := listPrefix()
	t0 := now()
	mk := func(i int, email user.Email) *user.User {
		t.Helper()
		return createUserAt(t, s, email, t0.Add(time.Duration(i)*time.Second))
	}
	pct := mk(0, mustEmail(t, p+"_x%1@example.com"))
	anyOne := mk(1, mustEmail(t, p+"ax%1@example.com"))     // "_" as a wildcard would match
	anyMany := mk(2, mustEmail(t, p+"_xyz1@example.com"))   // "%" as a wildcard would match
	inside := mk(3, mustEmail(t, "q"+p+"_x%1@example.com")) // the prefix, later
	acute := mk(4, mustEmail(t, p+"é1@example.com"))
	circ := mk(5, mustEmail(t, p+"ê1@example.com"))
	// No address ParseEmail accepts has a backslash; the store holds one
	// all the same (the column's check is on the normalized form only).
	back := mustGet(user.New(uuid.New(), user.RehydrateEmail(p+`\x1@example.com`), passwordHash, t0.Add(6*time.Second)))(t)
	must(t, s.Repos.Users.Create(testCtx(t), back))
	backOther := mk(7, mustEmail(t, p+"zx1@example.com")) // `\z` read as an escaped "z" would match

	for _, c := range []struct {
		prefix string
		want   []*user.User
	}{
		{p, []*user.User{pct, anyOne, anyMany, acute, circ, back, backOther}},
		{p + "_", []*user.User{pct, anyMany}},
		{p + "_x%", []*user.User{pct}},
		{p + "_x%1@example.com", []*user.User{pct}},
		{p + "%", nil},
		{p + "_%", nil},
		{p + "é", []*user.User{acute}},
		{p + "ê", []*user.User{circ}},
		{p + `\`, []*user.User{back}},
		{p + `\z`, nil},
		{p + "z", []*user.User{backOther}},
		{"q" + p, []*user.User{inside}},
		{p + "_x%1@example.com-and-more", nil},
	} {
		got := listUsers(t, s, app.UserQuery{EmailPrefix: c.prefix, Limit: 50})
		if want := newestFirst(c.want); !slices.Equal(userIDs(got), userIDs(want)) {
			t.Errorf("prefix %q:\n got %v\nwant %v", c.prefix, emails(got), emails(want))
		}
	}
	// The limit applies after the filter, newest first.
	if got := listUsers(t, s, app.UserQuery{EmailPrefix: p, Limit: 2}); !slices.Equal(userIDs(got), []uuid.UUID{backOther.ID(), back.ID()}) {
		t.Errorf("prefix with limit 2: %v, want the two newest", emails(got))
	}
}

func emails(us []*user.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Email().String()
	}
	return out
}

// Update saves a new address (the old one is free again) and the last
// login time; an address another user holds gives ErrEmailTaken and
// changes nothing.
func testUserUpdateEmailAndLastLogin(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Users
	u, other := createUser(t, s), createUser(t, s)
	if got, err := repo.ByID(ctx, u.ID()); err != nil || got.LastLoginAt() != nil {
		t.Fatalf("new user: last login %v, %v", got, err)
	}
	old := u.Email()
	at := now().Add(time.Minute)
	must(t, u.ChangeEmail(randomEmail(t), at))
	u.LoggedIn(at.Add(time.Second))
	must(t, repo.Update(ctx, u))
	got, err := repo.ByEmail(ctx, u.Email())
	must(t, err)
	assertUser(t, got, u)
	if got.LastLoginAt() == nil || !got.LastLoginAt().Equal(at.Add(time.Second)) || !got.Verified() {
		t.Fatalf("last login %s, verified %v", fmtTimePtr(got.LastLoginAt()), got.Verified())
	}
	wantErr(t, errOf(repo.ByEmail(ctx, old)), user.ErrNotFound, "ByEmail(old address)")

	// Another user's address: refused, pool-bound and in a transaction.
	taken := *u
	must(t, taken.ChangeEmail(other.Email(), at.Add(time.Minute)))
	wantErr(t, repo.Update(ctx, &taken), user.ErrEmailTaken, "Update to a taken address")
	err = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		fresh, err := r.Users.ByIDForChange(ctx, u.ID())
		if err != nil {
			return err
		}
		if err := fresh.ChangeEmail(other.Email(), at.Add(time.Minute)); err != nil {
			return err
		}
		return r.Users.Update(ctx, fresh)
	})
	wantErr(t, err, user.ErrEmailTaken, "Update to a taken address in a transaction")
	for _, want := range []*user.User{u, other} {
		got := mustGet(repo.ByID(ctx, want.ID()))(t)
		assertUser(t, got, want)
	}

	// The old address is free; the next login moves the last login time.
	createUserAt(t, s, old, now())
	u.LoggedIn(at.Add(time.Hour))
	must(t, repo.Update(ctx, u))
	if got, err := repo.ByID(ctx, u.ID()); err != nil {
		t.Fatal(err)
	} else {
		assertUser(t, got, u)
	}
}

// userData is what a case stores for one user to see Delete remove it.
type userData struct {
	u        *user.User
	sessions []*session.Session
	refresh  []token.Hash
	tokens   []*token.OneTimeToken
	mail     []uuid.UUID
	audit    int
}

func storeUserData(t *testing.T, s Store) userData {
	t.Helper()
	ctx := testCtx(t)
	d := userData{u: createUser(t, s)}
	t0 := now()
	for i := range 2 {
		sess := createSession(t, s, d.u.ID(), t0.Add(time.Duration(i)*time.Second))
		d.sessions = append(d.sessions, sess)
		for j := range 2 {
			rt := app.RefreshToken{Hash: randomHash(t), SessionID: sess.ID(), CreatedAt: t0}
			if j == 0 {
				used := t0.Add(time.Second)
				rt.UsedAt = &used
			}
			must(t, s.Repos.Sessions.AddRefreshToken(ctx, rt))
			d.refresh = append(d.refresh, rt.Hash)
		}
	}
	revoked := createSession(t, s, d.u.ID(), t0)
	revoked.Revoke(t0.Add(time.Second))
	must(t, s.Repos.Sessions.Update(ctx, revoked))
	d.sessions = append(d.sessions, revoked)

	change := mustGet(token.IssueForEmailChange(randomHash(t), d.u.ID(), randomEmail(t).String(), t0, time.Hour))(t)
	reg := mustGet(token.IssueForRegistration(randomHash(t), d.u.ID(), "$argon2id$reg", t0, time.Hour))(t)
	d.tokens = []*token.OneTimeToken{issueToken(t, d.u.ID(), token.PurposeResetPassword, t0), reg, change}
	for _, tok := range d.tokens {
		addToken(t, s, tok)
	}

	pending, sent := newMail(d.u.ID()), newMail(d.u.ID())
	pending.To, sent.To = d.u.Email().String(), d.u.Email().String()
	enqueue(t, s, pending, t0)
	enqueue(t, s, sent, t0)
	must(t, s.Repos.Outbox.MarkSent(ctx, sent.ID, t0.Add(time.Second)))
	d.mail = []uuid.UUID{pending.ID, sent.ID}

	for _, typ := range []audit.Type{audit.Registered, audit.LoginSucceeded} {
		e := audit.Event{Type: typ, UserID: d.u.ID(), IP: "192.0.2.1", At: t0}
		must(t, s.Repos.Audit.Append(ctx, e))
	}
	d.audit = 2
	return d
}

// count runs a count query through Store.Count.
func count(t *testing.T, s Store, sql string, args ...any) int {
	t.Helper()
	n, err := s.Count(testCtx(t), sql, args...)
	mustf(t, err, "Count(%s)", sql)
	return n
}

// checkUserData reports whether what storeUserData stored for d is all
// there (present) or all gone, and that the audit trail is whole either way.
func checkUserData(t *testing.T, s Store, d userData, present bool) {
	t.Helper()
	ctx := testCtx(t)
	has := func(what string, err error, notFound error) {
		t.Helper()
		switch {
		case present && err != nil:
			t.Errorf("%s of user %s: %v, want it stored", what, d.u.ID(), err)
		case !present && !errors.Is(err, notFound):
			t.Errorf("%s of user %s: %v, want %v", what, d.u.ID(), err, notFound)
		}
	}
	_, err := s.Repos.Users.ByID(ctx, d.u.ID())
	has("user", err, user.ErrNotFound)
	for _, sess := range d.sessions {
		_, err := s.Repos.Sessions.ByID(ctx, sess.ID())
		has("session", err, session.ErrNotFound)
	}
	for _, h := range d.refresh {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			_, err := r.Sessions.RefreshTokenForChange(ctx, h)
			return err
		})
		has("refresh token", err, session.ErrNotFound)
	}
	for _, tok := range d.tokens {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			_, err := r.Tokens.ByHashForChange(ctx, tok.Hash())
			return err
		})
		has("token "+string(tok.Purpose()), err, domain.ErrInvalidToken)
	}
	want := 0
	if present {
		want = 1
	}
	for _, id := range d.mail {
		if n := count(t, s, `SELECT count(*) FROM mail_outbox WHERE CAST(id AS TEXT) = $1`, id.String()); n != want {
			t.Errorf("outbox message %s of user %s: %d rows, want %d", id, d.u.ID(), n, want)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM mail_outbox WHERE CAST(user_id AS TEXT) = $1`, d.u.ID().String()); n != want*len(d.mail) {
		t.Errorf("outbox of user %s: %d rows, want %d", d.u.ID(), n, want*len(d.mail))
	}
	if n := len(recordsOf(t, s, d.u.ID())); n != d.audit {
		t.Errorf("audit records of user %s: %d, want %d (the trail is never touched)", d.u.ID(), n, d.audit)
	}
}

// Delete removes the user with their sessions, refresh tokens, one-time
// tokens and mail (pending or sent), and nothing of anyone else; the audit
// trail stays whole and verifies; the address is free again.
func testUserDelete(t *testing.T, s Store) {
	ctx := testCtx(t)
	gone, kept, goneInTx := storeUserData(t, s), storeUserData(t, s), storeUserData(t, s)
	// A password-reset request for the address carries no user id: it is
	// no mail to the user (yet) and stays.
	request := app.OutboundMail{ID: uuid.New(), Kind: app.ResetRequest, To: gone.u.Email().String(), Data: map[string]string{}}
	enqueue(t, s, request, now())
	checkUserData(t, s, gone, true)

	must(t, s.Repos.Users.Delete(ctx, gone.u.ID()))
	checkUserData(t, s, gone, false)
	checkUserData(t, s, kept, true)
	checkUserData(t, s, goneInTx, true)
	if n := count(t, s, `SELECT count(*) FROM mail_outbox WHERE CAST(id AS TEXT) = $1`, request.ID.String()); n != 1 {
		t.Errorf("the reset request without user id: %d rows, want 1", n)
	}

	// Twice, or an id never stored: not found, pool-bound and in a
	// transaction.
	for _, id := range []uuid.UUID{gone.u.ID(), uuid.New()} {
		if err := s.Repos.Users.Delete(ctx, id); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("Delete(%s): %v, want ErrNotFound", id, err)
		}
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.Users.Delete(ctx, id) })
		if !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("Delete(%s) in a transaction: %v, want ErrNotFound", id, err)
		}
	}

	// In a transaction: rolled back, nothing is gone; committed, all is.
	boom := errors.New("boom")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Users.Delete(ctx, goneInTx.u.ID()); err != nil {
			return err
		}
		if _, err := r.Users.ByID(ctx, goneInTx.u.ID()); !errors.Is(err, user.ErrNotFound) {
			return fmt.Errorf("deleted user still visible in its transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	checkUserData(t, s, goneInTx, true)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Users.Delete(ctx, goneInTx.u.ID()) })
	checkUserData(t, s, goneInTx, false)
	checkUserData(t, s, kept, true)

	// The address is free again.
	again := createUserAt(t, s, gone.u.Email(), now())
	if got, err := s.Repos.Users.ByEmail(ctx, gone.u.Email()); err != nil || got.ID() != again.ID() {
		t.Fatalf("ByEmail after re-create: %v, %v", got, err)
	}
}

// Deleting a user and making a new one with the address in one
// transaction: the new one holds the address, nothing of the old is left.
func testUserDeleteAndCreateInTx(t *testing.T, s Store) {
	ctx := testCtx(t)
	old := storeUserData(t, s)
	fresh := mustGet(user.New(uuid.New(), old.u.Email(), passwordHash, now()))(t)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		if _, err := r.Users.ByIDForChange(ctx, old.u.ID()); err != nil {
			return err
		}
		if err := r.Users.Delete(ctx, old.u.ID()); err != nil {
			return err
		}
		if err := r.Users.Create(ctx, fresh); err != nil {
			return err
		}
		got, err := r.Users.ByEmail(ctx, fresh.Email())
		if err != nil {
			return err
		}
		return diffUser(got, fresh)
	})
	checkUserData(t, s, old, false)
	got := mustGet(s.Repos.Users.ByEmail(ctx, fresh.Email()))(t)
	assertUser(t, got, fresh)
	if list, err := s.Repos.Sessions.ListActive(ctx, fresh.ID(), now()); err != nil || len(list) != 0 {
		t.Fatalf("sessions of the new user: %d, %v", len(list), err)
	}
}
